// What the firmware leaves a VGA in when it hands the machine to a boot loader, for the guests
// `vmm` starts without firmware (as bios-state.ts does for the rest of the PC): the system BIOS
// turns on the PCI function's I/O and memory decoding (SeaBIOS's pci_bios_init_device), and the
// VGA BIOS sets mode 3, 80x25 color text, as SeaVGABIOS's stdvga_setup and stdvga_set_mode do,
// with IBM's register values for the mode (SeaVGABIOS's stdvgamodes.c tables, the IBM VGA
// Technical Reference's): the EGA palette in the DAC, the attribute controller, sequencer,
// graphics controller and CRT controller loaded, the miscellaneous output register set, the
// display enabled, the 32 KiB at 0xB8000 cleared to light grey spaces, and the BIOS data area's
// video fields. The font is not loaded: this VGA has no planes to hold one (docs/vga.md).
import { BDA_BASE, BiosDataArea } from './bios-data-area.js';

export const TEXT_MODE = 3;
const COLOR_TEXT_BASE = 0xb8000;
const CLEARED_CELL = 0x0720; // a space, light grey on black
const TEXT_WINDOW_BYTES = 0x8000;

const MISC_OUTPUT = 0x67;
const SEQUENCER = [0x03, 0x00, 0x03, 0x00, 0x02];
const GRAPHICS = [0x00, 0x00, 0x00, 0x00, 0x00, 0x10, 0x0e, 0x0f, 0xff];
const ATTRIBUTE = [
  0x00, 0x01, 0x02, 0x03, 0x04, 0x05, 0x14, 0x07, 0x38, 0x39, 0x3a, 0x3b, 0x3c, 0x3d, 0x3e, 0x3f,
  0x0c, 0x00, 0x0f, 0x08, 0x00,
];
const CRTC = [
  0x5f, 0x4f, 0x50, 0x82, 0x55, 0x81, 0xbf, 0x1f, 0x00, 0x4f, 0x0d, 0x0e, 0x00, 0x00, 0x00, 0x00,
  0x9c, 0x8e, 0x8f, 0x28, 0x1f, 0x96, 0xb9, 0xa3, 0xff,
];
const CRTC_VERTICAL_RETRACE_END = 0x11;
const PALETTE_ADDRESS_SOURCE = 0x20;

const PCI_CONFIG_ADDRESS = 0xcf8;
const PCI_CONFIG_DATA = 0xcfc;
const PCI_COMMAND = 0x04;
const PCI_COMMAND_IO_MEMORY = 0x03;

export interface VgaTextModeOptions {
  /** Writes `size` bytes to an I/O port: the VGA and its PCI function are programmed through their ports. */
  writePort(port: number, size: number, value: number): void;
  readPort(port: number): number;
  /** Guest RAM from 0: the text buffer and the BIOS data area. */
  ram: Uint8Array;
  /** The VGA's PCI device number on bus 0 (function 0). */
  pciSlot: number;
}

/**
 * The EGA palette SeaVGABIOS loads for the text modes (pal_ega): color i has red, green and blue
 * from bits 2, 1, 0 (two thirds of full scale) and bits 5, 4, 3 (one third).
 */
export function egaPalette(): number[] {
  const palette: number[] = [];
  for (let i = 0; i < 64; i++) {
    const component = (high: number, low: number) => ((i >> high) & 1) * 0x2a + ((i >> low) & 1) * 0x15;
    palette.push(component(2, 5), component(1, 4), component(0, 3));
  }
  return palette;
}

export function leaveVgaTextMode({ writePort, readPort, ram, pciSlot }: VgaTextModeOptions): void {
  const out = (port: number, value: number) => writePort(port, 1, value);
  writePort(PCI_CONFIG_ADDRESS, 4, (0x80000000 | (pciSlot << 11) | PCI_COMMAND) >>> 0);
  writePort(PCI_CONFIG_DATA, 2, PCI_COMMAND_IO_MEMORY);
  writePort(PCI_CONFIG_ADDRESS, 4, 0);

  out(0x3c2, 0xc3); // stdvga_setup: color, RAM enabled
  out(0x3c4, 0x04);
  out(0x3c5, 0x02);
  // The DAC: the 64 colors, then black for the rest.
  out(0x3c6, 0xff);
  out(0x3c8, 0);
  const palette = egaPalette();
  for (let i = 0; i < 256 * 3; i++) out(0x3c9, i < palette.length ? palette[i] : 0);
  // The attribute controller: index, then data, through one port; the flip-flop reset first.
  readPort(0x3da);
  for (let i = 0; i < ATTRIBUTE.length; i++) {
    out(0x3c0, i);
    out(0x3c0, ATTRIBUTE[i]);
  }
  SEQUENCER.forEach((value, i) => {
    out(0x3c4, i);
    out(0x3c5, value);
  });
  GRAPHICS.forEach((value, i) => {
    out(0x3ce, i);
    out(0x3cf, value);
  });
  out(0x3d4, CRTC_VERTICAL_RETRACE_END); // lift the write protection of registers 0-7 first
  out(0x3d5, 0);
  CRTC.forEach((value, i) => {
    out(0x3d4, i);
    out(0x3d5, value);
  });
  out(0x3c2, MISC_OUTPUT);
  out(0x3c0, PALETTE_ADDRESS_SOURCE); // the display on

  const cells = new DataView(ram.buffer, ram.byteOffset + COLOR_TEXT_BASE, TEXT_WINDOW_BYTES);
  for (let at = 0; at < TEXT_WINDOW_BYTES; at += 2) cells.setUint16(at, CLEARED_CELL, true);
  new BiosDataArea(ram.subarray(BDA_BASE, BDA_BASE + 0x100)).fillTextMode({
    mode: TEXT_MODE, columns: 80, rows: 25, charHeight: 16, crtcPort: 0x3d4,
  });
}
