// Byte-level decoding of the x86 instructions a trap-and-emulate VMM must recognise: prefixes,
// opcode, ModRM, SIB, displacement and immediate, independent of Capstone (which gives only text).
// The VMM needs exact operands (which CR, which memory address) and exact lengths (to step EIP
// past an emulated instruction), so only the forms listed in OPCODES are decoded; anything else
// yields undefined and the caller falls back to injecting the fault.
// References are to the Intel SDM Vol. 2 (ch. 2 "Instruction Format", and the instruction pages).

export type Reg32 = 'eax' | 'ecx' | 'edx' | 'ebx' | 'esp' | 'ebp' | 'esi' | 'edi';
export type SegmentRegister = 'es' | 'cs' | 'ss' | 'ds' | 'fs' | 'gs';

/** Register numbers as encoded in ModRM.reg / ModRM.rm / SIB (SDM Vol. 2 §2.1.5, Table 2-2). */
export const REG32: readonly Reg32[] = ['eax', 'ecx', 'edx', 'ebx', 'esp', 'ebp', 'esi', 'edi'];
/** Segment registers in Sreg encoding order (SDM Vol. 2 §3.1.1.1 / MOV). */
export const SREG: readonly SegmentRegister[] = ['es', 'cs', 'ss', 'ds', 'fs', 'gs'];

export interface Prefixes {
  /** Effective operand size: the code segment's D bit, toggled by 0x66. */
  operandSize: 16 | 32;
  /** Effective address size: the code segment's D bit, toggled by 0x67. */
  addressSize: 16 | 32;
  /** Segment override (26/2E/36/3E/64/65); the last one wins. */
  segment?: SegmentRegister;
  /** F3 = 'rep' (REP/REPE), F2 = 'repne'; the last one wins. */
  rep?: 'rep' | 'repne';
  /** F0 seen. None of the decoded forms accept LOCK: the CPU raises #UD (SDM Vol. 2 LOCK). */
  lock: boolean;
  /** Number of prefix bytes before the opcode. */
  count: number;
}

export interface ModRM {
  mod: number;
  reg: number;
  rm: number;
}

/** A register r/m operand: the ModRM.rm number (see REG32; its width follows the instruction). */
export interface RegisterOperand {
  kind: 'register';
  reg: number;
}

/**
 * A memory r/m operand: offset = base + index * scale + disp, wrapped to addressSize.
 * With 16-bit addressing the registers are BX/BP/SI/DI, named here by their 32-bit containers
 * (only the low 16 bits take part).
 */
export interface MemoryOperand {
  kind: 'memory';
  addressSize: 16 | 32;
  base?: Reg32;
  index?: Reg32;
  scale: 1 | 2 | 4 | 8;
  /** Sign-extended displacement (0 if none). */
  disp: number;
  /** SS for EBP/ESP-based (32-bit) or BP-based (16-bit) forms, DS otherwise (SDM Vol. 1 §3.7.4). */
  defaultSegment: 'ds' | 'ss';
  /** The segment actually used: the override prefix if any, else defaultSegment. */
  segment: SegmentRegister;
}

export type RmOperand = RegisterOperand | MemoryOperand;

export interface DecodedX86 {
  /** Total length in bytes, prefixes included. */
  length: number;
  prefixes: Prefixes;
  /** The opcode bytes: [op] or [0x0f, op]. */
  opcode: number[];
  modrm?: ModRM;
  /** The ModRM r/m operand (always a register for MOV to/from CRn/DRn, 0F 20-23). */
  operand?: RmOperand;
  /** The same object as operand when that is a memory operand (a shortcut for emulators). */
  memory?: MemoryOperand;
  /** Unsigned imm8 (INT n, IN/OUT port) or imm16 (RETF n). */
  immediate?: number;
  /** The ptr16:16 / ptr16:32 operand of far JMP EA / far CALL 9A. */
  farPointer?: { selector: number; offset: number };
}

type Immediate = 'none' | 'ib' | 'iw' | 'iz' | 'ptr' | 'moffs';
interface Form {
  modrm: boolean;
  imm: Immediate;
  /** For ModRM forms: is this (reg, mod) combination a defined instruction of this opcode? */
  valid?: (reg: number, mod: number) => boolean;
}

const plain: Form = { modrm: false, imm: 'none' };
const ib: Form = { modrm: false, imm: 'ib' };
const anyRm: Form = { modrm: true, imm: 'none' };
/** MOV to/from CRn/DRn: ModRM.mod is ignored, the operand is always a register (SDM Vol. 2 MOV—Move to/from Control Registers). */
const movCrDr: Form = { modrm: true, imm: 'none' };

/** One-byte opcodes (SDM Vol. 2 Appendix A, Table A-2). */
const ONE_BYTE = new Map<number, Form>([
  [0xfa, plain], [0xfb, plain], [0xf4, plain], // CLI, STI, HLT
  [0xe4, ib], [0xe5, ib], [0xe6, ib], [0xe7, ib], // IN/OUT with imm8 port
  [0xec, plain], [0xed, plain], [0xee, plain], [0xef, plain], // IN/OUT with DX
  [0x6c, plain], [0x6d, plain], [0x6e, plain], [0x6f, plain], // INS, OUTS
  [0x9c, plain], [0x9d, plain], [0xcf, plain], // PUSHF, POPF, IRET
  [0xcd, ib], [0xcc, plain], [0xce, plain], // INT n, INT3, INTO
  [0x8c, { modrm: true, imm: 'none', valid: (reg) => reg < 6 }], // MOV r/m16, Sreg
  [0x8e, { modrm: true, imm: 'none', valid: (reg) => reg < 6 && reg !== 1 }], // MOV Sreg, r/m16 (CS is #UD)
  [0x0e, plain], [0x16, plain], [0x17, plain], // PUSH CS, PUSH SS, POP SS
  [0xea, { modrm: false, imm: 'ptr' }], [0x9a, { modrm: false, imm: 'ptr' }], // far JMP/CALL ptr16:16/32
  [0xff, { modrm: true, imm: 'none', valid: (reg, mod) => (reg === 3 || reg === 5) && mod !== 3 }], // far CALL/JMP m16:16/32
  [0xca, { modrm: false, imm: 'iw' }], [0xcb, plain], // RETF imm16, RETF
  // Plain MOVs, for a VMM that emulates a data access it cannot let run (the trap engine's hole).
  [0x88, anyRm], [0x89, anyRm], [0x8a, anyRm], [0x8b, anyRm], // MOV r/m,r and r,r/m
  [0xc6, { modrm: true, imm: 'ib', valid: (reg) => reg === 0 }], // MOV r/m8, imm8
  [0xc7, { modrm: true, imm: 'iz', valid: (reg) => reg === 0 }], // MOV r/m16/32, imm16/32
  // MOV AL/eAX, moffs and MOV moffs, AL/eAX: the offset is an address-size immediate.
  [0xa0, { modrm: false, imm: 'moffs' }], [0xa1, { modrm: false, imm: 'moffs' }],
  [0xa2, { modrm: false, imm: 'moffs' }], [0xa3, { modrm: false, imm: 'moffs' }],
]);

/** Two-byte opcodes 0F xx (SDM Vol. 2 Appendix A, Table A-3). */
const TWO_BYTE = new Map<number, Form>([
  [0x00, { modrm: true, imm: 'none', valid: (reg) => reg <= 5 }], // SLDT STR LLDT LTR VERR VERW
  // Group 7: /0-/3 and /7 with mod = 3 are other instructions (VMCALL, MONITOR, SWAPGS, ...).
  [0x01, { modrm: true, imm: 'none', valid: (reg, mod) => reg === 4 || reg === 6 || (reg !== 5 && mod !== 3) }],
  [0x02, anyRm], [0x03, anyRm], // LAR, LSL
  [0x06, plain], [0x08, plain], [0x09, plain], // CLTS, INVD, WBINVD
  [0x20, movCrDr], [0x21, movCrDr], [0x22, movCrDr], [0x23, movCrDr],
  [0x30, plain], [0x31, plain], [0x32, plain], [0x33, plain], [0x34, plain], [0x35, plain], // WRMSR RDTSC RDMSR RDPMC SYSENTER SYSEXIT
  [0xa2, plain], // CPUID
]);

const SEGMENT_PREFIX = new Map<number, SegmentRegister>([
  [0x26, 'es'], [0x2e, 'cs'], [0x36, 'ss'], [0x3e, 'ds'], [0x64, 'fs'], [0x65, 'gs'],
]);

/** The architectural maximum (SDM Vol. 2 §2.3.11); a longer instruction raises #GP. */
const MAX_LENGTH = 15;

/**
 * Decodes one instruction at the start of bytes in code whose default operand and address size is
 * defaultSize (the CS descriptor's D bit). Returns undefined for forms not listed above, for
 * encodings that are #UD, and when bytes ends before the instruction does.
 */
export function decodeInstruction(bytes: Uint8Array, defaultSize: 16 | 32): DecodedX86 | undefined {
  const other = defaultSize === 32 ? 16 : 32;
  const prefixes: Prefixes = { operandSize: defaultSize, addressSize: defaultSize, lock: false, count: 0 };
  let at = 0;
  for (; at < bytes.length && at < MAX_LENGTH; at++) {
    const b = bytes[at];
    const segment = SEGMENT_PREFIX.get(b);
    if (segment) prefixes.segment = segment;
    else if (b === 0x66) prefixes.operandSize = other; // repeats do not toggle back
    else if (b === 0x67) prefixes.addressSize = other;
    else if (b === 0xf3) prefixes.rep = 'rep';
    else if (b === 0xf2) prefixes.rep = 'repne';
    else if (b === 0xf0) prefixes.lock = true;
    else break;
  }
  prefixes.count = at;

  const reader = new Reader(bytes, at);
  const first = reader.u8();
  if (first === undefined) return undefined;
  const opcode = [first];
  let form: Form | undefined;
  if (first === 0x0f) {
    const second = reader.u8();
    if (second === undefined) return undefined;
    opcode.push(second);
    form = TWO_BYTE.get(second);
  } else {
    form = ONE_BYTE.get(first);
  }
  if (!form) return undefined;

  const decoded: DecodedX86 = { length: 0, prefixes, opcode };
  if (form.modrm) {
    const byte = reader.u8();
    if (byte === undefined) return undefined;
    const modrm = { mod: byte >> 6, reg: (byte >> 3) & 7, rm: byte & 7 };
    if (form.valid && !form.valid(modrm.reg, modrm.mod)) return undefined;
    decoded.modrm = modrm;
    if (form === movCrDr || modrm.mod === 3) decoded.operand = { kind: 'register', reg: modrm.rm };
    else {
      const memory = prefixes.addressSize === 16 ? memory16(modrm, reader) : memory32(modrm, reader);
      if (!memory) return undefined;
      decoded.operand = decoded.memory = { ...memory, segment: prefixes.segment ?? memory.defaultSegment };
    }
  }

  if (form.imm === 'ib') decoded.immediate = reader.u8();
  else if (form.imm === 'iw') decoded.immediate = reader.u16();
  else if (form.imm === 'iz') decoded.immediate = prefixes.operandSize === 32 ? reader.u32() : reader.u16();
  else if (form.imm === 'moffs') {
    // No ModRM: a plain DS-relative offset (SDM Vol. 2 MOV, "moffs"), which memory stands for.
    const offset = prefixes.addressSize === 32 ? reader.u32() : reader.u16();
    if (offset !== undefined) {
      decoded.operand = decoded.memory = {
        kind: 'memory', addressSize: prefixes.addressSize, scale: 1, disp: offset, defaultSegment: 'ds', segment: prefixes.segment ?? 'ds',
      };
    }
  } else if (form.imm === 'ptr') {
    // ptr16:16 / ptr16:32: the offset comes first, then the selector (SDM Vol. 2 JMP, CALL).
    const offset = prefixes.operandSize === 32 ? reader.u32() : reader.u16();
    const selector = reader.u16();
    if (offset !== undefined && selector !== undefined) decoded.farPointer = { selector, offset };
  }
  if (reader.truncated || reader.at > MAX_LENGTH) return undefined;
  decoded.length = reader.at;
  return decoded;
}

/** The offset a memory operand addresses, wrapped to its address size (SDM Vol. 1 §3.7.5). */
export function effectiveAddress(operand: MemoryOperand, regs: (name: Reg32) => number): number {
  const mask = operand.addressSize === 16 ? 0xffff : 0xffffffff;
  const value = (name: Reg32 | undefined) => (name ? (regs(name) & mask) >>> 0 : 0);
  const sum = value(operand.base) + value(operand.index) * operand.scale + operand.disp;
  // sum is an exact integer below 2^36; both operators reduce it modulo 2^32 first.
  return operand.addressSize === 16 ? sum & 0xffff : sum >>> 0;
}

type Memory = Omit<MemoryOperand, 'segment'>;

/** 16-bit addressing: SDM Vol. 2 §2.1.5, Table 2-1. */
const MEMORY16: readonly [Reg32 | undefined, Reg32 | undefined][] = [
  ['ebx', 'esi'], ['ebx', 'edi'], ['ebp', 'esi'], ['ebp', 'edi'], [undefined, 'esi'], [undefined, 'edi'], ['ebp', undefined], ['ebx', undefined],
];

function memory16({ mod, rm }: ModRM, reader: Reader): Memory | undefined {
  const noBaseDisp16 = mod === 0 && rm === 6; // [disp16], not [bp]
  const base = noBaseDisp16 ? undefined : MEMORY16[rm][0];
  const index = MEMORY16[rm][1];
  let disp: number | undefined = 0;
  if (mod === 1) disp = reader.i8();
  else if (mod === 2 || noBaseDisp16) disp = reader.i16();
  if (disp === undefined) return undefined;
  return { kind: 'memory', addressSize: 16, base, index, scale: 1, disp, defaultSegment: base === 'ebp' ? 'ss' : 'ds' };
}

/** 32-bit addressing: SDM Vol. 2 §2.1.5, Tables 2-2 and 2-3. */
function memory32({ mod, rm }: ModRM, reader: Reader): Memory | undefined {
  let base: Reg32 | undefined = REG32[rm];
  let index: Reg32 | undefined;
  let scale: 1 | 2 | 4 | 8 = 1;
  let noBaseDisp32 = mod === 0 && rm === 5; // [disp32], not [ebp]
  if (rm === 4) {
    const sib = reader.u8();
    if (sib === undefined) return undefined;
    scale = (1 << (sib >> 6)) as 1 | 2 | 4 | 8;
    const indexNumber = (sib >> 3) & 7;
    index = indexNumber === 4 ? undefined : REG32[indexNumber]; // index 100b means none
    base = REG32[sib & 7];
    noBaseDisp32 = mod === 0 && (sib & 7) === 5; // [index*scale + disp32], not [ebp + ...]
  }
  if (noBaseDisp32) base = undefined;
  let disp: number | undefined = 0;
  if (mod === 1) disp = reader.i8();
  else if (mod === 2 || noBaseDisp32) disp = reader.i32();
  if (disp === undefined) return undefined;
  // The default segment follows the base register only (an EBP index does not make it SS).
  const defaultSegment = base === 'ebp' || base === 'esp' ? 'ss' : 'ds';
  return { kind: 'memory', addressSize: 32, base, index, scale, disp, defaultSegment };
}

/** Little-endian reads that note, rather than throw on, running off the end of the bytes. */
class Reader {
  truncated = false;

  constructor(
    private readonly bytes: Uint8Array,
    public at: number,
  ) {}

  u8(): number | undefined {
    return this.take(1);
  }
  u16(): number | undefined {
    return this.take(2);
  }
  u32(): number | undefined {
    return this.take(4);
  }
  i8(): number | undefined {
    return signed(this.take(1), 8);
  }
  i16(): number | undefined {
    return signed(this.take(2), 16);
  }
  i32(): number | undefined {
    return signed(this.take(4), 32);
  }

  private take(n: number): number | undefined {
    const start = this.at;
    this.at += n;
    if (this.at > this.bytes.length) {
      this.truncated = true;
      return undefined;
    }
    let value = 0;
    for (let i = n - 1; i >= 0; i--) value = value * 256 + this.bytes[start + i];
    return value;
  }
}

function signed(value: number | undefined, bits: number): number | undefined {
  if (value === undefined) return undefined;
  return value >= 2 ** (bits - 1) ? value - 2 ** bits : value;
}
