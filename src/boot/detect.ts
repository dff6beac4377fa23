// Chooses the loader for an image, either as the user says or by looking at
// the bytes, and reports images it recognises but cannot boot by name.

import { BOOT_SECTOR_SIZE, hasBootSignature, planBootSector } from './bootsector.js';
import { planBzImage } from './bzimage.js';
import { isElf, parseElf32 } from './elf32.js';
import { planFlat } from './flat.js';
import { badLinuxHeaderError, hasLinuxHeader, looksLikeLinuxKernel } from './linux-evidence.js';
import { LoadError, type LoadPlan } from './load-plan.js';
import { checkRamSize } from './memory.js';
import { hasMultibootHeader, planMultiboot, scanMultibootHeader, type BootModule, type MultibootOptions } from './multiboot.js';

export type ImageFormat = 'auto' | 'flat' | 'bootsector' | 'multiboot' | 'linux';

export interface PlanImageOptions {
  ramSize: number;
  cmdline?: string;
  format?: ImageFormat;
  /** Required for format 'flat'; unused otherwise. */
  flat?: { loadAddress: number; entry?: number; bits: 16 | 32 };
  /** An initial ramdisk; only a Linux kernel can take one. */
  initrd?: Uint8Array;
  /** Boot modules; only a multiboot kernel can take them. */
  modules?: readonly BootModule[];
  /** The kernel's name, which a multiboot kernel finds as its command line's first word. */
  kernelName?: string;
}

export function planImage(image: Uint8Array, opts: PlanImageOptions): LoadPlan {
  const { ramSize, cmdline, initrd } = opts;
  checkRamSize(ramSize);
  if (image.length === 0) throw new LoadError('empty', 'image is empty');
  const format = opts.format ?? 'auto';
  if (initrd && format !== 'auto' && format !== 'linux') throw initrdNeedsLinux();
  if (opts.modules && format !== 'auto' && format !== 'multiboot') throw modulesNeedMultiboot();
  const multiboot = { ramSize, cmdline, modules: opts.modules, kernelName: opts.kernelName };

  switch (format) {
    case 'flat':
      if (!opts.flat) throw new LoadError('unsupported', 'flat images need a load address (--load-address)');
      return planFlat(image, { ...opts.flat, ramSize });
    case 'bootsector':
      return planBootSector(image, { ramSize });
    case 'multiboot':
      return planMultiboot(image, multiboot);
    case 'linux':
      // Said to be Linux, with a boot sector in front: the header is what is wrong.
      if (!hasLinuxHeader(image) && image.length > BOOT_SECTOR_SIZE && hasBootSignature(image)) {
        throw badLinuxHeaderError(image);
      }
      return planBzImage(image, { ramSize, cmdline, initrd });
    case 'auto': {
      const plan = planDetected(image, multiboot, initrd);
      if (initrd && plan.format !== 'linux') throw initrdNeedsLinux();
      if (opts.modules && plan.format !== 'multiboot') throw modulesNeedMultiboot();
      return plan;
    }
    default:
      throw new LoadError('unsupported', `unknown image format '${String(opts.format)}'`);
  }
}

function initrdNeedsLinux(): LoadError {
  return new LoadError('unsupported', 'an initrd needs a Linux bzImage kernel');
}

function modulesNeedMultiboot(): LoadError {
  return new LoadError('unsupported', 'boot modules need a multiboot kernel');
}

/**
 * Detection order: a multiboot header wins (it is the only explicit claim an
 * image makes, and multiboot ELF kernels are ELF files too); then the 512-byte
 * boot sector; then a Linux bzImage; then formats that are recognised only to
 * be refused clearly.
 */
function planDetected(image: Uint8Array, options: MultibootOptions, initrd: Uint8Array | undefined): LoadPlan {
  const { ramSize, cmdline } = options;
  // The whole file is scanned only to explain a refusal.
  if (hasMultibootHeader(image)) return planMultiboot(image, options);
  if (image.length === BOOT_SECTOR_SIZE && hasBootSignature(image)) return planBootSector(image, { ramSize });
  // A bzImage also ends its first sector with 0x55 0xAA, so check it before
  // treating a longer signed image as a mistaken boot sector.
  if (hasLinuxHeader(image)) return planBzImage(image, { ramSize, cmdline, initrd });
  const multiboot = scanMultibootHeader(image);
  // A broken multiboot header is reported as such rather than as "unknown".
  if (multiboot.kind !== 'none') return planMultiboot(image, options);
  // A kernel whose "HdrS" is damaged is not a disk image.
  if (looksLikeLinuxKernel(image)) throw badLinuxHeaderError(image);
  if (hasBootSignature(image)) return planBootSector(image, { ramSize });
  if (isElf(image)) {
    // A damaged ELF file says so (a cut-off file may have lost its multiboot
    // header), as does a 64-bit one, before the generic complaint.
    const elf = parseElf32(image);
    for (const segment of elf.loadSegments()) elf.segmentData(segment);
    throw new LoadError(
      'unknown-format',
      'ELF file without a multiboot header: ELF kernels boot through multiboot v1 (header in the first 8192 bytes)',
    );
  }
  throw new LoadError(
    'unknown-format',
    'unrecognised image: no multiboot header in the first 8192 bytes, not a 512-byte boot sector ending in 0x55 0xaa, ' +
      'not a bzImage or ELF file; for a raw binary use --format flat --load-address <address>',
  );
}
