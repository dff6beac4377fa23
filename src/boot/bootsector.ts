// A PC boot sector: 512 bytes ending in the 0x55 0xAA signature, loaded at
// 0000:7C00 and entered in real mode the way a BIOS hands over after INT 19h.

import { bytesAt, hex } from './bytes.js';
import { checkPlacement, checkRamSize } from './memory.js';
import { LoadError, type LoadPlan } from './load-plan.js';
import { INITIAL_EFLAGS } from './protected-mode.js';

export const BOOT_SECTOR_SIZE = 512;
export const BOOT_SECTOR_ADDRESS = 0x7c00;
export const BOOT_SIGNATURE_OFFSET = 510;
export const BOOT_SIGNATURE: readonly number[] = [0x55, 0xaa];
/** DL at hand-over: the BIOS drive number booted from, 0x80 = first hard disk. */
const BOOT_DRIVE = 0x80;

export function hasBootSignature(image: Uint8Array): boolean {
  return bytesAt(image, BOOT_SIGNATURE_OFFSET, BOOT_SIGNATURE);
}

export function planBootSector(image: Uint8Array, opts: { ramSize: number }): LoadPlan {
  checkRamSize(opts.ramSize);
  if (image.length === 0) throw new LoadError('empty', 'image is empty');
  if (image.length > BOOT_SECTOR_SIZE) {
    throw new LoadError(
      'unsupported',
      `image is ${image.length} bytes but a boot sector is exactly ${BOOT_SECTOR_SIZE} (disk images are not supported; ` +
        `for a larger real-mode program use --format flat --load-address 0x7c00 --bits 16)`,
    );
  }
  if (image.length < BOOT_SECTOR_SIZE) {
    throw new LoadError(
      'truncated',
      `truncated boot sector: the image is ${image.length} bytes, a boot sector is ${BOOT_SECTOR_SIZE}`,
    );
  }
  if (!hasBootSignature(image)) {
    throw new LoadError(
      'bad-header',
      `boot sector has no boot signature: bytes 510-511 are ${hex(image[510])} ${hex(image[511])}, not 0x55 0xaa`,
    );
  }
  checkPlacement({
    ramSize: opts.ramSize,
    subject: 'boot sector',
    payload: [{ start: BOOT_SECTOR_ADDRESS, end: BOOT_SECTOR_ADDRESS + BOOT_SECTOR_SIZE, what: 'boot sector' }],
    reserved: [],
  });
  return {
    format: 'bootsector',
    description: 'boot sector, entry 0000:7c00',
    cpuMode: 'real16',
    chunks: [{ guestPhys: BOOT_SECTOR_ADDRESS, bytes: image }],
    zeroRanges: [],
    entry: { cs: 0, eip: BOOT_SECTOR_ADDRESS },
    registers: { edx: BOOT_DRIVE, esp: BOOT_SECTOR_ADDRESS, eflags: INITIAL_EFLAGS },
    segments: { ds: 0, es: 0, ss: 0, fs: 0, gs: 0 },
    reserved: [],
  };
}
