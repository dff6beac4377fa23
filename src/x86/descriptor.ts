// Segment descriptors (Intel SDM Vol. 3 §3.4.5, Figure 3-8) and the pseudo-descriptor that LGDT
// and LIDT load (§3.5.1, Figure 3-11).
//
//   bytes 0-1  limit 15:0          byte 5  P | DPL(2) | S | type(4)
//   bytes 2-3  base 15:0           byte 6  G | D/B | L | AVL | limit 19:16
//   byte 4     base 23:16          byte 7  base 31:24

export const DESCRIPTOR_SIZE = 8;

/** Byte 5 of a descriptor: P, DPL, S and the type. */
export const ACCESS_BYTE_OFFSET = 5;

/** Types (§3.4.5.1, Tables 3-1 and 3-2) that the VMM builds or tests. */
export const SegmentType = {
  /** Data, read/write (S = 1). */
  dataReadWrite: 0x2,
  /** Code, execute/read (S = 1). */
  codeExecuteRead: 0xa,
  /** 32-bit TSS, available (S = 0). */
  tss32Available: 0x9,
  /** 32-bit TSS, busy (S = 0). */
  tss32Busy: 0xb,
  /** Task gate (S = 0, §7.2.5). */
  taskGate: 0x5,
} as const;

/** A code or data segment's type bits (§3.4.5.1, Table 3-1): code (else data); for data, writable. */
export const TYPE_CODE = 0x8;
export const TYPE_DATA_WRITABLE = 0x2;

/** Whether a descriptor can be loaded into SS (§5.10.4.2: a present, writable data segment). */
export function isWritableDataSegment(d: SegmentDescriptor): boolean {
  return d.present && d.codeOrData && (d.type & TYPE_CODE) === 0 && (d.type & TYPE_DATA_WRITABLE) !== 0;
}

/** The type bit that marks a TSS busy (§7.2.2). */
export const TSS_BUSY = 1 << 1;

export interface SegmentDescriptor {
  base: number;
  /** The last valid offset, in bytes: the 20-bit limit field, in 4 KiB units when `granular`. */
  limit: number;
  /** The 4-bit type field: Table 3-1 for code and data, Table 3-2 for system descriptors. */
  type: number;
  /** S: a code or data segment (true), or a system descriptor (false): TSS, LDT, gate. */
  codeOrData: boolean;
  dpl: number;
  present: boolean;
  /** AVL: free for system software. */
  available: boolean;
  /** L: 64-bit code segment (IA-32e mode only). */
  long: boolean;
  /** D/B: 32-bit default operand size (code), 32-bit stack pointer and upper bound (data). */
  defaultBig: boolean;
  /** G: the limit field counts 4 KiB pages. */
  granular: boolean;
}

const ACCESS_P = 0x80;
const ACCESS_S = 0x10;
const FLAG_G = 0x80;
const FLAG_DB = 0x40;
const FLAG_L = 0x20;
const FLAG_AVL = 0x10;
const PAGE_BITS = 12;
const PAGE_OFFSET = (1 << PAGE_BITS) - 1;
const MAX_LIMIT_FIELD = 0xfffff;

/** Decodes the 8-byte descriptor at `offset` of `bytes`. */
export function decodeSegmentDescriptor(bytes: Uint8Array, offset = 0): SegmentDescriptor {
  if (offset < 0 || offset + DESCRIPTOR_SIZE > bytes.length) {
    throw new RangeError(`a segment descriptor needs ${DESCRIPTOR_SIZE} bytes at offset ${offset} of ${bytes.length}`);
  }
  const b = (i: number): number => bytes[offset + i];
  const access = b(5);
  const flags = b(6);
  const base = (b(2) | (b(3) << 8) | (b(4) << 16) | (b(7) << 24)) >>> 0;
  const field = b(0) | (b(1) << 8) | ((flags & 0xf) << 16);
  const granular = (flags & FLAG_G) !== 0;
  return {
    base,
    limit: granular ? ((field << PAGE_BITS) | PAGE_OFFSET) >>> 0 : field,
    type: access & 0xf,
    codeOrData: (access & ACCESS_S) !== 0,
    dpl: (access >>> 5) & 3,
    present: (access & ACCESS_P) !== 0,
    available: (flags & FLAG_AVL) !== 0,
    long: (flags & FLAG_L) !== 0,
    defaultBig: (flags & FLAG_DB) !== 0,
    granular,
  };
}

/** Encodes a descriptor; throws a RangeError for a field the format cannot hold. */
export function encodeSegmentDescriptor(d: SegmentDescriptor): Uint8Array {
  if (!Number.isInteger(d.base) || d.base < 0 || d.base > 0xffffffff) throw new RangeError(`segment base ${d.base} does not fit 32 bits`);
  if (!Number.isInteger(d.type) || d.type < 0 || d.type > 0xf) throw new RangeError(`segment type ${d.type} does not fit 4 bits`);
  if (!Number.isInteger(d.dpl) || d.dpl < 0 || d.dpl > 3) throw new RangeError(`DPL ${d.dpl} is not 0-3`);
  const field = limitField(d.limit, d.granular);
  const access = (d.present ? ACCESS_P : 0) | (d.dpl << 5) | (d.codeOrData ? ACCESS_S : 0) | d.type;
  const flags = (d.granular ? FLAG_G : 0) | (d.defaultBig ? FLAG_DB : 0) | (d.long ? FLAG_L : 0) | (d.available ? FLAG_AVL : 0);
  return Uint8Array.of(
    field & 0xff, (field >>> 8) & 0xff,
    d.base & 0xff, (d.base >>> 8) & 0xff, (d.base >>> 16) & 0xff,
    access,
    flags | (field >>> 16),
    d.base >>> 24,
  );
}

function limitField(limit: number, granular: boolean): number {
  if (!Number.isInteger(limit) || limit < 0 || limit > 0xffffffff) throw new RangeError(`segment limit ${limit} does not fit 32 bits`);
  if (!granular) {
    if (limit > MAX_LIMIT_FIELD) throw new RangeError(`segment limit 0x${limit.toString(16)} needs G=1 (byte granularity reaches 0xfffff)`);
    return limit;
  }
  if ((limit & PAGE_OFFSET) !== PAGE_OFFSET) throw new RangeError(`segment limit 0x${limit.toString(16)} with G=1 must end in 0xfff`);
  return limit >>> PAGE_BITS;
}

/** GDTR or IDTR: a descriptor table's linear base and its limit (the last valid byte offset). */
export interface DescriptorTableRegister {
  base: number;
  limit: number;
}

/**
 * The 6-byte operand of LGDT and LIDT: a 16-bit limit, then the base, of which a 16-bit operand
 * size keeps only bits 23:0 (SDM Vol. 2 LGDT/LIDT).
 */
export function decodePseudoDescriptor(bytes: Uint8Array, operandSize: 16 | 32): DescriptorTableRegister {
  if (bytes.length < 6) throw new RangeError(`a pseudo-descriptor needs 6 bytes, got ${bytes.length}`);
  const limit = bytes[0] | (bytes[1] << 8);
  const base = (bytes[2] | (bytes[3] << 8) | (bytes[4] << 16) | (bytes[5] << 24)) >>> 0;
  return { base: operandSize === 16 ? base & 0xffffff : base, limit };
}
