import { describe, expect, it } from 'vitest';
import type { GuestRegisters } from '../../src/debug/debug-target.js';
import {
  encodeRegisterFile,
  I386_REGISTERS,
  readRegisterHex,
  REGISTER_FILE_BYTES,
  splitRegisterFile,
  TARGET_XML,
} from '../../src/debug/i386-target.js';

/** A register file where every register holds something recognisable. */
function sampleRegisters(): GuestRegisters {
  const st = new Uint8Array(80);
  const xmm = new Uint8Array(128);
  for (let i = 0; i < st.length; i++) st[i] = 0x80 + i;
  for (let i = 0; i < xmm.length; i++) xmm[i] = i;
  return {
    eax: 0x11111111, ecx: 0x22222222, edx: 0x33333333, ebx: 0x44444444,
    esp: 0x00007ff0, ebp: 0x00007ff8, esi: 0x01020304, edi: 0xfffffffe,
    eip: 0x00101000, eflags: 0x00000246,
    cs: 0x08, ss: 0x10, ds: 0x18, es: 0x20, fs: 0x28, gs: 0x30,
    st,
    fctrl: 0x037f, fstat: 0x3800, ftag: 0xffff, fiseg: 0x08, fioff: 0x1234, foseg: 0x10, fooff: 0x5678, fop: 0x01d9,
    xmm,
    mxcsr: 0x1f80,
    cr0: 0x80000011, cr2: 0xdeadb000, cr3: 0x00400000, cr4: 0x00000010,
    gdtrBase: 0x00090000, gdtrLimit: 0x27, idtrBase: 0x00091000, idtrLimit: 0x7ff,
    ldtr: 0x38, tr: 0x40,
  };
}

/** GDB's gdb/features/i386/32bit-core.xml and 32bit-sse.xml, then the system registers: name,
 *  bitsize, type, group. Written out here so that a change to the layout fails a test. */
const EXPECTED: readonly [string, number, string, string?][] = [
  ['eax', 32, 'int32'], ['ecx', 32, 'int32'], ['edx', 32, 'int32'], ['ebx', 32, 'int32'],
  ['esp', 32, 'data_ptr'], ['ebp', 32, 'data_ptr'], ['esi', 32, 'int32'], ['edi', 32, 'int32'],
  ['eip', 32, 'code_ptr'], ['eflags', 32, 'i386_eflags'],
  ['cs', 32, 'int32'], ['ss', 32, 'int32'], ['ds', 32, 'int32'], ['es', 32, 'int32'], ['fs', 32, 'int32'], ['gs', 32, 'int32'],
  ['st0', 80, 'i387_ext'], ['st1', 80, 'i387_ext'], ['st2', 80, 'i387_ext'], ['st3', 80, 'i387_ext'],
  ['st4', 80, 'i387_ext'], ['st5', 80, 'i387_ext'], ['st6', 80, 'i387_ext'], ['st7', 80, 'i387_ext'],
  ['fctrl', 32, 'int', 'float'], ['fstat', 32, 'int', 'float'], ['ftag', 32, 'int', 'float'], ['fiseg', 32, 'int', 'float'],
  ['fioff', 32, 'int', 'float'], ['foseg', 32, 'int', 'float'], ['fooff', 32, 'int', 'float'], ['fop', 32, 'int', 'float'],
  ['xmm0', 128, 'vec128'], ['xmm1', 128, 'vec128'], ['xmm2', 128, 'vec128'], ['xmm3', 128, 'vec128'],
  ['xmm4', 128, 'vec128'], ['xmm5', 128, 'vec128'], ['xmm6', 128, 'vec128'], ['xmm7', 128, 'vec128'],
  ['mxcsr', 32, 'i386_mxcsr', 'vector'],
  ['cr0', 32, 'int32', 'system'], ['cr2', 32, 'data_ptr', 'system'], ['cr3', 32, 'int32', 'system'], ['cr4', 32, 'int32', 'system'],
  ['gdtr_base', 32, 'data_ptr', 'system'], ['gdtr_limit', 32, 'int32', 'system'],
  ['idtr_base', 32, 'data_ptr', 'system'], ['idtr_limit', 32, 'int32', 'system'],
  ['ldtr', 32, 'int32', 'system'], ['tr', 32, 'int32', 'system'],
];

/** The `reg` elements of the description, per feature, in document order. */
function describedRegisters(): { feature: string; name: string; bitsize: number; type: string; group?: string; regnum?: number }[] {
  const found = [];
  for (const feature of TARGET_XML.matchAll(/<feature name="([^"]+)">([\s\S]*?)<\/feature>/g)) {
    for (const reg of feature[2].matchAll(/<reg ([^>]*)\/>/g)) {
      const attributes = Object.fromEntries([...reg[1].matchAll(/(\w+)="([^"]*)"/g)].map((m) => [m[1], m[2]]));
      found.push({
        feature: feature[1],
        name: attributes.name,
        bitsize: Number(attributes.bitsize),
        type: attributes.type,
        ...(attributes.group ? { group: attributes.group } : {}),
        ...(attributes.regnum ? { regnum: Number(attributes.regnum) } : {}),
      });
    }
  }
  return found;
}

describe('i386 register layout', () => {
  it('numbers the registers in GDB order: 16 core, 8 x87 stack, 8 x87 control, 8 XMM, MXCSR, then system', () => {
    expect(I386_REGISTERS.map((r) => [r.name, r.bitSize, r.type, r.group])).toEqual(
      EXPECTED.map(([name, bits, type, group]) => [name, bits, type, group]),
    );
    expect(I386_REGISTERS.map((r) => r.number)).toEqual(EXPECTED.map((_, i) => i));
    expect(I386_REGISTERS.find((r) => r.name === 'xmm0')?.number).toBe(32);
    expect(I386_REGISTERS.find((r) => r.name === 'mxcsr')?.number).toBe(40);
    expect(I386_REGISTERS.find((r) => r.name === 'cr0')?.number).toBe(41);
    expect(I386_REGISTERS.find((r) => r.name === 'tr')?.number).toBe(50);
  });

  it('lets only the general and segment registers be written', () => {
    expect(I386_REGISTERS.filter((r) => r.writable).map((r) => r.writable)).toEqual([
      'eax', 'ecx', 'edx', 'ebx', 'esp', 'ebp', 'esi', 'edi', 'eip', 'eflags', 'cs', 'ss', 'ds', 'es', 'fs', 'gs',
    ]);
  });

  it('puts every register in the g packet at its offset, little-endian', () => {
    const g = encodeRegisterFile(sampleRegisters());
    expect(REGISTER_FILE_BYTES).toBe(16 * 4 + 8 * 10 + 8 * 4 + 8 * 16 + 4 + 10 * 4);
    expect(g.length).toBe(REGISTER_FILE_BYTES * 2);
    const at = (byteOffset: number, bytes: number): string => g.slice(byteOffset * 2, (byteOffset + bytes) * 2);
    expect(at(0, 4)).toBe('11111111');
    expect(at(4 * 6, 4)).toBe('04030201'); // esi
    expect(at(4 * 8, 4)).toBe('00101000'); // eip 0x00101000
    expect(at(4 * 9, 4)).toBe('46020000'); // eflags
    expect(at(4 * 10, 4)).toBe('08000000'); // cs, a 32-bit slot
    expect(at(64, 10)).toBe('80818283848586878889'); // st0
    expect(at(74, 10)).toBe('8a8b8c8d8e8f90919293'); // st1
    expect(at(144, 4)).toBe('7f030000'); // fctrl
    expect(at(172, 4)).toBe('d9010000'); // fop
    expect(at(176, 16)).toBe('000102030405060708090a0b0c0d0e0f'); // xmm0
    expect(at(288, 16)).toBe('707172737475767778797a7b7c7d7e7f'); // xmm7
    expect(at(304, 4)).toBe('801f0000'); // mxcsr
    expect(at(308, 4)).toBe('11000080'); // cr0
    expect(at(324, 4)).toBe('00000900'); // gdtr_base
    expect(at(344, 4)).toBe('40000000'); // tr
  });

  it('reads one register by its number as p does', () => {
    const regs = sampleRegisters();
    expect(readRegisterHex(regs, 8)).toBe('00101000');
    expect(readRegisterHex(regs, 0x10)).toBe('80818283848586878889');
    expect(readRegisterHex(regs, 0x20)).toBe('000102030405060708090a0b0c0d0e0f');
    expect(readRegisterHex(regs, 0x2a)).toBe('00b0adde'); // cr2
    expect(readRegisterHex(regs, 51)).toBeUndefined();
    expect(readRegisterHex(regs, -1)).toBeUndefined();
  });

  it('cuts a G packet into the registers it wholly covers', () => {
    const data = new Uint8Array(4 * 16 + 5);
    const parts = splitRegisterFile(data);
    expect(parts.map((p) => p.register.name)).toEqual(EXPECTED.slice(0, 16).map(([name]) => name));
    expect(splitRegisterFile(new Uint8Array(REGISTER_FILE_BYTES)).length).toBe(51);
  });
});

describe('target.xml', () => {
  it('names the i386 architecture and no OS ABI', () => {
    expect(TARGET_XML.startsWith('<?xml version="1.0"?>\n<!DOCTYPE target SYSTEM "gdb-target.dtd">\n<target version="1.0">\n')).toBe(true);
    expect(TARGET_XML).toContain('<architecture>i386</architecture>');
    expect(TARGET_XML).toContain('<osabi>none</osabi>');
    expect(TARGET_XML.trimEnd().endsWith('</target>')).toBe(true);
  });

  it("describes GDB's core and SSE features register for register, then the system registers", () => {
    const described = describedRegisters();
    expect(described.map(({ name, bitsize, type, group }) => [name, bitsize, type, group])).toEqual(
      EXPECTED.map(([name, bits, type, group]) => [name, bits, type, group]),
    );
    expect(described.slice(0, 32).every((r) => r.feature === 'org.gnu.gdb.i386.core')).toBe(true);
    expect(described.slice(32, 41).every((r) => r.feature === 'org.gnu.gdb.i386.sse')).toBe(true);
    expect(described.slice(41).every((r) => r.feature === 'vmm.i386.sys')).toBe(true);
    // Each feature pins its first number, as 32bit-sse.xml does for xmm0.
    expect(described.filter((r) => r.regnum !== undefined).map((r) => [r.name, r.regnum])).toEqual([
      ['eax', 0],
      ['xmm0', 32],
      ['cr0', 41],
    ]);
  });

  it('defines the flags and vector types the registers use', () => {
    expect(TARGET_XML).toContain('<flags id="i386_eflags" size="4">');
    expect(TARGET_XML).toContain('<field name="ZF" start="6" end="6"/>');
    expect(TARGET_XML).toContain('<field name="ID" start="21" end="21"/>');
    expect(TARGET_XML).toContain('<flags id="i386_mxcsr" size="4">');
    expect(TARGET_XML).toContain('<field name="FZ" start="15" end="15"/>');
    expect(TARGET_XML).toContain('<union id="vec128">');
    expect(TARGET_XML).toContain('<field name="uint128" type="uint128"/>');
    // Element types older GDBs do not know would make them reject the whole description.
    expect(TARGET_XML).not.toContain('bfloat16');
    expect(TARGET_XML).not.toContain('ieee_half');
  });
});
