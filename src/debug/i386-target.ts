// GDB's view of an i386 CPU: which registers exist, in which order the `g` packet carries them,
// which number `p`/`P` use for each, and the target description that tells GDB so (GDB manual,
// Appendix G "Target Descriptions", "i386 Features"). The core and SSE features follow GDB's
// gdb/features/i386/32bit-core.xml and 32bit-sse.xml register for register, as QEMU's
// gdb-xml/i386-32bit.xml does; GDB checks those names before it accepts the description. The
// system registers are a feature of our own, which GDB keeps as extra registers numbered after
// mxcsr (`p $cr3`, `info registers`; GDB's i386 code picks register groups itself, so the
// "system" group written here is informative only).
import type { GuestRegisters, WritableRegister } from './debug-target.js';
import { bytesToHex } from './rsp-packets.js';

export const FEATURE_CORE = 'org.gnu.gdb.i386.core';
export const FEATURE_SSE = 'org.gnu.gdb.i386.sse';
/** Not a GDB standard feature: GDB keeps registers of unknown features as extra registers. */
export const FEATURE_SYS = 'vmm.i386.sys';

/** Where a register's value lives in GuestRegisters. */
type Source =
  | { kind: 'u32'; field: NumericField }
  | { kind: 'bytes'; field: 'st' | 'xmm'; index: number };

type NumericField = { [K in keyof GuestRegisters]: GuestRegisters[K] extends number ? K : never }[keyof GuestRegisters];

export interface I386Register {
  /** The number `p`/`P` use; also the register's position in the `g` packet. */
  readonly number: number;
  /** GDB's name for it (`$eax`, `$st0`, `$gdtr_base`). */
  readonly name: string;
  readonly bitSize: 32 | 80 | 128;
  /** The type the target description gives it. */
  readonly type: string;
  readonly group?: string;
  readonly feature: string;
  /** The DebugTarget name when the debugger may write it. */
  readonly writable?: WritableRegister;
  readonly source: Source;
}

const GENERAL: readonly [WritableRegister, string][] = [
  ['eax', 'int32'], ['ecx', 'int32'], ['edx', 'int32'], ['ebx', 'int32'],
  ['esp', 'data_ptr'], ['ebp', 'data_ptr'], ['esi', 'int32'], ['edi', 'int32'],
  ['eip', 'code_ptr'], ['eflags', 'i386_eflags'],
  ['cs', 'int32'], ['ss', 'int32'], ['ds', 'int32'], ['es', 'int32'], ['fs', 'int32'], ['gs', 'int32'],
];

const X87_CONTROL: readonly NumericField[] = ['fctrl', 'fstat', 'ftag', 'fiseg', 'fioff', 'foseg', 'fooff', 'fop'];

const SYSTEM: readonly [string, NumericField, string][] = [
  ['cr0', 'cr0', 'int32'], ['cr2', 'cr2', 'data_ptr'], ['cr3', 'cr3', 'int32'], ['cr4', 'cr4', 'int32'],
  ['gdtr_base', 'gdtrBase', 'data_ptr'], ['gdtr_limit', 'gdtrLimit', 'int32'],
  ['idtr_base', 'idtrBase', 'data_ptr'], ['idtr_limit', 'idtrLimit', 'int32'],
  ['ldtr', 'ldtr', 'int32'], ['tr', 'tr', 'int32'],
];

function buildRegisters(): I386Register[] {
  const list: Omit<I386Register, 'number'>[] = [];
  for (const [name, type] of GENERAL) {
    list.push({ name, bitSize: 32, type, feature: FEATURE_CORE, writable: name, source: { kind: 'u32', field: name } });
  }
  for (let i = 0; i < 8; i++) {
    list.push({ name: `st${i}`, bitSize: 80, type: 'i387_ext', feature: FEATURE_CORE, source: { kind: 'bytes', field: 'st', index: i } });
  }
  for (const name of X87_CONTROL) {
    list.push({ name, bitSize: 32, type: 'int', group: 'float', feature: FEATURE_CORE, source: { kind: 'u32', field: name } });
  }
  for (let i = 0; i < 8; i++) {
    list.push({ name: `xmm${i}`, bitSize: 128, type: 'vec128', feature: FEATURE_SSE, source: { kind: 'bytes', field: 'xmm', index: i } });
  }
  list.push({ name: 'mxcsr', bitSize: 32, type: 'i386_mxcsr', group: 'vector', feature: FEATURE_SSE, source: { kind: 'u32', field: 'mxcsr' } });
  for (const [name, field, type] of SYSTEM) {
    list.push({ name, bitSize: 32, type, group: 'system', feature: FEATURE_SYS, source: { kind: 'u32', field } });
  }
  return list.map((register, number) => ({ ...register, number }));
}

/** Every register in `g`-packet order; a register's index is its number. */
export const I386_REGISTERS: readonly I386Register[] = buildRegisters();

/** GDB numbers xmm0 32 (32bit-sse.xml gives it regnum="32"): the 32 core registers come first. */
export const XMM0_NUMBER = 32;

/** The size of a whole register file in the `g` packet, in bytes. */
export const REGISTER_FILE_BYTES = I386_REGISTERS.reduce((sum, r) => sum + r.bitSize / 8, 0);

export function registerByNumber(number: number): I386Register | undefined {
  return Number.isInteger(number) && number >= 0 ? I386_REGISTERS[number] : undefined;
}

/** A register's value in target byte order (little-endian), as `g` and `p` carry it. */
export function registerBytes(regs: GuestRegisters, register: I386Register): Uint8Array {
  const size = register.bitSize / 8;
  const source = register.source;
  if (source.kind === 'bytes') {
    const from = regs[source.field];
    const bytes = new Uint8Array(size);
    bytes.set(from.subarray(source.index * size, (source.index + 1) * size));
    return bytes;
  }
  const bytes = Buffer.alloc(4);
  bytes.writeUInt32LE(regs[source.field] >>> 0);
  return new Uint8Array(bytes);
}

/** The whole register file as the `g` reply: every register, in number order, in hex. */
export function encodeRegisterFile(regs: GuestRegisters): string {
  return I386_REGISTERS.map((register) => bytesToHex(registerBytes(regs, register))).join('');
}

/** The `p` reply for one register, or undefined for a number GDB was not told of. */
export function readRegisterHex(regs: GuestRegisters, number: number): string | undefined {
  const register = registerByNumber(number);
  return register ? bytesToHex(registerBytes(regs, register)) : undefined;
}

/**
 * Cuts the bytes of a `G` packet into registers. GDB sends the whole file it knows of; a shorter
 * packet covers a prefix, and a register it only partly covers is left out.
 */
export function splitRegisterFile(data: Uint8Array): { register: I386Register; bytes: Uint8Array }[] {
  const parts: { register: I386Register; bytes: Uint8Array }[] = [];
  let offset = 0;
  for (const register of I386_REGISTERS) {
    const size = register.bitSize / 8;
    if (offset + size > data.length) break;
    parts.push({ register, bytes: data.subarray(offset, offset + size) });
    offset += size;
  }
  return parts;
}

/** The flags types GDB's 32bit-core.xml and 32bit-sse.xml define, so `p $eflags` reads [ ZF IF ]. */
const EFLAGS_FIELDS: readonly [string, number][] = [
  ['CF', 0], ['', 1], ['PF', 2], ['AF', 4], ['ZF', 6], ['SF', 7], ['TF', 8], ['IF', 9], ['DF', 10], ['OF', 11],
  ['NT', 14], ['RF', 16], ['VM', 17], ['AC', 18], ['VIF', 19], ['VIP', 20], ['ID', 21],
];
const MXCSR_FIELDS: readonly [string, number][] = [
  ['IE', 0], ['DE', 1], ['ZE', 2], ['OE', 3], ['UE', 4], ['PE', 5], ['DAZ', 6], ['IM', 7], ['DM', 8], ['ZM', 9],
  ['OM', 10], ['UM', 11], ['PM', 12], ['FZ', 15],
];

function flagsXml(id: string, fields: readonly [string, number][]): string[] {
  return [
    `    <flags id="${id}" size="4">`,
    ...fields.map(([name, bit]) => `      <field name="${name}" start="${bit}" end="${bit}"/>`),
    '    </flags>',
  ];
}

/** The vec128 union of 32bit-sse.xml, without its bfloat16 and half views (types older GDBs
 *  reject, which would make them refuse the whole description). */
const VECTOR_XML = [
  '    <vector id="v4f" type="ieee_single" count="4"/>',
  '    <vector id="v2d" type="ieee_double" count="2"/>',
  '    <vector id="v16i8" type="int8" count="16"/>',
  '    <vector id="v8i16" type="int16" count="8"/>',
  '    <vector id="v4i32" type="int32" count="4"/>',
  '    <vector id="v2i64" type="int64" count="2"/>',
  '    <union id="vec128">',
  '      <field name="v4_float" type="v4f"/>',
  '      <field name="v2_double" type="v2d"/>',
  '      <field name="v16_int8" type="v16i8"/>',
  '      <field name="v8_int16" type="v8i16"/>',
  '      <field name="v4_int32" type="v4i32"/>',
  '      <field name="v2_int64" type="v2i64"/>',
  '      <field name="uint128" type="uint128"/>',
  '    </union>',
];

function registerXml(register: I386Register): string {
  const group = register.group ? ` group="${register.group}"` : '';
  // Numbers are given explicitly where a feature starts, so the layout does not depend on GDB
  // numbering each feature on from the previous one.
  const first = I386_REGISTERS.find((r) => r.feature === register.feature) === register;
  const regnum = first ? ` regnum="${register.number}"` : '';
  return `    <reg name="${register.name}" bitsize="${register.bitSize}" type="${register.type}"${regnum}${group}/>`;
}

function featureXml(name: string, types: string[]): string[] {
  return [
    `  <feature name="${name}">`,
    ...types,
    ...I386_REGISTERS.filter((r) => r.feature === name).map(registerXml),
    '  </feature>',
  ];
}

/** The description served as qXfer:features:read:target.xml ("Target Description Format"). */
export const TARGET_XML = [
  '<?xml version="1.0"?>',
  '<!DOCTYPE target SYSTEM "gdb-target.dtd">',
  '<target version="1.0">',
  '  <architecture>i386</architecture>',
  '  <osabi>none</osabi>',
  ...featureXml(FEATURE_CORE, flagsXml('i386_eflags', EFLAGS_FIELDS)),
  ...featureXml(FEATURE_SSE, [...VECTOR_XML, ...flagsXml('i386_mxcsr', MXCSR_FIELDS)]),
  ...featureXml(FEATURE_SYS, []),
  '</target>',
  '',
].join('\n');
