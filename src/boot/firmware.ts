// A PC's firmware as the machine's first code: the ROM image goes at the top of the 4 GiB space
// (the flash, read-only: firmware-flash.ts) and its last bytes also end at 1 MiB, in RAM, as the
// firmware's shadow. A PC decodes the flash's last 128 KiB at 0xE0000 (QEMU's isa-bios alias)
// until the firmware copies itself into shadow RAM; SeaBIOS's 256 KiB build copies more, down to
// 0xC0000 (its code32flat area; src/fw/shadow.c, the flash at 0xFFF00000 + the low address). The
// i440FX here says the shadow is RAM from power-on (pci-host.ts), so that copy is made now, the
// last 256 KiB at most, and SeaBIOS goes on as it does after a reboot. The CPU starts at the reset vector
// in real mode (SDM Vol. 3 §9.1.4: CS 0xF000, IP 0xFFF0). After RESET the CPU's hidden CS base is
// 0xFFFF0000, so its first fetch is from the flash; here CS's base is 0xF0000, the alias of the
// same bytes: the first instruction, a far jump, reloads CS either way.
import { LoadError, type LoadPlan } from './load-plan.js';

/** The shadow below 1 MiB that holds the flash's last bytes: 0xC0000-0xFFFFF at most. */
export const SHADOW_BYTES = 256 * 1024;
const LOW_BIOS_END = 0x100000;
/** A flash is a whole number of 64 KiB blocks; 16 MiB is more than any PC BIOS. */
const FLASH_BLOCK = 64 * 1024;
const MAX_FLASH_BYTES = 16 * 1024 * 1024;
const RESET_SEGMENT = 0xf000;
const RESET_OFFSET = 0xfff0;
/** Where the reset vector is, from the end of the image. */
const RESET_VECTOR_FROM_END = 16;

/** Where the flash is mapped: its last byte at 0xFFFFFFFF. */
export function flashBase(bytes: number): number {
  return 0x100000000 - bytes;
}

export function planFirmware(image: Uint8Array, name: string): LoadPlan {
  if (image.length === 0) throw new LoadError('empty', `${name}: the firmware image is empty`);
  if (image.length % FLASH_BLOCK !== 0 || image.length > MAX_FLASH_BYTES) {
    throw new LoadError('bad-header', `${name}: a firmware image is a whole number of 64 KiB blocks up to 16 MiB (this one is ${image.length} bytes)`);
  }
  const resetVector = image.subarray(image.length - RESET_VECTOR_FROM_END);
  if (resetVector.every((byte) => byte === 0) || resetVector.every((byte) => byte === 0xff)) {
    throw new LoadError('bad-header', `${name}: not a firmware image: nothing at its reset vector`);
  }
  const low = image.subarray(Math.max(0, image.length - SHADOW_BYTES));
  return {
    format: 'firmware',
    description: `firmware ${name} (${image.length >> 10} KiB), from the reset vector`,
    cpuMode: 'real16',
    chunks: [{ guestPhys: LOW_BIOS_END - low.length, bytes: low }],
    zeroRanges: [],
    entry: { cs: RESET_SEGMENT, eip: RESET_OFFSET },
    registers: {},
    reserved: [],
  };
}
