// A cut-off or damaged copy of Debian's kernel is refused with a message that says so, instead of
// starting and faulting in what is missing or being taken for a disk image.
import { existsSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { planImage } from '../../src/boot/detect.js';
import { expectLoadError } from './expect-load-error.js';
import { bootSector, pattern } from './image-builder.js';

const vmlinuz = fileURLToPath(new URL('../../guests/images/vmlinuz', import.meta.url));
const memtest = fileURLToPath(new URL('../../guests/images/memtest86+ia32.bin', import.meta.url));
const ramSize = 128 << 20;
const MiB = 1 << 20;

const kernel = () => new Uint8Array(readFileSync(vmlinuz));

describe.skipIf(!existsSync(vmlinuz))('a damaged Linux kernel', () => {
  it('cut at 1 MiB: the setup header says how long the protected-mode kernel is', () => {
    const whole = kernel();
    const setupEnd = (whole[0x1f1] + 1) * 512;
    const syssize = new DataView(whole.buffer).getUint32(0x1f4, true);
    const message =
      `truncated bzImage: the protected-mode kernel is ${syssize * 16} bytes (syssize 0x${syssize.toString(16)} at 0x1f4, ` +
      `in 16-byte units) but the file has only ${MiB - setupEnd} after the ${whole[0x1f1] + 1} setup sectors`;
    expectLoadError(() => planImage(whole.subarray(0, MiB), { ramSize }), 'truncated', message);
    expectLoadError(() => planImage(whole.subarray(0, MiB), { ramSize, format: 'linux' }), 'truncated', message);
  });

  it('cut by a single paragraph', () => {
    const whole = kernel();
    const setupEnd = (whole[0x1f1] + 1) * 512;
    const syssize = new DataView(whole.buffer).getUint32(0x1f4, true);
    const cut = whole.subarray(0, setupEnd + (syssize - 1) * 16);
    expect(() => planImage(cut, { ramSize })).toThrow(/^truncated bzImage: the protected-mode kernel is/);
  });

  it('"HdrS" damaged: a Linux kernel with a bad header, not a disk image', () => {
    const damaged = kernel();
    damaged[0x205] = 0x58; // "HdrX"
    const message = 'Linux kernel with a bad or missing setup header: the signature at 0x202 is "HdrX", not "HdrS" (a damaged bzImage?)';
    expectLoadError(() => planImage(damaged, { ramSize }), 'bad-header', message);
    expectLoadError(() => planImage(damaged, { ramSize, format: 'linux' }), 'bad-header', message);
  });

  it('"HdrS" wiped: recognised by the EFI stub\'s PE header in the boot sector', () => {
    const damaged = kernel();
    damaged.fill(0, 0x202, 0x206);
    expectLoadError(
      () => planImage(damaged, { ramSize }),
      'bad-header',
      'Linux kernel with a bad or missing setup header: the signature at 0x202 is 0x0 0x0 0x0 0x0, not "HdrS" (a damaged bzImage?)',
    );
  });
});

describe('what is not a damaged Linux kernel', () => {
  it.skipIf(!existsSync(memtest))('memtest86+, whose syssize rounds its size up to a paragraph, still loads', () => {
    expect(planImage(new Uint8Array(readFileSync(memtest)), { ramSize }).format).toBe('linux');
  });

  it('a disk image (boot sector and more, no kernel marks) is still refused as a disk image', () => {
    const image = bootSector({ length: 4096 });
    image.set(pattern(4096 - 512, 5), 512);
    expect(() => planImage(image, { ramSize })).toThrow(/^image is 4096 bytes but a boot sector is exactly 512/);
  });

  it('the text of an old kernel\'s boot sector stub marks a kernel', () => {
    const image = bootSector({ length: 4096 });
    image.set(new TextEncoder().encode('Use a boot loader.\r\n\nRemove disk and press any key to reboot...\r\n'), 0x40);
    expect(() => planImage(image, { ramSize })).toThrow(/^Linux kernel with a bad or missing setup header/);
  });
});
