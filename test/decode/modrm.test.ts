import { beforeAll, describe, expect, it } from 'vitest';
import { Decoder } from '../../src/decode/decoder.js';
import { decodeInstruction, effectiveAddress, type DecodedX86, type MemoryOperand, type Reg32 } from '../../src/decode/modrm.js';

const bytes = (hex: string) => Uint8Array.from(Buffer.from(hex.replace(/\s+/g, ''), 'hex'));

function mem(addressSize: 16 | 32, fields: Partial<MemoryOperand>): MemoryOperand {
  const defaultSegment = fields.defaultSegment ?? 'ds';
  return { kind: 'memory', addressSize, scale: 1, disp: 0, defaultSegment, segment: defaultSegment, ...fields };
}
const reg = (n: number) => ({ kind: 'register' as const, reg: n });

interface Row {
  bits: 16 | 32;
  hex: string;
  asm: string;
  length: number;
  expect?: Partial<DecodedX86>;
}

// Each row is also checked against Capstone's length.
const ROWS: Row[] = [
  // One-byte forms, 32-bit code.
  { bits: 32, hex: 'fa', asm: 'cli', length: 1, expect: { opcode: [0xfa] } },
  { bits: 32, hex: 'fb', asm: 'sti', length: 1 },
  { bits: 32, hex: 'f4', asm: 'hlt', length: 1 },
  { bits: 32, hex: 'e4 60', asm: 'in al, 0x60', length: 2, expect: { immediate: 0x60 } },
  { bits: 32, hex: 'e5 71', asm: 'in eax, 0x71', length: 2, expect: { immediate: 0x71 } },
  { bits: 32, hex: 'e6 80', asm: 'out 0x80, al', length: 2, expect: { immediate: 0x80 } },
  { bits: 32, hex: 'e7 ff', asm: 'out 0xff, eax', length: 2, expect: { immediate: 0xff } },
  { bits: 32, hex: 'ec', asm: 'in al, dx', length: 1 },
  { bits: 32, hex: '66 ed', asm: 'in ax, dx', length: 2, expect: { prefixes: { operandSize: 16, addressSize: 32, lock: false, count: 1 } } },
  { bits: 32, hex: 'ee', asm: 'out dx, al', length: 1 },
  { bits: 32, hex: 'ef', asm: 'out dx, eax', length: 1 },
  { bits: 32, hex: '6c', asm: 'insb', length: 1 },
  { bits: 32, hex: 'f3 6d', asm: 'rep insd', length: 2, expect: { prefixes: { operandSize: 32, addressSize: 32, rep: 'rep', lock: false, count: 1 } } },
  { bits: 32, hex: 'f3 26 6e', asm: 'rep outsb es:[esi]', length: 3, expect: { prefixes: { operandSize: 32, addressSize: 32, rep: 'rep', segment: 'es', lock: false, count: 2 } } },
  { bits: 32, hex: 'f2 66 6f', asm: 'repne outsw', length: 3, expect: { prefixes: { operandSize: 16, addressSize: 32, rep: 'repne', lock: false, count: 2 } } },
  { bits: 32, hex: '9c', asm: 'pushfd', length: 1 },
  { bits: 32, hex: '9d', asm: 'popfd', length: 1 },
  { bits: 32, hex: '66 9d', asm: 'popf', length: 2 },
  { bits: 32, hex: 'cf', asm: 'iretd', length: 1 },
  { bits: 32, hex: 'cd 80', asm: 'int 0x80', length: 2, expect: { immediate: 0x80 } },
  { bits: 32, hex: 'cc', asm: 'int3', length: 1 },
  { bits: 32, hex: 'ce', asm: 'into', length: 1 },
  { bits: 32, hex: '8c c8', asm: 'mov eax, cs', length: 2, expect: { modrm: { mod: 3, reg: 1, rm: 0 }, operand: reg(0) } },
  { bits: 32, hex: '8c 15 78 56 34 12', asm: 'mov [0x12345678], ss', length: 6, expect: { modrm: { mod: 0, reg: 2, rm: 5 }, operand: mem(32, { disp: 0x12345678 }) } },
  { bits: 32, hex: '8e d0', asm: 'mov ss, eax', length: 2, expect: { modrm: { mod: 3, reg: 2, rm: 0 }, operand: reg(0) } },
  { bits: 32, hex: '8e 5c 24 08', asm: 'mov ds, [esp+8]', length: 4, expect: { operand: mem(32, { base: 'esp', disp: 8, defaultSegment: 'ss' }) } },
  { bits: 32, hex: '0e', asm: 'push cs', length: 1 },
  { bits: 32, hex: '16', asm: 'push ss', length: 1 },
  { bits: 32, hex: '17', asm: 'pop ss', length: 1 },
  { bits: 32, hex: 'ea 78 56 34 12 10 00', asm: 'jmp 0x10:0x12345678', length: 7, expect: { farPointer: { selector: 0x10, offset: 0x12345678 } } },
  { bits: 32, hex: '66 ea 34 12 08 00', asm: 'jmp 0x8:0x1234 (ptr16:16)', length: 6, expect: { farPointer: { selector: 8, offset: 0x1234 } } },
  { bits: 32, hex: '9a 00 00 10 00 1b 00', asm: 'call 0x1b:0x100000', length: 7, expect: { farPointer: { selector: 0x1b, offset: 0x100000 } } },
  { bits: 32, hex: 'ff 2d 00 10 00 00', asm: 'jmp far [0x1000]', length: 6, expect: { modrm: { mod: 0, reg: 5, rm: 5 }, operand: mem(32, { disp: 0x1000 }) } },
  { bits: 32, hex: 'ff 5d 08', asm: 'call far [ebp+8]', length: 3, expect: { operand: mem(32, { base: 'ebp', disp: 8, defaultSegment: 'ss' }) } },
  { bits: 32, hex: 'ff 6c 24 fc', asm: 'jmp far [esp-4]', length: 4, expect: { operand: mem(32, { base: 'esp', disp: -4, defaultSegment: 'ss' }) } },
  { bits: 32, hex: 'ca 08 00', asm: 'retf 8', length: 3, expect: { immediate: 8 } },
  { bits: 32, hex: 'cb', asm: 'retf', length: 1 },
  // Two-byte forms, 32-bit code.
  { bits: 32, hex: '0f 20 c0', asm: 'mov eax, cr0', length: 3, expect: { opcode: [0x0f, 0x20], modrm: { mod: 3, reg: 0, rm: 0 }, operand: reg(0) } },
  { bits: 32, hex: '0f 22 d8', asm: 'mov cr3, eax', length: 3, expect: { opcode: [0x0f, 0x22], modrm: { mod: 3, reg: 3, rm: 0 }, operand: reg(0) } },
  { bits: 32, hex: '0f 20 e3', asm: 'mov ebx, cr4', length: 3, expect: { modrm: { mod: 3, reg: 4, rm: 3 }, operand: reg(3) } },
  // mod is ignored for MOV CR/DR: [disp32] would otherwise follow.
  { bits: 32, hex: '0f 22 05', asm: 'mov cr0, ebp (mod 0)', length: 3, expect: { modrm: { mod: 0, reg: 0, rm: 5 }, operand: reg(5) } },
  { bits: 32, hex: '0f 21 f8', asm: 'mov eax, dr7', length: 3, expect: { modrm: { mod: 3, reg: 7, rm: 0 } } },
  { bits: 32, hex: '0f 23 c1', asm: 'mov dr0, ecx', length: 3, expect: { operand: reg(1) } },
  { bits: 32, hex: '0f 00 c8', asm: 'str eax', length: 3, expect: { modrm: { mod: 3, reg: 1, rm: 0 }, operand: reg(0) } },
  { bits: 32, hex: '0f 00 05 00 30 00 00', asm: 'sldt [0x3000]', length: 7, expect: { operand: mem(32, { disp: 0x3000 }) } },
  { bits: 32, hex: '0f 00 d0', asm: 'lldt ax', length: 3, expect: { modrm: { mod: 3, reg: 2, rm: 0 } } },
  { bits: 32, hex: '0f 00 18', asm: 'ltr [eax]', length: 3, expect: { operand: mem(32, { base: 'eax' }) } },
  { bits: 32, hex: '0f 00 20', asm: 'verr [eax]', length: 3, expect: { modrm: { mod: 0, reg: 4, rm: 0 } } },
  { bits: 32, hex: '0f 00 e9', asm: 'verw cx', length: 3, expect: { modrm: { mod: 3, reg: 5, rm: 1 } } },
  { bits: 32, hex: '0f 01 50 04', asm: 'lgdt [eax+4]', length: 4, expect: { modrm: { mod: 1, reg: 2, rm: 0 }, operand: mem(32, { base: 'eax', disp: 4 }) } },
  { bits: 32, hex: '0f 01 3b', asm: 'invlpg [ebx]', length: 3, expect: { modrm: { mod: 0, reg: 7, rm: 3 }, operand: mem(32, { base: 'ebx' }) } },
  { bits: 32, hex: '0f 01 0d 00 20 00 00', asm: 'sidt [0x2000]', length: 7, expect: { operand: mem(32, { disp: 0x2000 }) } },
  { bits: 32, hex: '0f 01 1c 8d 00 10 00 00', asm: 'lidt [ecx*4+0x1000]', length: 8, expect: { operand: mem(32, { index: 'ecx', scale: 4, disp: 0x1000 }) } },
  { bits: 32, hex: '0f 01 44 98 10', asm: 'sgdt [eax+ebx*4+0x10]', length: 5, expect: { operand: mem(32, { base: 'eax', index: 'ebx', scale: 4, disp: 0x10 }) } },
  { bits: 32, hex: '0f 01 84 b5 00 01 00 00', asm: 'sgdt [ebp+esi*4+0x100]', length: 8, expect: { operand: mem(32, { base: 'ebp', index: 'esi', scale: 4, disp: 0x100, defaultSegment: 'ss' }) } },
  { bits: 32, hex: '0f 01 14 2d 00 00 01 00', asm: 'lgdt [ebp*1+0x10000] (no base)', length: 8, expect: { operand: mem(32, { index: 'ebp', disp: 0x10000 }) } },
  { bits: 32, hex: '0f 01 14 24', asm: 'lgdt [esp]', length: 4, expect: { operand: mem(32, { base: 'esp', defaultSegment: 'ss' }) } },
  { bits: 32, hex: '0f 01 55 f8', asm: 'lgdt [ebp-8]', length: 4, expect: { operand: mem(32, { base: 'ebp', disp: -8, defaultSegment: 'ss' }) } },
  { bits: 32, hex: '0f 01 b8 00 00 00 80', asm: 'invlpg [eax-0x80000000]', length: 7, expect: { operand: mem(32, { base: 'eax', disp: -0x80000000 }) } },
  { bits: 32, hex: '0f 01 e0', asm: 'smsw eax', length: 3, expect: { modrm: { mod: 3, reg: 4, rm: 0 }, operand: reg(0) } },
  { bits: 32, hex: '0f 01 f3', asm: 'lmsw bx', length: 3, expect: { modrm: { mod: 3, reg: 6, rm: 3 } } },
  { bits: 32, hex: '0f 02 c1', asm: 'lar eax, ecx', length: 3, expect: { modrm: { mod: 3, reg: 0, rm: 1 } } },
  { bits: 32, hex: '0f 03 06', asm: 'lsl eax, [esi]', length: 3, expect: { operand: mem(32, { base: 'esi' }) } },
  ...['06', '08', '09', '30', '31', '32', '33', '34', '35', 'a2'].map((op): Row => ({ bits: 32, hex: `0f ${op}`, asm: `0f ${op}`, length: 2 })),
  // Prefixes.
  { bits: 32, hex: '2e 0f 01 38', asm: 'invlpg cs:[eax]', length: 4, expect: { operand: mem(32, { base: 'eax', segment: 'cs' }) } },
  { bits: 32, hex: '64 0f 01 10', asm: 'lgdt fs:[eax]', length: 4, expect: { operand: mem(32, { base: 'eax', segment: 'fs' }) } },
  { bits: 32, hex: '3e 0f 01 55 00', asm: 'lgdt ds:[ebp]', length: 5, expect: { operand: mem(32, { base: 'ebp', defaultSegment: 'ss', segment: 'ds' }) } },
  { bits: 32, hex: '67 0f 01 17', asm: 'lgdt [bx] (addr16)', length: 4, expect: { operand: mem(16, { base: 'ebx' }) } },
  { bits: 32, hex: '66 67 36 0f 01 16 34 12', asm: 'o16 lgdt ss:[0x1234] (addr16)', length: 8, expect: { prefixes: { operandSize: 16, addressSize: 16, segment: 'ss', lock: false, count: 3 }, operand: mem(16, { disp: 0x1234, segment: 'ss' }) } },
  // 16-bit code.
  { bits: 16, hex: '8e d0', asm: 'mov ss, ax', length: 2, expect: { prefixes: { operandSize: 16, addressSize: 16, lock: false, count: 0 }, modrm: { mod: 3, reg: 2, rm: 0 }, operand: reg(0) } },
  { bits: 16, hex: '26 8e 06 00 10', asm: 'mov es, es:[0x1000]', length: 5, expect: { operand: mem(16, { disp: 0x1000, segment: 'es' }) } },
  { bits: 16, hex: '0f 01 16 34 12', asm: 'lgdt [0x1234]', length: 5, expect: { operand: mem(16, { disp: 0x1234 }) } },
  { bits: 16, hex: '0f 01 92 00 81', asm: 'lgdt [bp+si-0x7f00]', length: 5, expect: { operand: mem(16, { base: 'ebp', index: 'esi', disp: -0x7f00, defaultSegment: 'ss' }) } },
  { bits: 16, hex: '0f 01 92 00 01', asm: 'lgdt [bp+si+0x100]', length: 5, expect: { operand: mem(16, { base: 'ebp', index: 'esi', disp: 0x100, defaultSegment: 'ss' }) } },
  { bits: 16, hex: '0f 01 38', asm: 'invlpg [bx+si]', length: 3, expect: { operand: mem(16, { base: 'ebx', index: 'esi' }) } },
  { bits: 16, hex: '0f 01 39', asm: 'invlpg [bx+di]', length: 3, expect: { operand: mem(16, { base: 'ebx', index: 'edi' }) } },
  { bits: 16, hex: '0f 01 7e fe', asm: 'invlpg [bp-2]', length: 4, expect: { operand: mem(16, { base: 'ebp', disp: -2, defaultSegment: 'ss' }) } },
  { bits: 16, hex: '0f 01 5b 80', asm: 'lidt [bp+di-0x80]', length: 4, expect: { operand: mem(16, { base: 'ebp', index: 'edi', disp: -0x80, defaultSegment: 'ss' }) } },
  { bits: 16, hex: '0f 01 1c', asm: 'lidt [si]', length: 3, expect: { operand: mem(16, { index: 'esi' }) } },
  { bits: 16, hex: '0f 01 1f', asm: 'lidt [bx]', length: 3, expect: { operand: mem(16, { base: 'ebx' }) } },
  { bits: 16, hex: '66 0f 01 50 04', asm: 'o32 lgdt [bx+si+4]', length: 5, expect: { prefixes: { operandSize: 32, addressSize: 16, lock: false, count: 1 }, operand: mem(16, { base: 'ebx', index: 'esi', disp: 4 }) } },
  { bits: 16, hex: '67 0f 01 50 04', asm: 'lgdt [eax+4] (addr32)', length: 5, expect: { operand: mem(32, { base: 'eax', disp: 4 }) } },
  { bits: 16, hex: '67 0f 01 15 00 00 01 00', asm: 'lgdt [0x10000] (addr32)', length: 8, expect: { operand: mem(32, { disp: 0x10000 }) } },
  { bits: 16, hex: '36 ff 2f', asm: 'jmp far ss:[bx]', length: 3, expect: { operand: mem(16, { base: 'ebx', segment: 'ss' }) } },
  { bits: 16, hex: 'ff 1e 00 7c', asm: 'call far [0x7c00]', length: 4, expect: { operand: mem(16, { disp: 0x7c00 }) } },
  { bits: 16, hex: 'ea 00 7c 00 00', asm: 'jmp 0:0x7c00', length: 5, expect: { farPointer: { selector: 0, offset: 0x7c00 } } },
  { bits: 16, hex: '66 ea 78 56 34 12 08 00', asm: 'jmp 0x8:0x12345678 (ptr16:32)', length: 8, expect: { farPointer: { selector: 8, offset: 0x12345678 } } },
  { bits: 16, hex: '0f 20 c0', asm: 'mov eax, cr0', length: 3, expect: { operand: reg(0) } },
  { bits: 16, hex: '0f 22 06', asm: 'mov cr0, esi (mod 0, rm 6)', length: 3, expect: { operand: reg(6) } },
  { bits: 16, hex: 'cd 10', asm: 'int 0x10', length: 2, expect: { immediate: 0x10 } },
  { bits: 16, hex: '66 ca 04 00', asm: 'retfd 4', length: 4, expect: { immediate: 4 } },
  { bits: 16, hex: '66 cf', asm: 'iretd', length: 2 },
  { bits: 16, hex: 'f3 6c', asm: 'rep insb', length: 2 },
  { bits: 16, hex: '0f 00 d8', asm: 'ltr ax', length: 3 },
];

describe('decodeInstruction', () => {
  for (const row of ROWS) {
    it(`${row.bits}-bit ${row.hex}: ${row.asm}`, () => {
      const d = decodeInstruction(bytes(row.hex), row.bits);
      expect(d).toBeDefined();
      expect(d!.length).toBe(row.length);
      if (row.expect) expect(d).toMatchObject(row.expect);
      if (row.expect?.operand) expect(d!.operand).toEqual(row.expect.operand);
      expect(d!.memory).toBe(d!.operand?.kind === 'memory' ? d!.operand : undefined);
    });
  }

  it('ignores bytes after the instruction', () => {
    expect(decodeInstruction(bytes('0f 01 50 04 90 90 90'), 32)?.length).toBe(4);
  });

  it('records LOCK, and lets the last segment override and REP prefix win', () => {
    const d = decodeInstruction(bytes('f0 26 f2 64 f3 0f 01 38'), 32)!;
    expect(d.prefixes).toEqual({ operandSize: 32, addressSize: 32, segment: 'fs', rep: 'rep', lock: true, count: 5 });
    expect(d.operand).toEqual(mem(32, { base: 'eax', segment: 'fs' }));
    expect(d.length).toBe(8);
  });

  it('does not toggle the size back on a repeated 66 or 67', () => {
    expect(decodeInstruction(bytes('66 66 67 67 ed'), 32)?.prefixes).toMatchObject({ operandSize: 16, addressSize: 16 });
  });

  it('enforces the 15-byte limit', () => {
    expect(decodeInstruction(bytes('26'.repeat(14) + 'fa'), 32)?.length).toBe(15);
    expect(decodeInstruction(bytes('26'.repeat(15) + 'fa'), 32)).toBeUndefined();
    expect(decodeInstruction(bytes('26'.repeat(12) + '0f 01 50 04'), 32)).toBeUndefined();
  });

  it.each([
    ['90', 'NOP is not a form it decodes'],
    ['0f 0b', 'UD2'],
    ['8e c8', 'MOV CS, r/m is #UD'],
    ['8c f0', 'Sreg 6 does not exist'],
    ['8e f8', 'Sreg 7 does not exist'],
    ['ff d8', 'far CALL needs a memory operand'],
    ['ff 00', 'FF /0 is INC'],
    ['0f 00 f0', '0F 00 /6'],
    ['0f 01 c8', 'MONITOR, not SIDT'],
    ['0f 01 d0', 'XGETBV, not LGDT'],
    ['0f 01 f8', 'SWAPGS, not INVLPG'],
    ['0f 01 28', '0F 01 /5'],
  ])('returns undefined for %s (%s)', (hex) => {
    expect(decodeInstruction(bytes(hex), 32)).toBeUndefined();
  });

  it.each(['', '66', '0f', '0f 01', '0f 01 50', '0f 01 15 00 00', '0f 01 04', 'ea 00 7c', 'ca 08', 'cd'])(
    'returns undefined for the truncated %j',
    (hex) => {
      expect(decodeInstruction(bytes(hex), 32)).toBeUndefined();
    },
  );

  describe('lengths agree with Capstone', () => {
    let decoder: Decoder;
    beforeAll(async () => {
      decoder = await Decoder.create();
    });
    it.each(ROWS.map((row) => [row.bits, row.hex, row.asm, row.length] as const))('%i-bit %s (%s)', (bits, hex, _asm, length) => {
      const input = bytes(hex);
      expect(decoder.decode(bits, 0, input).size).toBe(length);
      expect(decodeInstruction(input, bits)?.length).toBe(length);
    });
  });
});

describe('effectiveAddress', () => {
  const values: Record<Reg32, number> = {
    eax: 0x1000, ecx: 0x20, edx: 0xdead0000, ebx: 0x12345678, esp: 0x7ffc, ebp: 0xfffffff0, esi: 0x8004, edi: 0x1_0002,
  };
  const regs = (name: Reg32) => values[name];
  const ea = (bits: 16 | 32, hex: string) => {
    const d = decodeInstruction(bytes(hex), bits);
    if (d?.memory === undefined) throw new Error(`${hex} has no memory operand`);
    return effectiveAddress(d.memory, regs);
  };

  it.each([
    [32, '0f 01 50 04', 0x1004, 'lgdt [eax+4]'],
    [32, '0f 01 3b', 0x12345678, 'invlpg [ebx]'],
    [32, '0f 01 0d 00 20 00 00', 0x2000, 'sidt [0x2000]'],
    [32, '0f 01 1c 8d 00 10 00 00', 0x1080, 'lidt [ecx*4+0x1000]'],
    [32, '0f 01 44 88 10', 0x1090, 'sgdt [eax+ecx*4+0x10]'],
    [32, '0f 01 84 c8 f0 ff ff ff', 0x10f0, 'sgdt [eax+ecx*8-0x10]'],
    [32, '0f 01 55 20', 0x10, 'lgdt [ebp+0x20] wraps at 4 GiB'],
    [32, '0f 01 14 24', 0x7ffc, 'lgdt [esp]'],
    [32, '0f 01 14 2d 00 00 01 00', 0xfff0, 'lgdt [ebp*1+0x10000] (index, no base) wraps at 4 GiB'],
    [16, '0f 01 92 00 01', 0x8104 + 0xfff0 - 0x10000, 'lgdt [bp+si+0x100] uses BP and SI, wrapped to 16 bits'],
    [16, '0f 01 38', (0x5678 + 0x8004) & 0xffff, 'invlpg [bx+si]'],
    [16, '0f 01 7d 10', 0x12, 'invlpg [di+0x10] uses the low 16 bits of EDI'],
    [16, '0f 01 7e fe', 0xffee, 'invlpg [bp-2]'],
    [16, '0f 01 3e 00 80', 0x8000, 'invlpg [0x8000]'],
    [16, '0f 01 7f 80', 0x55f8, 'invlpg [bx-0x80]'],
    [16, '67 0f 01 50 04', 0x1004, 'addr32 lgdt [eax+4]'],
    [32, '67 0f 01 3c', 0x8004, 'addr16 invlpg [si]'],
  ] as [16 | 32, string, number, string][])('%i-bit %s = %i (%s)', (bits, hex, expected) => {
    expect(ea(bits, hex)).toBe(expected);
  });
});
