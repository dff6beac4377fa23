// Instruction lengths without a full decode, for the per-block scans that run once for every new
// block of guest kernel code (tens of thousands in a Linux boot, where Capstone's ~2 µs per
// instruction through WASM had been a tenth of the run). Legacy and compatibility modes only (16-
// and 32-bit code): prefixes, one-, two- and three-byte opcode maps, ModRM/SIB/displacement and
// immediates, from the SDM Vol. 2 §2.1 and Appendix A opcode maps. Encodings it does not know
// (VEX, EVEX, XOP, undefined opcodes) give undefined: the caller decodes those with Capstone.

const MAX_LENGTH = 15; // SDM Vol. 2 §2.3.11

const enum Imm {
  None = 0,
  Byte = 1,
  Word = 2,
  /** Operand-size: 2 or 4 bytes. */
  Full = 3,
  /** ENTER: iw then ib. */
  Enter = 4,
  /** ptr16:16/32: an operand-size offset then a selector. */
  Far = 5,
  /** MOV moffs: an address-size offset. */
  Moffs = 6,
  /** F6/F7 group 3: TEST (/0, /1) has an immediate, the others none. */
  Group3 = 7,
}

// One entry per opcode: bit 7 set means "unknown here"; bit 6 "has ModRM"; bit 5 "ModRM names
// a register whatever its mod"; bits 0-2 the Imm.
const UNKNOWN = 0x80;
const M = 0x40;
const REGISTER_ONLY = 0x20;

function table(entries: [string, number][]): Uint8Array {
  const t = new Uint8Array(256).fill(UNKNOWN);
  for (const [range, value] of entries) {
    const [from, to] = range.split('-').map((h) => parseInt(h, 16));
    for (let op = from; op <= (to ?? from); op++) t[op] = value;
  }
  return t;
}

/** One-byte opcodes (SDM Vol. 2 Table A-2); prefixes are handled before the table is read. */
const ONE_BYTE = table([
  // ALU r/m forms, AL/eAX immediates, PUSH/POP segment registers, DAA/DAS/AAA/AAS (00-3F).
  ...[0x00, 0x08, 0x10, 0x18, 0x20, 0x28, 0x30, 0x38].flatMap((base): [string, number][] => [
    [`${h(base)}-${h(base + 3)}`, M], [h(base + 4), Imm.Byte], [h(base + 5), Imm.Full], [h(base + 6), 0], [h(base + 7), 0],
  ]),
  ['0f', UNKNOWN], // the two-byte escape, read separately
  ['40-61', 0], // INC/DEC/PUSH/POP r32, PUSHA, POPA
  ['62', M], // BOUND (EVEX when ModRM.mod = 3; rejected below)
  ['63', M], // ARPL
  ['68', Imm.Full], ['69', M | Imm.Full], ['6a', Imm.Byte], ['6b', M | Imm.Byte], ['6c-6f', 0],
  ['70-7f', Imm.Byte], // Jcc rel8
  ['80', M | Imm.Byte], ['81', M | Imm.Full], ['82-83', M | Imm.Byte], ['84-8f', M],
  ['90-99', 0], ['9a', Imm.Far], ['9b-9f', 0],
  ['a0-a3', Imm.Moffs], ['a4-a7', 0], ['a8', Imm.Byte], ['a9', Imm.Full], ['aa-af', 0],
  ['b0-b7', Imm.Byte], ['b8-bf', Imm.Full],
  ['c0-c1', M | Imm.Byte], ['c2', Imm.Word], ['c3', 0], ['c4-c5', M], // LES/LDS (VEX when mod = 3)
  ['c6', M | Imm.Byte], ['c7', M | Imm.Full], ['c8', Imm.Enter], ['c9', 0], ['ca', Imm.Word], ['cb-cc', 0], ['cd', Imm.Byte], ['ce-cf', 0],
  ['d0-d3', M], ['d4-d5', Imm.Byte], ['d6-d7', 0], ['d8-df', M], // x87 escapes all take ModRM
  ['e0-e7', Imm.Byte], ['e8-e9', Imm.Full], ['ea', Imm.Far], ['eb', Imm.Byte], ['ec-ef', 0],
  ['f1', 0], ['f4-f5', 0], ['f6-f7', M | Imm.Group3], ['f8-fd', 0], ['fe-ff', M],
]);

/** Two-byte opcodes 0F xx (SDM Vol. 2 Table A-3). */
const TWO_BYTE = table([
  ['00-03', M], ['05-09', 0], ['0b', 0], ['0d', M], ['0e', 0],
  ['0f', M | Imm.Byte], // 3DNow!: the opcode is an imm8 suffix
  ['10-1f', M],
  ['20-23', M | REGISTER_ONLY], // MOV to/from CRn/DRn ignore ModRM.mod (SDM Vol. 2 MOV—Move to/from Control Registers)
  ['28-2f', M],
  ['30-35', 0], ['37', 0],
  ['40-6f', M], ['70-73', M | Imm.Byte], ['74-76', M], ['77', 0], ['78-79', M], ['7c-7f', M],
  ['80-8f', Imm.Full], // Jcc rel16/32
  ['90-9f', M], // SETcc
  ['a0-a2', 0], ['a3', M], ['a4', M | Imm.Byte], ['a5', M], ['a8-aa', 0], ['ab', M], ['ac', M | Imm.Byte], ['ad-af', M],
  ['b0-b9', M], ['ba', M | Imm.Byte], ['bb-bf', M],
  ['c0-c1', M], ['c2', M | Imm.Byte], ['c3', M], ['c4-c6', M | Imm.Byte], ['c7', M], ['c8-cf', 0],
  ['d0-fe', M],
  // 0F FF (UD0) takes ModRM on Intel CPUs but not in older manuals or on AMD: left to Capstone.
]);

function h(n: number): string {
  return n.toString(16);
}

/**
 * The length in bytes of the instruction at the start of bytes, in code whose default operand and
 * address size is defaultSize; undefined when the encoding is not one this decoder knows or bytes
 * ends first.
 */
export function instructionLength(bytes: Uint8Array, defaultSize: 16 | 32): number | undefined {
  let operand32 = defaultSize === 32;
  let address32 = defaultSize === 32;
  let at = 0;
  for (;; at++) {
    if (at >= bytes.length || at >= MAX_LENGTH) return undefined;
    const b = bytes[at];
    if (b === 0x66) operand32 = defaultSize !== 32;
    else if (b === 0x67) address32 = defaultSize !== 32;
    else if (!(b === 0xf0 || b === 0xf2 || b === 0xf3 || b === 0x26 || b === 0x2e || b === 0x36 || b === 0x3e || b === 0x64 || b === 0x65)) break;
  }
  let op = bytes[at++];
  let entry: number;
  if (op === 0x0f) {
    if (at >= bytes.length) return undefined;
    op = bytes[at++];
    if (op === 0x38 || op === 0x3a) {
      // Three-byte maps 0F 38 and 0F 3A (Tables ): all take ModRM; 0F 3A has an imm8.
      if (at >= bytes.length) return undefined;
      at++;
      entry = op === 0x3a ? M | Imm.Byte : M;
    } else {
      entry = TWO_BYTE[op];
    }
  } else {
    entry = ONE_BYTE[op];
    // In 16/32-bit code these are VEX, EVEX or XOP prefixes when ModRM.mod would be 3.
    if ((op === 0x62 || op === 0xc4 || op === 0xc5) && at < bytes.length && bytes[at] >> 6 === 3) return undefined;
    if (op === 0x8f && at < bytes.length && ((bytes[at] >> 3) & 7) !== 0) return undefined; // XOP
  }
  if (entry & UNKNOWN) return undefined;

  let reg = 0;
  if (entry & M) {
    if (at >= bytes.length) return undefined;
    const modrm = bytes[at++];
    const mod = modrm >> 6;
    const rm = modrm & 7;
    reg = (modrm >> 3) & 7;
    if (mod !== 3 && !(entry & REGISTER_ONLY)) {
      if (address32) {
        // SDM Vol. 2 Tables 2-2, 2-3: a SIB byte when rm = 100; [disp32] for mod 00 with rm or
        // SIB.base 101.
        let base = rm;
        if (rm === 4) {
          if (at >= bytes.length) return undefined;
          base = bytes[at++] & 7;
        }
        if (mod === 1) at += 1;
        else if (mod === 2 || base === 5) at += 4;
      } else {
        // SDM Vol. 2 Table 2-1: [disp16] for mod 00 with rm 110.
        if (mod === 1) at += 1;
        else if (mod === 2 || rm === 6) at += 2;
      }
    }
  }

  const full = operand32 ? 4 : 2;
  switch ((entry & 7) as Imm) {
    case Imm.Byte: at += 1; break;
    case Imm.Word: at += 2; break;
    case Imm.Full: at += full; break;
    case Imm.Enter: at += 3; break;
    case Imm.Far: at += full + 2; break;
    case Imm.Moffs: at += address32 ? 4 : 2; break;
    case Imm.Group3: if (reg < 2) at += op === 0xf6 ? 1 : full; break;
    case Imm.None: break;
  }
  return at <= bytes.length && at <= MAX_LENGTH ? at : undefined;
}
