import { describe, expect, it } from 'vitest';
import { planBootSector } from '../../src/boot/bootsector.js';
import { planImage } from '../../src/boot/detect.js';
import { planFlat } from '../../src/boot/flat.js';
import { planMultiboot } from '../../src/boot/multiboot.js';
import { expectLoadError } from './expect-load-error.js';
import { bootSector, buildElf32, bzImageStub, multibootElf, pattern } from './image-builder.js';

const ramSize = 16 << 20;

describe('planImage auto-detection', () => {
  it('rejects an empty image whatever the format', () => {
    const empty = new Uint8Array(0);
    for (const format of ['auto', 'flat', 'bootsector', 'multiboot'] as const) {
      expectLoadError(() => planImage(empty, { ramSize, format, flat: { loadAddress: 0, bits: 16 } }), 'empty', 'image is empty');
    }
    expectLoadError(() => planBootSector(empty, { ramSize }), 'empty', 'image is empty');
    expectLoadError(() => planMultiboot(empty, { ramSize }), 'empty', 'image is empty');
    expectLoadError(() => planFlat(empty, { ramSize, loadAddress: 0, bits: 32 }), 'empty', 'image is empty');
  });

  it('recognises a multiboot kernel', () => {
    const plan = planImage(multibootElf(), { ramSize, cmdline: 'x=1' });
    expect(plan.format).toBe('multiboot');
    expect(plan.chunks.find((c) => c.guestPhys === 0x1300)?.bytes).toEqual(new TextEncoder().encode('x=1\0'));
  });

  it('recognises a 512-byte boot sector', () => {
    expect(planImage(bootSector(), { ramSize }).format).toBe('bootsector');
  });

  it('does not take a longer image with a boot signature for a boot sector', () => {
    expectLoadError(
      () => planImage(bootSector({ length: 2048 }), { ramSize }),
      'unsupported',
      'image is 2048 bytes but a boot sector is exactly 512 (disk images are not supported; ' +
        'for a larger real-mode program use --format flat --load-address 0x7c00 --bits 16)',
    );
  });

  it('hands an image with a Linux setup header to the bzImage loader', () => {
    // The stub has "HdrS" but filler in every other header field (bzimage.test.ts has real ones).
    expectLoadError(
      () => planImage(bzImageStub(), { ramSize }),
      'bad-header',
      'bzImage setup header ends at 0x221 (0x202 + the byte at 0x201), but protocol 73.66 has fields up to 0x264',
    );
  });

  it('refuses an ELF file without a multiboot header', () => {
    const image = buildElf32({ entry: 0x100000, segments: [{ paddr: 0x100000, data: pattern(64) }] });
    expectLoadError(
      () => planImage(image, { ramSize }),
      'unknown-format',
      'ELF file without a multiboot header: ELF kernels boot through multiboot v1 (header in the first 8192 bytes)',
    );
  });

  it('says a cut-off ELF file is truncated: it may have lost its multiboot header', () => {
    const image = buildElf32({ entry: 0x100000, segments: [{ paddr: 0x100000, data: pattern(0x2000) }] });
    expectLoadError(
      () => planImage(image.subarray(0, 300), { ramSize }),
      'truncated',
      "truncated ELF: segment 0 data ends at 0x2060 beyond the file's 300 bytes",
    );
  });

  it('refuses a 64-bit ELF file without a multiboot header as 64-bit', () => {
    const image = new Uint8Array(128);
    image.set([0x7f, 0x45, 0x4c, 0x46, 2, 1, 1]);
    expectLoadError(() => planImage(image, { ramSize }), 'unsupported', '64-bit ELF kernels are not supported (i386 only)');
  });

  it('names the rules when nothing matches', () => {
    expectLoadError(
      () => planImage(new Uint8Array(300).fill(0x90), { ramSize }),
      'unknown-format',
      'unrecognised image: no multiboot header in the first 8192 bytes, not a 512-byte boot sector ending in 0x55 0xaa, ' +
        'not a bzImage or ELF file; for a raw binary use --format flat --load-address <address>',
    );
  });
});

describe('planImage with an explicit format', () => {
  it('flat needs its options', () => {
    expectLoadError(
      () => planImage(pattern(16), { ramSize, format: 'flat' }),
      'unsupported',
      'flat images need a load address (--load-address)',
    );
    const plan = planImage(pattern(16), { ramSize, format: 'flat', flat: { loadAddress: 0x100000, bits: 32 } });
    expect(plan.description).toBe('flat 32-bit binary, 16 bytes at 0x100000, entry 0x100000');
  });

  it('a boot sector can also be run as a flat 16-bit image', () => {
    const plan = planImage(bootSector(), { ramSize, format: 'flat', flat: { loadAddress: 0x7c00, entry: undefined, bits: 16 } });
    expect(plan.format).toBe('flat');
    expect(plan.entry).toEqual({ cs: 0, eip: 0x7c00 });
  });

  it('uses only the requested loader', () => {
    expectLoadError(
      () => planImage(bootSector(), { ramSize, format: 'multiboot' }),
      'unknown-format',
      'no multiboot header (magic 0x1badb002, 4-byte aligned) in the first 8192 bytes',
    );
    expectLoadError(
      () => planImage(pattern(300), { ramSize, format: 'bootsector' }),
      'truncated',
      'truncated boot sector: the image is 300 bytes, a boot sector is 512',
    );
  });

  it('refuses an unknown format name', () => {
    expectLoadError(() => planImage(pattern(16), { ramSize, format: 'zip' as 'auto' }), 'unsupported', "unknown image format 'zip'");
  });
});

describe('guest RAM size', () => {
  it('must be a positive multiple of 4 KiB', () => {
    for (const bad of [0, -4096, 1000, 4097, 1.5, Number.NaN]) {
      expectLoadError(
        () => planImage(bootSector(), { ramSize: bad }),
        'unsupported',
        `guest RAM size must be a positive multiple of 4 KiB (got ${bad} bytes)`,
      );
    }
  });

  it('must fit in the 32-bit physical address space', () => {
    expectLoadError(
      () => planImage(bootSector(), { ramSize: 8 * 2 ** 30 }),
      'unsupported',
      'guest RAM size 8 GiB exceeds the 4 GiB that a 32-bit guest can address',
    );
  });
});
