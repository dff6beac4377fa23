// Telling a damaged Linux kernel from a disk image. A bzImage starts with a boot sector (0x55 0xAA
// at 510), so one whose "HdrS" signature is damaged would otherwise be refused as a disk image;
// these are the other marks a kernel leaves in its first sectors, so the user hears what it is.

import { BOOT_SECTOR_SIZE, hasBootSignature } from './bootsector.js';
import { bytesAt, hex } from './bytes.js';
import { LoadError } from './load-plan.js';

/** Documentation/arch/x86/boot.rst: the setup header signature. */
export const LINUX_HEADER_OFFSET = 0x202;
export const LINUX_HEADER_MAGIC: readonly number[] = [0x48, 0x64, 0x72, 0x53]; // "HdrS"

/** The messages of the boot sector stub of kernels without (and before) the EFI stub. */
const STUB_TEXTS = ['Use a boot loader.', 'Direct floppy boot is not supported.', 'Direct booting from floppy is no longer supported.'];

export function hasLinuxHeader(image: Uint8Array): boolean {
  return bytesAt(image, LINUX_HEADER_OFFSET, LINUX_HEADER_MAGIC);
}

/**
 * Whether an image without "HdrS" still looks like a Linux kernel: a boot sector followed by
 * more, and either a signature that differs from "HdrS" in at most two bytes, the EFI stub's
 * PE header (a PE file that is also a boot sector is how x86 kernels are built), or the text of
 * the kernel's boot sector stub.
 */
export function looksLikeLinuxKernel(image: Uint8Array): boolean {
  if (image.length <= BOOT_SECTOR_SIZE || !hasBootSignature(image) || hasLinuxHeader(image)) return false;
  return nearMissSignature(image) || hasPeStub(image) || hasStubText(image);
}

function nearMissSignature(image: Uint8Array): boolean {
  if (image.length < LINUX_HEADER_OFFSET + LINUX_HEADER_MAGIC.length) return false;
  let same = 0;
  LINUX_HEADER_MAGIC.forEach((b, i) => {
    if (image[LINUX_HEADER_OFFSET + i] === b) same++;
  });
  return same >= 2;
}

function hasPeStub(image: Uint8Array): boolean {
  if (image[0] !== 0x4d || image[1] !== 0x5a) return false; // "MZ"
  const peOffset = image[0x3c] | (image[0x3d] << 8) | (image[0x3e] << 16) | (image[0x3f] << 24);
  return peOffset > 0 && peOffset < BOOT_SECTOR_SIZE - 4 && bytesAt(image, peOffset, [0x50, 0x45, 0, 0]); // "PE\0\0"
}

function hasStubText(image: Uint8Array): boolean {
  const sector = new TextDecoder('latin1').decode(image.subarray(0, BOOT_SECTOR_SIZE));
  return STUB_TEXTS.some((text) => sector.includes(text));
}

/** The error for a Linux kernel whose setup header signature is damaged or missing. */
export function badLinuxHeaderError(image: Uint8Array): LoadError {
  const found = image.subarray(LINUX_HEADER_OFFSET, LINUX_HEADER_OFFSET + LINUX_HEADER_MAGIC.length);
  const printable = found.every((b) => b >= 0x20 && b < 0x7f);
  const shown = printable ? `"${new TextDecoder().decode(found)}"` : Array.from(found, (b) => hex(b)).join(' ');
  return new LoadError(
    'bad-header',
    `Linux kernel with a bad or missing setup header: the signature at 0x202 is ${shown}, not "HdrS" (a damaged bzImage?)`,
  );
}
