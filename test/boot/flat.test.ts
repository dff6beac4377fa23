import { describe, expect, it } from 'vitest';
import { planFlat, realModeEntry } from '../../src/boot/flat.js';
import { expectLoadError } from './expect-load-error.js';
import { applyPlan, pattern } from './image-builder.js';

const ramSize = 16 << 20;

describe('planFlat, 16-bit', () => {
  it('runs an image at 0x7c00 from 0000:7c00 with the boot-sector stack', () => {
    const image = pattern(16);
    const plan = planFlat(image, { loadAddress: 0x7c00, bits: 16, ramSize });
    expect(plan).toEqual({
      format: 'flat',
      description: 'flat 16-bit binary, 16 bytes at 0x7c00, entry 0000:7c00',
      cpuMode: 'real16',
      chunks: [{ guestPhys: 0x7c00, bytes: image }],
      zeroRanges: [],
      entry: { cs: 0, eip: 0x7c00 },
      registers: { esp: 0x7c00, eflags: 0x2 },
      segments: { ds: 0, es: 0, ss: 0, fs: 0, gs: 0 },
      reserved: [],
    });
  });

  it('uses the 64 KiB-aligned segment holding the entry as CS', () => {
    const plan = planFlat(pattern(0x3000), { loadAddress: 0x10000, entry: 0x12345, bits: 16, ramSize });
    expect(plan.entry).toEqual({ cs: 0x1000, eip: 0x2345 });
    expect(plan.segments).toEqual({ ds: 0x1000, es: 0x1000, ss: 0, fs: 0x1000, gs: 0x1000 });
    expect(plan.description).toBe('flat 16-bit binary, 12288 bytes at 0x10000, entry 1000:2345');
  });

  it('CS:IP always addresses the entry with IP below 64 KiB', () => {
    for (const entry of [0, 0xffff, 0x10000, 0x7c00, 0x9ffff, 0xf0000, 0xffff0, 0xfffff]) {
      const { cs, ip } = realModeEntry(entry);
      expect(cs * 16 + ip).toBe(entry);
      expect(ip).toBeLessThan(0x10000);
      expect(cs & 0xfff).toBe(0);
    }
  });

  it('keeps a 16-bit image below 1 MiB', () => {
    expectLoadError(
      () => planFlat(pattern(0x2000), { loadAddress: 0xff000, bits: 16, ramSize }),
      'unsupported',
      'a 16-bit image must lie below 1 MiB, where real mode can reach it; this one ends at 0x100fff',
    );
  });

  it('may load at address 0, since real mode needs no GDT', () => {
    expect(planFlat(pattern(0x1000), { loadAddress: 0, bits: 16, ramSize }).reserved).toEqual([]);
  });
});

describe('planFlat, 32-bit', () => {
  it('runs in flat protected mode with the shared GDT', () => {
    const image = pattern(16);
    const plan = planFlat(image, { loadAddress: 0x100000, entry: 0x100004, bits: 32, ramSize });
    expect(plan.format).toBe('flat');
    expect(plan.description).toBe('flat 32-bit binary, 16 bytes at 0x100000, entry 0x100004');
    expect(plan.cpuMode).toBe('protected32');
    expect(plan.entry).toEqual({ cs: 0x08, eip: 0x100004 });
    expect(plan.segments).toEqual({ ds: 0x10, es: 0x10, ss: 0x10, fs: 0x10, gs: 0x10 });
    expect(plan.gdt).toEqual({ base: 0x500, limit: 23 });
    expect(plan.registers).toEqual({ esp: 0x7c00, eflags: 0x2 });
    expect(plan.reserved).toEqual([{ guestPhys: 0x500, length: 24, what: 'GDT' }]);
    const ram = applyPlan(plan, ramSize);
    expect(ram.subarray(0x100000, 0x100010)).toEqual(image);
    expect([...ram.subarray(0x500, 0x518)]).toEqual([
      0, 0, 0, 0, 0, 0, 0, 0,
      0xff, 0xff, 0, 0, 0, 0x9a, 0xcf, 0,
      0xff, 0xff, 0, 0, 0, 0x92, 0xcf, 0,
    ]);
  });

  it('enters at the load address by default', () => {
    expect(planFlat(pattern(4), { loadAddress: 0x200000, bits: 32, ramSize }).entry).toEqual({ cs: 8, eip: 0x200000 });
  });

  it('refuses an image over the GDT', () => {
    expectLoadError(
      () => planFlat(pattern(0x1000), { loadAddress: 0, bits: 32, ramSize }),
      'unsupported',
      "image at 0x0-0xfff overlaps the VMM's GDT at 0x500-0x517",
    );
  });
});

describe('planFlat errors', () => {
  it('requires the entry inside the image', () => {
    expectLoadError(
      () => planFlat(pattern(16), { loadAddress: 0x100000, entry: 0x100010, bits: 32, ramSize }),
      'unsupported',
      'entry point 0x100010 is outside the image, which is loaded at 0x100000-0x10000f',
    );
  });

  it('requires the image to fit in RAM', () => {
    expectLoadError(
      () => planFlat(pattern(0x2000), { loadAddress: 0xfff000, bits: 32, ramSize }),
      'too-large',
      'image needs 0x1001000 bytes of RAM (image ends at 0x1000fff) but the guest has 16 MiB',
    );
    expectLoadError(
      () => planFlat(pattern(16), { loadAddress: 0xfffffff8, bits: 32, ramSize: 4 * 2 ** 30 }),
      'too-large',
      'image needs 0x100000008 bytes of RAM (image ends at 0x100000007) but the guest has 4 GiB',
    );
  });

  it('validates the options', () => {
    expectLoadError(
      () => planFlat(pattern(16), { loadAddress: -1, bits: 32, ramSize }),
      'unsupported',
      'load address must be an integer from 0 to 0xffffffff (got -1)',
    );
    expectLoadError(
      () => planFlat(pattern(16), { loadAddress: 0x1000, entry: 1.5, bits: 32, ramSize }),
      'unsupported',
      'entry point must be an integer from 0 to 0xffffffff (got 1.5)',
    );
    expectLoadError(
      () => planFlat(pattern(16), { loadAddress: 0x1000, bits: 64 as 32, ramSize }),
      'unsupported',
      'flat images are 16-bit or 32-bit (got 64)',
    );
  });

  it('rejects an empty image', () => {
    expectLoadError(() => planFlat(new Uint8Array(0), { loadAddress: 0, bits: 16, ramSize }), 'empty', 'image is empty');
  });
});
