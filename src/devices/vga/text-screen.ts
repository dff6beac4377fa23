// What a VGA in an alphanumeric mode shows, read the way its CRT controller reads it (IBM VGA
// Technical Reference, "CRT Controller Registers"; FreeVGA's "CRTC Registers"): character cells
// from the start address on, `offset` × 2 cells apart row to row, as many columns as the
// horizontal display end says and as many rows as the vertical display end's scan lines hold at
// the character height (doubled when the maximum scan line register's scan doubling is on).
// The cells are the guest's RAM: this VGA has no planes of its own (docs/vga.md), and a text
// mode keeps the character in the even byte and its attribute in the odd byte of each cell of
// the 32 KiB window the CPU writes them through, 0xB8000 in the color modes and 0xB0000 in the
// monochrome one, as the miscellaneous output register's I/O address select says.
import { AttributeRegister, MODE_CONTROL_BLINK, MODE_CONTROL_MONOCHROME, PALETTE_ADDRESS_SOURCE } from './attribute-controller.js';
import { CrtcRegister } from './crtc.js';
import { GraphicsRegister, MISCELLANEOUS_GRAPHICS } from './graphics-controller.js';
import { CLOCKING_MODE_SCREEN_OFF, SequencerRegister } from './sequencer.js';

export const COLOR_TEXT_BASE = 0xb8000;
export const MONOCHROME_TEXT_BASE = 0xb0000;
export const TEXT_WINDOW_BYTES = 0x8000;
/** Miscellaneous output bit 0: I/O address select, color (0x3Dx) when set, monochrome (0x3Bx) when clear. */
export const MISC_IO_ADDRESS_COLOR = 0x01;
/** At most this many rows are read, whatever the CRT controller says. */
export const MAX_TEXT_ROWS = 256;

/** The registers the screen depends on. */
export interface VgaRegisterView {
  miscOutput: number;
  sequencer: Uint8Array;
  graphics: Uint8Array;
  crtc: Uint8Array;
  attribute: Uint8Array;
  attributeIndex: number;
}

export interface TextCursor {
  row: number;
  column: number;
  /** Whether it shows: enabled, a scan-line range that fits the cell, and on the screen. */
  visible: boolean;
}

export type Screen =
  | {
      kind: 'text';
      columns: number;
      rows: number;
      /** Row by row: the character in bits 0-7, its attribute in bits 8-15. */
      cells: Uint16Array;
      cursor: TextCursor;
      /** Attribute bit 7 blinks (else it is the background's intensity). */
      blink: boolean;
      /** Monochrome attributes (underline, intensity, reverse) rather than colors. */
      monochrome: boolean;
    }
  /** The display is off; `why` names the bit. */
  | { kind: 'blank'; why: string }
  | { kind: 'graphics' };

export function readTextScreen(vga: VgaRegisterView, ram: Uint8Array): Screen {
  if ((vga.attributeIndex & PALETTE_ADDRESS_SOURCE) === 0) {
    return { kind: 'blank', why: "the attribute controller's palette address source (bit 5 of its index) is clear" };
  }
  if (vga.sequencer[SequencerRegister.CLOCKING_MODE] & CLOCKING_MODE_SCREEN_OFF) {
    return { kind: 'blank', why: "the sequencer's screen-off bit (clocking mode bit 5) is set" };
  }
  if (vga.graphics[GraphicsRegister.MISCELLANEOUS] & MISCELLANEOUS_GRAPHICS) return { kind: 'graphics' };
  const cr = vga.crtc;
  const columns = cr[CrtcRegister.HORIZONTAL_DISPLAY_END] + 1;
  const overflow = cr[CrtcRegister.OVERFLOW];
  const scanLines = (cr[CrtcRegister.VERTICAL_DISPLAY_END] | ((overflow & 0x02) << 7) | ((overflow & 0x40) << 3)) + 1;
  const maxScan = cr[CrtcRegister.MAXIMUM_SCAN_LINE];
  const charHeight = (maxScan & 0x1f) + 1;
  const linesPerRow = charHeight * (maxScan & 0x80 ? 2 : 1);
  const rows = Math.min(MAX_TEXT_ROWS, Math.ceil(scanLines / linesPerRow));
  const stride = cr[CrtcRegister.OFFSET] * 2;
  const start = (cr[CrtcRegister.START_ADDRESS_HIGH] << 8) | cr[CrtcRegister.START_ADDRESS_LOW];

  const base = vga.miscOutput & MISC_IO_ADDRESS_COLOR ? COLOR_TEXT_BASE : MONOCHROME_TEXT_BASE;
  const window = base + TEXT_WINDOW_BYTES <= ram.length ? ram.subarray(base, base + TEXT_WINDOW_BYTES) : new Uint8Array(TEXT_WINDOW_BYTES);
  const cells = new Uint16Array(columns * rows);
  for (let row = 0; row < rows; row++) {
    for (let column = 0; column < columns; column++) {
      const at = (((start + row * stride + column) & 0xffff) * 2) & (TEXT_WINDOW_BYTES - 1);
      cells[row * columns + column] = window[at] | (window[at + 1] << 8);
    }
  }

  const location = (cr[CrtcRegister.CURSOR_LOCATION_HIGH] << 8) | cr[CrtcRegister.CURSOR_LOCATION_LOW];
  const fromStart = (location - start) & 0xffff;
  const row = stride === 0 ? 0 : Math.floor(fromStart / stride);
  const column = stride === 0 ? fromStart : fromStart % stride;
  const cursorStart = cr[CrtcRegister.CURSOR_START];
  const firstLine = cursorStart & 0x1f;
  // Bit 5 disables the cursor; a start line past the end line or past the cell shows none.
  const shown = (cursorStart & 0x20) === 0 && firstLine <= (cr[CrtcRegister.CURSOR_END] & 0x1f) && firstLine < charHeight;
  const cursor = { row, column, visible: shown && row < rows && column < columns };

  const modeControl = vga.attribute[AttributeRegister.MODE_CONTROL];
  return {
    kind: 'text', columns, rows, cells, cursor,
    blink: (modeControl & MODE_CONTROL_BLINK) !== 0,
    monochrome: (modeControl & MODE_CONTROL_MONOCHROME) !== 0,
  };
}
