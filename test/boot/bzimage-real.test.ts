// The Linux loader against real images fetched by scripts/fetch-guest-images.sh
// (Debian's i386 kernel, the test initramfs and memtest86+); skipped when absent.
import { existsSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { parseSetupHeader } from '../../src/boot/bzimage.js';
import { planImage } from '../../src/boot/detect.js';
import { u32At } from './image-builder.js';

const image = (name: string) => fileURLToPath(new URL(`../../guests/images/${name}`, import.meta.url));
const vmlinuz = image('vmlinuz');
const initrdPath = image('initrd.gz');
const memtest = image('memtest86+ia32.bin');
const ramSize = 128 << 20;

describe('real Linux-boot-protocol images', () => {
  it.skipIf(!existsSync(vmlinuz))("Debian's i386 kernel is a relocatable bzImage with protocol 2.06 or later", () => {
    const kernel = new Uint8Array(readFileSync(vmlinuz));
    const header = parseSetupHeader(kernel);
    expect(header.version).toBeGreaterThanOrEqual(0x0206);
    expect(header.loadflags & 1).toBe(1);
    expect(header.relocatable).toBe(true);
    expect(header.code32Start).toBe(0x100000);
    expect(header.kernelVersion).toMatch(/^\d+\.\d+\.\d+-\d+-686$/);

    const initrd = existsSync(initrdPath) ? new Uint8Array(readFileSync(initrdPath)) : new Uint8Array([0x1f, 0x8b]);
    const plan = planImage(kernel, { ramSize, cmdline: 'console=ttyS0 quiet panic=-1', initrd });
    expect(plan.format).toBe('linux');
    expect(plan.description).toMatch(/^Linux bzImage \d+\.\d+\.\d+-\d+-686, boot protocol 2\.\d\d, entry 0x100000, initrd \d+ bytes at 0x[0-9a-f]+$/);
    expect(plan.entry).toEqual({ cs: 0x10, eip: 0x100000 });
    // The protected-mode kernel is the rest of the file (compared as Buffers: deep equality of MiBs is slow).
    const payload = plan.chunks[0];
    expect(payload.guestPhys).toBe(0x100000);
    expect(Buffer.compare(payload.bytes, kernel.subarray((header.setupSects + 1) * 512))).toBe(0);
    const zeroPage = plan.chunks.find((c) => c.guestPhys === 0x10000)!.bytes;
    const ramdiskImage = u32At(zeroPage, 0x218);
    expect(u32At(zeroPage, 0x21c)).toBe(initrd.length);
    expect(ramdiskImage % 4096).toBe(0);
    expect(ramdiskImage + initrd.length).toBeLessThanOrEqual(ramSize);
    expect(ramdiskImage).toBeGreaterThanOrEqual((header.prefAddress ?? 0) + (header.initSize ?? 0));
  });

  it.skipIf(!existsSync(memtest))('memtest86+ia32.bin boots through the same protocol', () => {
    const plan = planImage(new Uint8Array(readFileSync(memtest)), { ramSize, cmdline: 'console=ttyS0' });
    expect(plan.format).toBe('linux');
    expect(plan.description).toMatch(/^Linux bzImage Memtest86\+ v\d+\.\d+, boot protocol 2\.\d\d, entry 0x100000$/);
  });
});
