import { describe, expect, it } from 'vitest';
import {
  decodePseudoDescriptor,
  decodeSegmentDescriptor,
  DESCRIPTOR_SIZE,
  encodeSegmentDescriptor,
  SegmentType,
  type SegmentDescriptor,
} from '../../src/x86/descriptor.js';

/** A descriptor written as the SDM draws it, one 64-bit number, as its 8 bytes in memory. */
function quadword(value: bigint): Uint8Array {
  const bytes = new Uint8Array(8);
  new DataView(bytes.buffer).setBigUint64(0, value, true);
  return bytes;
}

const flatCode: SegmentDescriptor = {
  base: 0, limit: 0xffffffff, type: SegmentType.codeExecuteRead, codeOrData: true, dpl: 0, present: true,
  available: false, long: false, defaultBig: true, granular: true,
};

const KNOWN: [what: string, value: bigint, descriptor: SegmentDescriptor][] = [
  ['flat 4 GiB ring-0 code', 0x00cf9a000000ffffn, flatCode],
  ['flat 4 GiB ring-0 data', 0x00cf92000000ffffn, { ...flatCode, type: SegmentType.dataReadWrite }],
  ['flat 4 GiB ring-3 code', 0x00cffa000000ffffn, { ...flatCode, dpl: 3 }],
  [
    'byte-granular 32-bit TSS, available',
    0x1200893456780067n,
    { base: 0x12345678, limit: 0x67, type: SegmentType.tss32Available, codeOrData: false, dpl: 0, present: true, available: false, long: false, defaultBig: false, granular: false },
  ],
  [
    'busy TSS',
    0x00008b0050000067n,
    { base: 0x5000, limit: 0x67, type: SegmentType.tss32Busy, codeOrData: false, dpl: 0, present: true, available: false, long: false, defaultBig: false, granular: false },
  ],
  [
    'thread-local data with every base byte set, ring 3, accessed',
    0xb7cff3e4d6c0ffffn,
    { base: 0xb7e4d6c0, limit: 0xffffffff, type: 0x3, codeOrData: true, dpl: 3, present: true, available: false, long: false, defaultBig: true, granular: true },
  ],
  [
    '16-bit data at 0xf0000, 64 KiB',
    0x0000930f0000ffffn,
    { base: 0xf0000, limit: 0xffff, type: 0x3, codeOrData: true, dpl: 0, present: true, available: false, long: false, defaultBig: false, granular: false },
  ],
  ['64-bit code (L set, D/B clear)', 0x00af9a000000ffffn, { ...flatCode, long: true, defaultBig: false }],
  [
    'not present, AVL set, limit 0x12345 pages',
    0x00d1120000002345n,
    { base: 0, limit: 0x12345fff, type: 0x2, codeOrData: true, dpl: 0, present: false, available: true, long: false, defaultBig: true, granular: true },
  ],
];

describe('segment descriptors (SDM Vol. 3 §3.4.5)', () => {
  it.each(KNOWN)('decodes a %s', (_what, value, descriptor) => {
    expect(decodeSegmentDescriptor(quadword(value))).toEqual(descriptor);
  });

  it.each(KNOWN)('encodes a %s', (_what, value, descriptor) => {
    expect(encodeSegmentDescriptor(descriptor)).toEqual(quadword(value));
  });

  it('round-trips every access and flags byte', () => {
    for (let access = 0; access < 256; access++) {
      for (let flags = 0; flags < 256; flags += 0x11) {
        const bytes = Uint8Array.of(0x34, 0x12, 0x78, 0x56, 0x9a, access, flags, 0xbc);
        expect(encodeSegmentDescriptor(decodeSegmentDescriptor(bytes))).toEqual(bytes);
      }
    }
  });

  it('decodes the entry a selector names inside a table', () => {
    const gdt = new Uint8Array(4 * DESCRIPTOR_SIZE);
    gdt.set(quadword(0x1200893456780067n), 3 * DESCRIPTOR_SIZE);
    expect(decodeSegmentDescriptor(gdt, 3 * DESCRIPTOR_SIZE).base).toBe(0x12345678);
    expect(decodeSegmentDescriptor(gdt, 0)).toMatchObject({ base: 0, limit: 0, present: false });
    expect(() => decodeSegmentDescriptor(gdt, 3 * DESCRIPTOR_SIZE + 1)).toThrow(RangeError);
  });

  it('scales a page-granular limit to its last byte', () => {
    expect(decodeSegmentDescriptor(quadword(0x00c09a0000000000n)).limit).toBe(0xfff);
    expect(decodeSegmentDescriptor(quadword(0x00409a0000000000n)).limit).toBe(0);
  });

  it('refuses limits and fields the format cannot hold', () => {
    expect(() => encodeSegmentDescriptor({ ...flatCode, granular: false })).toThrow(/needs G=1/);
    expect(() => encodeSegmentDescriptor({ ...flatCode, limit: 0xfffff000 })).toThrow(/must end in 0xfff/);
    expect(() => encodeSegmentDescriptor({ ...flatCode, dpl: 4 })).toThrow(RangeError);
    expect(() => encodeSegmentDescriptor({ ...flatCode, type: 16 })).toThrow(RangeError);
    expect(() => encodeSegmentDescriptor({ ...flatCode, base: 2 ** 32 })).toThrow(RangeError);
  });
});

describe('pseudo-descriptors (SDM Vol. 3 §3.5.1)', () => {
  it('reads the limit, then the base', () => {
    expect(decodePseudoDescriptor(Uint8Array.of(0x17, 0x00, 0x00, 0x05, 0x00, 0x00), 32)).toEqual({ base: 0x500, limit: 0x17 });
    expect(decodePseudoDescriptor(Uint8Array.of(0xff, 0x07, 0x00, 0x10, 0x5c, 0xc1), 32)).toEqual({ base: 0xc15c1000, limit: 0x7ff });
  });

  it('keeps 24 bits of the base with a 16-bit operand size', () => {
    expect(decodePseudoDescriptor(Uint8Array.of(0xff, 0x07, 0x00, 0x10, 0x5c, 0xc1), 16)).toEqual({ base: 0x5c1000, limit: 0x7ff });
  });
});
