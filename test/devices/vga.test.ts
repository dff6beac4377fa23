// The VGA's registers as a guest reaches them through IN and OUT (IBM VGA Technical Reference;
// the read-back rules QEMU's vga.c and Bochs follow), its PCI function, and the text screen read
// from a RAM array.
import { beforeEach, describe, expect, it } from 'vitest';
import { PciHost } from '../../src/devices/pci-host.js';
import { PciConfig } from '../../src/devices/pci/pci-function.js';
import { Vga, VGA_PORT_COUNT } from '../../src/devices/vga/vga.js';
import { screenText, whyNoText } from '../../src/devices/vga/text-dump.js';
import type { Screen } from '../../src/devices/vga/text-screen.js';
import { egaPalette, leaveVgaTextMode } from '../../src/firmware/vga-text-mode.js';
import { PortBus } from '../../src/vmm/io-bus.js';
import { ports, type Ports } from './helpers.js';

const RAM_BYTES = 1 << 20;

/** A VGA whose PCI function has I/O decoding on, as firmware leaves it. */
function enabledVga(ram = new Uint8Array(RAM_BYTES)): { vga: Vga; io: Ports; ram: Uint8Array } {
  const vga = new Vga(ram);
  vga.pci.config.write(PciConfig.COMMAND, 2, 0x0003);
  return { vga, io: ports([0x3b0, VGA_PORT_COUNT, vga]), ram };
}

function seq(io: Ports, index: number, value?: number): number {
  io.outb(0x3c4, index);
  if (value !== undefined) io.outb(0x3c5, value);
  return io.inb(0x3c5);
}

function gc(io: Ports, index: number, value?: number): number {
  io.outb(0x3ce, index);
  if (value !== undefined) io.outb(0x3cf, value);
  return io.inb(0x3cf);
}

function crtc(io: Ports, index: number, value?: number, base = 0x3d4): number {
  io.outb(base, index);
  if (value !== undefined) io.outb(base + 1, value);
  return io.inb(base + 1);
}

/** Writes attribute register `index` and leaves the display on (palette address source set). */
function attribute(io: Ports, index: number, value: number): void {
  io.inb(0x3da);
  io.outb(0x3c0, index);
  io.outb(0x3c0, value);
  io.outb(0x3c0, 0x20);
}

/** The registers of the BIOS's mode 3 (80x25, color), as firmware leaves them. */
function textMode(): { vga: Vga; io: Ports; ram: Uint8Array } {
  const ram = new Uint8Array(RAM_BYTES);
  const vga = new Vga(ram);
  const host = new PciHost();
  host.plug(2, 0, vga.pci);
  const bus = new PortBus();
  bus.attach(0x3b0, VGA_PORT_COUNT, vga);
  bus.attach(0xcf8, 8, host);
  leaveVgaTextMode({ writePort: (port, size, value) => bus.write(port, size, value), readPort: (port) => bus.read(port, 1), ram, pciSlot: 2 });
  return { vga, io: ports([0x3b0, VGA_PORT_COUNT, vga]), ram };
}

function text(screen: Screen) {
  if (screen.kind !== 'text') throw new Error(`the screen is ${screen.kind}`);
  return screen;
}

describe('VGA registers', () => {
  let io: Ports;
  beforeEach(() => {
    ({ io } = enabledVga());
    io.outb(0x3c2, 0x67); // color: the CRT controller at 0x3D4
  });

  it('sequencer: a 3-bit index, and each register keeps the bits the part has', () => {
    io.outb(0x3c4, 0xfc);
    expect(io.inb(0x3c4)).toBe(0x04);
    expect(seq(io, 0, 0xff)).toBe(0x03);
    expect(seq(io, 1, 0xff)).toBe(0x3d);
    expect(seq(io, 2, 0xff)).toBe(0x0f);
    expect(seq(io, 3, 0xff)).toBe(0x3f);
    expect(seq(io, 4, 0xff)).toBe(0x0e);
    expect(seq(io, 5, 0xff)).toBe(0); // no register
    expect(seq(io, 2, 0x05)).toBe(0x05);
    expect(seq(io, 1)).toBe(0x3d); // the others kept theirs
  });

  it('graphics controller: a 4-bit index, nine registers with their bits', () => {
    const kept = [0x0f, 0x0f, 0x0f, 0x1f, 0x03, 0x7b, 0x0f, 0x0f, 0xff];
    kept.forEach((mask, index) => expect(gc(io, index, 0xff)).toBe(mask));
    expect(gc(io, 9, 0xff)).toBe(0);
    io.outb(0x3ce, 0x16);
    expect(io.inb(0x3ce)).toBe(0x06);
    expect(gc(io, 6, 0x0e)).toBe(0x0e);
  });

  it('attribute controller: index and data in turn through 0x3C0, the flip-flop reset by reading input status 1', () => {
    io.inb(0x3da);
    io.outb(0x3c0, 0x10); // index: mode control, palette address source clear
    expect(io.inb(0x3c0)).toBe(0); // between index and data
    io.outb(0x3c0, 0xff); // data
    expect(io.inb(0x3c0)).toBe(0x10); // back to index: reads the index
    expect(io.inb(0x3c1)).toBe(0xef); // bit 4 is reserved
    io.outb(0x3c0, 0x25); // an index again (palette 5), with palette address source
    io.outb(0x3c0, 0xff);
    expect(io.inb(0x3c0)).toBe(0x25);
    expect(io.inb(0x3c1)).toBe(0x3f); // six bits of DAC index
    // A lone index write leaves the flip-flop at data; reading input status 1 brings it back.
    io.outb(0x3c0, 0x12);
    io.inb(0x3da);
    io.outb(0x3c0, 0x13); // an index, not data for 0x12
    io.outb(0x3c0, 0xff);
    expect(io.inb(0x3c1)).toBe(0x0f);
    io.outb(0x3c0, 0x12);
    expect(io.inb(0x3c1)).toBe(0x00); // color plane enable was never written
    io.inb(0x3da);
    io.outb(0x3c0, 0x1f); // no register: reads 0
    expect(io.inb(0x3c1)).toBe(0);
  });

  it('CRT controller: cursor shape and location, start address and offset read back', () => {
    expect(crtc(io, 0x0a, 0x2d)).toBe(0x2d);
    expect(crtc(io, 0x0b, 0x0e)).toBe(0x0e);
    expect(crtc(io, 0x0c, 0x12)).toBe(0x12);
    expect(crtc(io, 0x0d, 0x34)).toBe(0x34);
    expect(crtc(io, 0x0e, 0x07)).toBe(0x07);
    expect(crtc(io, 0x0f, 0xd0)).toBe(0xd0);
    expect(crtc(io, 0x13, 0x28)).toBe(0x28);
    // The word-wide idiom: index in the low byte, data in the high byte.
    io.outw(0x3d4, 0x550f);
    expect(crtc(io, 0x0f)).toBe(0x55);
    io.outb(0x3d4, 0xe7);
    expect(io.inb(0x3d4)).toBe(0xe7);
    expect(io.inb(0x3d5)).toBe(0); // past 0x18: no register
  });

  it('CRT controller: bit 7 of register 0x11 protects registers 0-7, except the line compare bit of 7', () => {
    crtc(io, 0x00, 0x5f);
    crtc(io, 0x07, 0x00);
    crtc(io, 0x11, 0x8e);
    expect(crtc(io, 0x00, 0x11)).toBe(0x5f);
    expect(crtc(io, 0x07, 0xff)).toBe(0x10);
    expect(crtc(io, 0x08, 0xff)).toBe(0xff); // 8 and up are not protected
    crtc(io, 0x11, 0x0e);
    expect(crtc(io, 0x00, 0x11)).toBe(0x11);
  });

  it('the miscellaneous output register moves the CRT controller and input status 1 between 0x3Dx and 0x3Bx', () => {
    expect(io.inb(0x3cc)).toBe(0x67);
    crtc(io, 0x0e, 0x01);
    expect(io.inb(0x3b5)).toBe(0xff); // the monochrome block does not answer
    io.outb(0x3b4, 0x0e);
    io.outb(0x3b5, 0x99); // ignored
    expect(crtc(io, 0x0e)).toBe(0x01);
    io.outb(0x3c2, 0x66); // monochrome
    expect(io.inb(0x3cc)).toBe(0x66);
    expect(io.inb(0x3d5)).toBe(0xff);
    expect(io.inb(0x3da)).toBe(0xff);
    expect(crtc(io, 0x0e, undefined, 0x3b4)).toBe(0x01); // the same registers, at 0x3B4/5
    expect(crtc(io, 0x0e, 0x02, 0x3b4)).toBe(0x02);
    expect(io.inb(0x3ba) & 0x09).not.toBe(io.inb(0x3ba) & 0x09);
    io.outb(0x3c2, 0xff);
    expect(io.inb(0x3cc)).toBe(0xef); // bit 4 is reserved
  });

  it('input status 1 toggles retrace and display enable at each read, so retrace loops end', () => {
    const first = io.inb(0x3da);
    const second = io.inb(0x3da);
    expect(first ^ second).toBe(0x09);
    expect(io.inb(0x3da)).toBe(first);
    // Feature control: written there, read at 0x3CA.
    io.outb(0x3da, 0xff);
    expect(io.inb(0x3ca)).toBe(0x0b);
  });

  it('DAC: three 6-bit components a color, the index moving on; reads likewise; its state and pel mask', () => {
    io.outb(0x3c8, 0xfe);
    for (const value of [0x3f, 0x40, 0x15, 0x01, 0x02, 0x03, 0x2a]) io.outb(0x3c9, value);
    expect(io.inb(0x3c7)).toBe(0); // writing
    expect(io.inb(0x3c8)).toBe(0x00); // past 0xFF, with one component of color 0 pending
    io.outb(0x3c7, 0xfe);
    expect(io.inb(0x3c7)).toBe(3); // reading
    expect(Array.from({ length: 6 }, () => io.inb(0x3c9))).toEqual([0x3f, 0x00, 0x15, 0x01, 0x02, 0x03]);
    expect(io.inb(0x3c9)).toBe(0); // color 0 was never completed
    io.outb(0x3c6, 0x5a);
    expect(io.inb(0x3c6)).toBe(0x5a);
  });

  it('ports of the 0x3C0 block that are no register read 0; the rest of the range reads 0xFF', () => {
    expect(io.inb(0x3c3)).toBe(0);
    expect(io.inb(0x3cd)).toBe(0);
    expect(io.inb(0x3d0)).toBe(0xff);
    expect(io.inb(0x3df)).toBe(0xff);
  });

  it('nothing answers while the PCI function has I/O space off', () => {
    const vga = new Vga(new Uint8Array(RAM_BYTES));
    const off = ports([0x3b0, VGA_PORT_COUNT, vga]);
    off.outb(0x3c2, 0x67);
    expect(off.inb(0x3cc)).toBe(0xff);
    vga.pci.config.write(PciConfig.COMMAND, 2, 0x0001);
    expect(off.inb(0x3cc)).toBe(0x00); // the write above was not taken
  });

  it('keeps every register across a snapshot', () => {
    const { vga, io: a } = enabledVga();
    a.outb(0x3c2, 0x67);
    seq(a, 2, 0x03);
    gc(a, 5, 0x10);
    crtc(a, 0x0e, 0x12);
    attribute(a, 0x10, 0x0c);
    a.outb(0x3c8, 7);
    a.outb(0x3c9, 0x11);
    a.inb(0x3da);
    a.outb(0x3c0, 0x31); // leaves the flip-flop at data, index 0x11 (overscan)
    const copy = new Vga(new Uint8Array(RAM_BYTES));
    copy.pci.config.write(PciConfig.COMMAND, 2, 0x0001);
    copy.restore(vga.snapshot());
    const b = ports([0x3b0, VGA_PORT_COUNT, copy]);
    b.outb(0x3c0, 0x2a); // data for 0x11
    expect(b.inb(0x3c1)).toBe(0x2a);
    expect(b.inb(0x3cc)).toBe(0x67);
    expect(seq(b, 2)).toBe(0x03);
    expect(gc(b, 5)).toBe(0x10);
    expect(crtc(b, 0x0e)).toBe(0x12);
    b.outb(0x3c9, 0x22);
    b.outb(0x3c9, 0x33);
    b.outb(0x3c7, 7);
    expect([b.inb(0x3c9), b.inb(0x3c9), b.inb(0x3c9)]).toEqual([0x11, 0x22, 0x33]);
  });
});

describe('the VGA as PCI function 00:02.0', () => {
  it('is QEMU\'s standard VGA, 1234:1111, a VGA-compatible display controller, its I/O and memory enables writable', () => {
    const vga = new Vga(new Uint8Array(RAM_BYTES));
    const host = new PciHost();
    host.plug(2, 0, vga.pci);
    const io = ports([0xcf8, 8, host]);
    const select = (register: number) => io.outl(0xcf8, (0x80000000 | (2 << 11) | register) >>> 0);
    select(0x00);
    expect(io.inl(0xcfc)).toBe(0x11111234);
    select(0x08);
    expect(io.inl(0xcfc) >>> 8).toBe(0x030000);
    select(0x04);
    io.outw(0xcfc, 0xffff);
    expect(io.inw(0xcfc)).toBe(0x0003);
    expect(vga.pci.decodesIo).toBe(true);
    select(0x10);
    io.outl(0xcfc, 0xffffffff);
    expect(io.inl(0xcfc)).toBe(0); // no BARs
  });
});

describe('the text screen', () => {
  /** Puts `text` at cell `cell` of the color text buffer, with `attribute`. */
  const put = (ram: Uint8Array, cell: number, text: string, attribute: number, base = 0xb8000) => {
    for (let i = 0; i < text.length; i++) {
      ram[base + (cell + i) * 2] = text.charCodeAt(i);
      ram[base + (cell + i) * 2 + 1] = attribute;
    }
  };

  it('as the BIOS leaves mode 3: 80x25, blank, the cursor at the top left', () => {
    const { vga, ram } = textMode();
    const screen = text(vga.screen());
    expect([screen.columns, screen.rows]).toEqual([80, 25]);
    expect(screen.cells.every((cell) => cell === 0x0720)).toBe(true);
    expect(screen.cursor).toEqual({ row: 0, column: 0, visible: true });
    expect(screen.blink).toBe(true);
    expect(screen.monochrome).toBe(false);
    // The BIOS data area: mode 3, 80 columns, 25 rows, 16-line characters, the CRTC at 0x3D4.
    expect(ram[0x449]).toBe(3);
    expect(ram[0x44a]).toBe(80);
    expect(ram[0x484]).toBe(24);
    expect(ram[0x485]).toBe(16);
    expect(ram[0x463] | (ram[0x464] << 8)).toBe(0x3d4);
    expect(ram[0x410] & 0x30).toBe(0x20);
  });

  it('loads the EGA palette: color 1 blue, 6 brown-as-yellow, 0x3F white', () => {
    const { io } = textMode();
    const color = (index: number) => {
      io.outb(0x3c7, index);
      return [io.inb(0x3c9), io.inb(0x3c9), io.inb(0x3c9)];
    };
    expect(color(1)).toEqual([0, 0, 0x2a]);
    expect(color(0x14)).toEqual([0x2a, 0x15, 0]);
    expect(color(0x3f)).toEqual([0x3f, 0x3f, 0x3f]);
    expect(color(0x40)).toEqual([0, 0, 0]);
    expect(egaPalette()).toHaveLength(64 * 3);
  });

  it('reads characters and attributes from RAM at 0xB8000, row by row', () => {
    const { vga, ram } = textMode();
    put(ram, 0, 'top left', 0x07);
    put(ram, 12 * 80 + 34, 'VGA TEXT OK', 0x1f);
    put(ram, 24 * 80 + 76, 'end!', 0x4e);
    const screen = text(vga.screen());
    expect(screen.cells[12 * 80 + 34]).toBe(0x1f00 | 'V'.charCodeAt(0));
    expect(screen.cells[24 * 80 + 79]).toBe(0x4e00 | '!'.charCodeAt(0));
    const lines = screenText(screen).split('\n');
    expect(lines).toHaveLength(26); // 25 rows, each ending in a newline
    expect(lines[0]).toBe('top left');
    expect(lines[12]).toBe(' '.repeat(34) + 'VGA TEXT OK');
    expect(lines[24]).toBe(' '.repeat(76) + 'end!');
    expect(lines[1]).toBe('');
  });

  it('starts at the CRT controller\'s start address, and places the cursor relative to it', () => {
    const { vga, io, ram } = textMode();
    put(ram, 80, 'second row of memory', 0x07);
    crtc(io, 0x0c, 0x00);
    crtc(io, 0x0d, 80); // scrolled by one row
    crtc(io, 0x0e, 0x00);
    crtc(io, 0x0f, 80 + 80 + 5); // row 2 of memory, column 5
    const screen = text(vga.screen());
    expect(screenText(screen).split('\n')[0]).toBe('second row of memory');
    expect(screen.cursor).toEqual({ row: 1, column: 5, visible: true });
    // The start address wraps in the 32 KiB window: cell 0x4000 is cell 0.
    put(ram, 0, 'wrapped', 0x07);
    crtc(io, 0x0c, 0x3f);
    crtc(io, 0x0d, 0xff); // the last cell of the window
    expect(screenText(vga.screen()).split('\n')[0]).toBe(' wrapped');
  });

  it('follows the CRT controller\'s geometry: columns, offset, rows from scan lines and character height', () => {
    const { vga, io, ram } = textMode();
    crtc(io, 0x11, 0x0e); // lift the protection
    crtc(io, 0x01, 39); // 40 columns
    crtc(io, 0x13, 20); // rows 40 cells apart
    crtc(io, 0x09, 0x47); // 8-line characters: 400 lines hold 50 rows
    put(ram, 40, 'row 1', 0x07);
    const screen = text(vga.screen());
    expect([screen.columns, screen.rows]).toEqual([40, 50]);
    expect(screenText(screen).split('\n')[1]).toBe('row 1');
    crtc(io, 0x09, 0xc7); // scan doubling: 25 rows
    expect(text(vga.screen()).rows).toBe(25);
  });

  it('hides the cursor when disabled, when its start line is past its end, or when it is off the screen', () => {
    const { vga, io } = textMode();
    crtc(io, 0x0a, 0x2d);
    expect(text(vga.screen()).cursor.visible).toBe(false);
    crtc(io, 0x0a, 0x0f);
    crtc(io, 0x0b, 0x0e);
    expect(text(vga.screen()).cursor.visible).toBe(false);
    crtc(io, 0x0a, 0x0d);
    expect(text(vga.screen()).cursor.visible).toBe(true);
    crtc(io, 0x0e, 0x07);
    crtc(io, 0x0f, 0xd0); // cell 2000: just past the last row
    expect(text(vga.screen()).cursor).toEqual({ row: 25, column: 0, visible: false });
  });

  it('reads the monochrome buffer at 0xB0000 when the I/O address select says monochrome', () => {
    const { vga, io, ram } = textMode();
    put(ram, 0, 'mono', 0x07, 0xb0000);
    put(ram, 0, 'color', 0x07);
    expect(screenText(vga.screen()).split('\n')[0]).toBe('color');
    io.outb(0x3c2, 0x66);
    expect(screenText(vga.screen()).split('\n')[0]).toBe('mono');
  });

  it('is blank while the palette address source is clear or the sequencer turns the screen off, and has no text in a graphics mode', () => {
    const { vga, io } = textMode();
    io.inb(0x3da);
    io.outb(0x3c0, 0x00);
    expect(vga.screen().kind).toBe('blank');
    expect(screenText(vga.screen())).toBe('');
    expect(whyNoText(vga.screen())).toMatch(/palette address source/);
    io.outb(0x3c0, 0x00);
    io.outb(0x3c0, 0x20);
    expect(vga.screen().kind).toBe('text');
    const clocking = seq(io, 1);
    seq(io, 1, clocking | 0x20);
    expect(whyNoText(vga.screen())).toMatch(/screen-off/);
    seq(io, 1, clocking);
    gc(io, 6, 0x05);
    expect(vga.screen().kind).toBe('graphics');
    expect(whyNoText(vga.screen())).toMatch(/graphics mode/);
  });

  it('dumps code page 437 as it looks: box drawing, control glyphs, blanks for 0x00 and 0xFF', () => {
    const { vga, ram } = textMode();
    put(ram, 0, '\xc9\xcd\xbb\x01\x00\xff\xb0x', 0x07);
    expect(screenText(vga.screen()).split('\n')[0]).toBe('╔═╗☺  ░x');
  });
});
