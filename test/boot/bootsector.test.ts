import { describe, expect, it } from 'vitest';
import { planBootSector } from '../../src/boot/bootsector.js';
import { expectLoadError } from './expect-load-error.js';
import { applyPlan, bootSector } from './image-builder.js';

const ramSize = 16 << 20;

describe('planBootSector', () => {
  it('loads the sector at 0000:7C00 in real mode with DL = 0x80 and interrupts off', () => {
    const image = bootSector();
    const plan = planBootSector(image, { ramSize });
    expect(plan).toEqual({
      format: 'bootsector',
      description: 'boot sector, entry 0000:7c00',
      cpuMode: 'real16',
      chunks: [{ guestPhys: 0x7c00, bytes: image }],
      zeroRanges: [],
      entry: { cs: 0, eip: 0x7c00 },
      registers: { edx: 0x80, esp: 0x7c00, eflags: 0x2 },
      segments: { ds: 0, es: 0, ss: 0, fs: 0, gs: 0 },
      reserved: [],
    });
    expect(applyPlan(plan, ramSize).subarray(0x7c00, 0x7e00)).toEqual(image);
  });

  it('rejects a short image as truncated', () => {
    expectLoadError(
      () => planBootSector(bootSector({ length: 511, signature: false }), { ramSize }),
      'truncated',
      'truncated boot sector: the image is 511 bytes, a boot sector is 512',
    );
  });

  it('rejects a sector without the 0x55 0xAA signature', () => {
    expectLoadError(
      () => planBootSector(bootSector({ signature: false }), { ramSize }),
      'bad-header',
      'boot sector has no boot signature: bytes 510-511 are 0x0 0x0, not 0x55 0xaa',
    );
  });

  it('refuses a longer image even with a boot signature, and says why', () => {
    expectLoadError(
      () => planBootSector(bootSector({ length: 1024 }), { ramSize }),
      'unsupported',
      'image is 1024 bytes but a boot sector is exactly 512 (disk images are not supported; ' +
        'for a larger real-mode program use --format flat --load-address 0x7c00 --bits 16)',
    );
  });

  it('needs RAM up to the end of the sector', () => {
    expectLoadError(
      () => planBootSector(bootSector(), { ramSize: 4096 }),
      'too-large',
      'image needs 0x7e00 bytes of RAM (boot sector ends at 0x7dff) but the guest has 4 KiB',
    );
    expect(planBootSector(bootSector(), { ramSize: 0x8000 }).format).toBe('bootsector');
  });

  it('rejects an empty image', () => {
    expectLoadError(() => planBootSector(new Uint8Array(0), { ramSize }), 'empty', 'image is empty');
  });
});
