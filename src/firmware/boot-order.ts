// The order in which the firmware tries boot devices, in QEMU's vocabulary (`-boot order=cad`):
// a floppy, c the first hard disk, d the CD-ROM, n the network. QEMU's PC default is "cad".
export type BootDevice = 'floppy' | 'disk' | 'cdrom' | 'network';

const LETTERS: Record<string, BootDevice> = { a: 'floppy', c: 'disk', d: 'cdrom', n: 'network' };
export const DEFAULT_BOOT_ORDER = 'cad';
/** SeaBIOS reads three devices from the CMOS (cmos-rtc.ts). */
const MAX_DEVICES = 3;

export class BadBootOrder extends Error {}

/** "cad" as devices; an unknown or repeated letter, or more than three, is a BadBootOrder. */
export function parseBootOrder(letters: string): BootDevice[] {
  if (letters.length === 0 || letters.length > MAX_DEVICES) {
    throw new BadBootOrder(`boot order '${letters}': give one to ${MAX_DEVICES} of the letters a (floppy), c (hard disk), d (CD-ROM), n (network)`);
  }
  const devices: BootDevice[] = [];
  for (const letter of letters) {
    const device = LETTERS[letter];
    if (!device) throw new BadBootOrder(`boot order '${letters}': '${letter}' is not a boot device; give a (floppy), c (hard disk), d (CD-ROM) or n (network)`);
    if (devices.includes(device)) throw new BadBootOrder(`boot order '${letters}': '${letter}' is given twice`);
    devices.push(device);
  }
  return devices;
}
