// The bt engine's translator (native/src/bt-translator.cc) on byte strings: what each guest
// instruction becomes, decoded back with Capstone, and the map from cache addresses to guest
// addresses it keeps (docs/bt-engine.md, "Translation" and "Precise state").
import { Capstone, Const, loadCapstone } from 'capstone-wasm';
import { beforeAll, describe, expect, it } from 'vitest';
import { nativeCore, type BlockTranslation } from '../../src/vmm/native.js';

const GUEST = 0xc1000000;
const CACHE = 0xffc40000;
const TABLE = 0xffc00000;
// ecx = the lookup entry of the target in eax, flags untouched (bt-translator.h, lookup_slot).
const SLOT = ['lea ecx, [eax + eax*8]', 'bswap ecx', 'lea ecx, [ecx + eax]', 'movzx ecx, cx'];
const RESUME = 0xffc40014;

let capstone: Capstone;
beforeAll(async () => {
  await loadCapstone();
  capstone = new Capstone(Const.CS_ARCH_X86, Const.CS_MODE_32);
});

function translate(bytes: number[]): BlockTranslation {
  return nativeCore().translateBlock(Uint8Array.from(bytes), GUEST, CACHE, TABLE);
}

/** The translation as "mnemonic operands" lines, addresses as Capstone prints them. */
function listing(t: BlockTranslation): string[] {
  return capstone.disasm(t.code, { address: CACHE }).map((i) => (i.opStr ? `${i.mnemonic} ${i.opStr}` : i.mnemonic));
}

const hex = (n: number) => `0x${n.toString(16)}`;

describe('the bt translator', () => {
  it('copies innocuous instructions, CLI, STI and POPF unchanged, and ends the block with a jump to an exit', () => {
    // mov eax, ebx; add eax, [ecx+4]; cli; sti; popfd; (end of the bytes)
    const t = translate([0x89, 0xd8, 0x03, 0x41, 0x04, 0xfa, 0xfb, 0x9d]);
    const lines = listing(t);
    expect(lines.slice(0, 5)).toEqual(['mov eax, ebx', 'add eax, dword ptr [ecx + 4]', 'cli', 'sti', 'popfd']);
    // The bytes end there: the block ends, and its fall-through goes to an exit stub (UD2).
    expect(lines[5]).toMatch(/^jmp 0x/);
    expect(lines[6]).toBe('ud2');
    expect(t.callouts).toEqual([{ tc: CACHE + 13, kind: 'exit', guest: GUEST + 8 }]);
    expect(t.guestEnd).toBe(GUEST + 8);
    // Every guest instruction starts at a precise point.
    expect(t.boundaries.filter((b) => b.precise).map((b) => b.guest)).toEqual([GUEST, GUEST + 2, GUEST + 5, GUEST + 6, GUEST + 7, GUEST + 8, GUEST + 8]);
  });

  it('makes CALL push the guest return address, never a cache address', () => {
    const t = translate([0xe8, 0x10, 0x00, 0x00, 0x00]); // call +0x10
    const lines = listing(t);
    expect(lines[0]).toBe(`push ${hex(GUEST + 5)}`);
    expect(lines[1]).toMatch(/^jmp /);
    expect(t.callouts[0]).toMatchObject({ kind: 'exit', guest: GUEST + 5 + 0x10 });
  });

  it('rewrites Jcc into two direct jumps, each to an exit for its guest target', () => {
    const t = translate([0x75, 0x20]); // jne +0x20
    const lines = listing(t);
    expect(lines[0]).toMatch(/^jne /);
    expect(lines[1]).toMatch(/^jmp /);
    expect(t.callouts.map((c) => c.guest)).toEqual([GUEST + 2 + 0x20, GUEST + 2]);
  });

  it('sends RET through the lookup with the guest return address as the key', () => {
    const t = translate([0xc3]);
    expect(listing(t)).toEqual(['xchg dword ptr [esp], eax', 'push ecx', ...SLOT, `jmp dword ptr [ecx*4 - ${hex(2 ** 32 - TABLE)}]`]);
    // Only the first instruction is a point where the guest's state is its own.
    expect(t.boundaries.map((b) => b.precise)).toEqual([true, false, false, false]);
  });

  it('keeps ESP right for RET n', () => {
    const t = translate([0xc2, 0x08, 0x00]); // ret 8
    expect(listing(t)).toEqual([
      'xchg dword ptr [esp], eax',
      'lea esp, [esp + 0xc]',
      'push dword ptr [esp - 0xc]',
      'push ecx',
      ...SLOT,
      `jmp dword ptr [ecx*4 - ${hex(2 ** 32 - TABLE)}]`,
    ]);
  });

  it('evaluates an indirect CALL\'s operand with PUSH r/m and pushes the guest return address', () => {
    const t = translate([0xff, 0x53, 0x04]); // call [ebx+4]
    expect(listing(t)).toEqual([
      'push dword ptr [ebx + 4]',
      'xchg dword ptr [esp], eax',
      'push dword ptr [esp]',
      `mov dword ptr [esp + 4], ${hex(GUEST + 3)}`,
      'push ecx',
      ...SLOT,
      `jmp dword ptr [ecx*4 - ${hex(2 ** 32 - TABLE)}]`,
    ]);
  });

  it('sends an indirect JMP (a jump table) through the lookup', () => {
    const t = translate([0xff, 0x24, 0x85, 0x00, 0x10, 0x00, 0xc1]); // jmp [eax*4 + 0xc1001000]
    expect(Array.from(t.code.subarray(0, 7))).toEqual([0xff, 0x34, 0x85, 0x00, 0x10, 0x00, 0xc1]); // push [eax*4 + 0xc1001000]
    expect(listing(t).slice(1)).toEqual(['xchg dword ptr [esp], eax', 'push ecx', ...SLOT, `jmp dword ptr [ecx*4 - ${hex(2 ** 32 - TABLE)}]`]);
  });

  it('fixes PUSHF\'s image in the cache: the real IOPL (1) taken out, flags untouched', () => {
    const t = translate([0x9c]);
    expect(listing(t).slice(0, 4)).toEqual(['pushfd', 'xchg dword ptr [esp], eax', 'lea eax, [eax - 0x1000]', 'xchg dword ptr [esp], eax']);
  });

  it('gives PUSH CS and MOV r, SS the guest\'s RPL 0 without a call into the VMM', () => {
    expect(listing(translate([0x0e])).slice(0, 4)).toEqual(['push cs', 'xchg dword ptr [esp], eax', 'lea eax, [eax - 1]', 'xchg dword ptr [esp], eax']);
    expect(listing(translate([0x8c, 0xd1])).slice(0, 2)).toEqual(['mov ecx, ss', 'lea ecx, [ecx - 1]']);
  });

  it.each([
    ['iret', [0xcf]],
    ['sgdt', [0x0f, 0x01, 0x00]],
    ['sidt', [0x0f, 0x01, 0x08]],
    ['smsw', [0x0f, 0x01, 0xe0]],
    ['sldt', [0x0f, 0x00, 0xc0]],
    ['str', [0x0f, 0x00, 0xc8]],
    ['lar', [0x0f, 0x02, 0xc1]],
    ['lsl', [0x0f, 0x03, 0xc1]],
    ['verw', [0x0f, 0x00, 0xe8]],
    ['mov m16, cs', [0x8c, 0x08]],
    ['sysenter', [0x0f, 0x34]],
  ])('turns %s into a call into the VMM at its guest address', (_name, bytes) => {
    const t = translate(bytes);
    expect(listing(t)).toEqual(['ud2']);
    expect(t.callouts).toEqual([{ tc: CACHE, kind: 'emulate', guest: GUEST }]);
  });

  it.each([
    ['mov eax, cr3', [0x0f, 0x20, 0xd8]],
    ['lgdt', [0x0f, 0x01, 0x10]],
    ['invlpg', [0x0f, 0x01, 0x38]],
    ['hlt', [0xf4]],
    ['wrmsr', [0x0f, 0x30]],
  ])('copies %s, which traps at ring 1, and ends the block after it', (_name, bytes) => {
    const t = translate([...bytes, 0x90, 0x90]);
    const lines = listing(t);
    expect(Array.from(t.code.subarray(0, bytes.length))).toEqual(bytes);
    expect(lines[1]).toMatch(/^jmp /);
    expect(t.callouts[0]).toMatchObject({ kind: 'exit', guest: GUEST + bytes.length });
    expect(t.guestEnd).toBe(GUEST + bytes.length);
  });

  it.each([
    ['mov cr3, eax', [0x0f, 0x22, 0xd8]],
    ['mov eax, cr2', [0x0f, 0x20, 0xd0]],
    ['invlpg [eax]', [0x0f, 0x01, 0x38]],
  ])('with a resume slot, precedes %s with a fast call that goes on after it when carried out', (_name, bytes) => {
    const t = nativeCore().translateBlock(Uint8Array.from([...bytes, 0x90]), GUEST, CACHE, TABLE, RESUME);
    const lines = listing(t);
    expect(lines.slice(0, 2)).toEqual(['cpuid', `jmp dword ptr [${hex(RESUME)}]`]);
    // The slow way: the instruction itself, which traps, then the jump to what follows.
    expect(Array.from(t.code.subarray(8, 8 + bytes.length))).toEqual(bytes);
    expect(lines[3]).toMatch(/^jmp /);
    expect(t.callouts[0]).toEqual({ tc: CACHE, kind: 'fast', guest: GUEST, resume: CACHE + 8 + bytes.length });
    // The CPUID and the slow way stand for the instruction; the JMP between them does not.
    expect(t.boundaries.slice(0, 3)).toEqual([
      { tc: CACHE, guest: GUEST, precise: true },
      { tc: CACHE + 2, guest: GUEST, precise: false },
      { tc: CACHE + 8, guest: GUEST, precise: true },
    ]);
  });

  it('with a resume slot, precedes IRET with a fast call whose slow way is its UD2; LGDT and HLT get none', () => {
    const iret = nativeCore().translateBlock(Uint8Array.from([0xcf]), GUEST, CACHE, TABLE, RESUME);
    expect(listing(iret)).toEqual(['cpuid', `jmp dword ptr [${hex(RESUME)}]`, 'ud2']);
    expect(iret.callouts).toEqual([
      { tc: CACHE, kind: 'fast', guest: GUEST, resume: 0 },
      { tc: CACHE + 8, kind: 'emulate', guest: GUEST },
    ]);
    for (const bytes of [[0x0f, 0x01, 0x10], [0xf4]]) {
      const t = nativeCore().translateBlock(Uint8Array.from(bytes), GUEST, CACHE, TABLE, RESUME);
      expect(t.callouts.map((c) => c.kind)).not.toContain('fast');
    }
  });

  it.each([
    ['jmp far 0x60:0xc1000000', [0xea, 0x00, 0x00, 0x00, 0xc1, 0x60, 0x00]],
    ['retf', [0xcb]],
  ])('gives %s a fast call, then the UD2 that installs the block hook, then the copy', (_name, bytes) => {
    const t = nativeCore().translateBlock(Uint8Array.from(bytes), GUEST, CACHE, TABLE, RESUME);
    expect(listing(t).slice(0, 3)).toEqual(['cpuid', `jmp dword ptr [${hex(RESUME)}]`, 'ud2']);
    expect(Array.from(t.code.subarray(10, 10 + bytes.length))).toEqual(bytes);
    expect(t.callouts.slice(0, 2)).toEqual([
      { tc: CACHE, kind: 'fast', guest: GUEST, resume: 0 },
      { tc: CACHE + 8, kind: 'far', guest: GUEST },
    ]);
    // Without fast calls: the UD2 first.
    const slow = translate(bytes);
    expect(listing(slow)[0]).toBe('ud2');
    expect(slow.callouts[0]).toEqual({ tc: CACHE, kind: 'far', guest: GUEST });
  });

  it('stops before an instruction whose bytes run out (the next block starts there)', () => {
    const t = translate([0x90, 0xb8, 0x01, 0x02]); // nop; mov eax, imm32 cut short
    expect(t.guestEnd).toBe(GUEST + 1);
  });
});
