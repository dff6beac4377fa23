// The VGA BIOS for the VGA of devices/vga: SeaVGABIOS built for QEMU's standard VGA, as Debian's
// `seabios` package installs it. SeaBIOS finds it in fw_cfg as `pci1234,1111.rom` (MachineConfig
// .vgaBios) and runs it; its stdvga code probes the Bochs VBE (DISPI) ports 0x1CE/0x1CF, finds
// nothing there, and drives the plain VGA registers. A ROM is checked as firmware reads one (PCI
// Local Bus Specification 3.0, §6.3.1): the 0xAA55 signature, its size in 512-byte units, and a
// "PCIR" data structure naming this VGA's vendor and device.
import { readFileSync } from 'node:fs';
import { describeErrno } from '../util/errno.js';
import { VGA_PCI_DEVICE, VGA_PCI_VENDOR } from '../devices/vga/pci-vga.js';

export const VGA_BIOS_PATH = '/usr/share/seabios/vgabios-stdvga.bin';

export class VgaBiosError extends Error {}

/** The VGA BIOS at `path`, checked; VgaBiosError says what is wrong with it. */
export function readVgaBios(path = VGA_BIOS_PATH): Uint8Array {
  let rom: Uint8Array;
  try {
    rom = new Uint8Array(readFileSync(path));
  } catch (error) {
    throw new VgaBiosError(`cannot read the VGA BIOS '${path}': ${describeErrno(error)}${path === VGA_BIOS_PATH ? " (Debian's seabios package installs it)" : ''}`);
  }
  const why = whyNotVgaBios(rom);
  if (why) throw new VgaBiosError(`'${path}' is not a VGA BIOS for this VGA: ${why}`);
  return rom;
}

/** What keeps `rom` from being this VGA's option ROM, or undefined. */
export function whyNotVgaBios(rom: Uint8Array): string | undefined {
  if (rom.length < 0x20 || rom[0] !== 0x55 || rom[1] !== 0xaa) return 'no option ROM signature (0x55 0xAA)';
  if (rom[2] * 512 > rom.length || rom[2] === 0) return `its header says ${rom[2] * 512} bytes, and the file has ${rom.length}`;
  const pcir = rom[0x18] | (rom[0x19] << 8);
  const text = String.fromCharCode(...rom.subarray(pcir, pcir + 4));
  if (pcir + 8 > rom.length || text !== 'PCIR') return 'no PCI data structure';
  const vendor = rom[pcir + 4] | (rom[pcir + 5] << 8);
  const device = rom[pcir + 6] | (rom[pcir + 7] << 8);
  if (vendor !== VGA_PCI_VENDOR || device !== VGA_PCI_DEVICE) {
    const hex = (n: number) => n.toString(16).padStart(4, '0');
    return `it is for PCI ${hex(vendor)}:${hex(device)}, not ${hex(VGA_PCI_VENDOR)}:${hex(VGA_PCI_DEVICE)}`;
  }
  return undefined;
}
