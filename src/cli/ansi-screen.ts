// The VGA's text screen as a terminal draws it (ECMA-48 control sequences, which xterm and every
// terminal emulator today take): each row at its place, each cell's attribute as SGR colors, the
// cursor where the VGA shows it. The 16 colors of a text attribute (foreground in bits 0-3,
// background in bits 4-6, bit 7 blink or bright background as the attribute controller's mode
// control says) map to the ANSI 16 colors: the VGA numbers them blue = 1, green = 2, red = 4,
// ANSI red = 1, green = 2, blue = 4; intensity is the bright set (90-97, 100-107). The palette
// registers and the DAC are not applied: a guest that reprograms them still gets the standard
// colors. Monochrome attributes (MDA's: underline, intensity, reverse, hidden) map to their SGR
// renditions. Characters are code page 437's glyphs in Unicode.
import { cp437 } from '../devices/vga/cp437.js';
import type { Screen } from '../devices/vga/text-screen.js';

export interface TerminalSize {
  columns: number;
  rows: number;
}

const CSI = '\x1b[';

/** A VGA color (0-7) as its ANSI number. */
function ansi(vga: number): number {
  return ((vga & 1) << 2) | (vga & 2) | ((vga & 4) >> 2);
}

/** The SGR sequence for a text attribute. */
export function attributeSgr(attribute: number, blink: boolean, monochrome: boolean): string {
  const codes = [0];
  const blinking = blink && (attribute & 0x80) !== 0;
  if (monochrome) {
    const kind = attribute & 0x77;
    if (kind === 0x00) codes.push(8); // hidden
    else if (kind === 0x70) codes.push(7); // reverse video
    else if ((attribute & 0x07) === 0x01) codes.push(4); // underline
    if (attribute & 0x08) codes.push(1);
  } else {
    const foreground = attribute & 0x0f;
    const background = blink ? (attribute >> 4) & 0x07 : (attribute >> 4) & 0x0f;
    codes.push((foreground & 8 ? 90 : 30) + ansi(foreground & 7), (background & 8 ? 100 : 40) + ansi(background & 7));
  }
  if (blinking) codes.push(5);
  return `${CSI}${codes.join(';')}m`;
}

/**
 * One frame: the screen from the terminal's top left, clipped to its size, a status line (if
 * any) below it, and the cursor placed (or hidden).
 */
export function renderScreen(screen: Screen, size: TerminalSize, status = ''): string {
  let out = `${CSI}?25l${CSI}0m`;
  let rows = 0;
  if (screen.kind === 'text') {
    rows = Math.min(screen.rows, size.rows);
    const columns = Math.min(screen.columns, size.columns);
    for (let row = 0; row < rows; row++) {
      out += `${CSI}${row + 1};1H`;
      let attribute = -1;
      for (let column = 0; column < columns; column++) {
        const cell = screen.cells[row * screen.columns + column];
        if (cell >> 8 !== attribute) {
          attribute = cell >> 8;
          out += attributeSgr(attribute, screen.blink, screen.monochrome);
        }
        out += cp437(cell & 0xff);
      }
      out += `${CSI}0m${CSI}K`;
    }
  } else if (screen.kind === 'graphics' && size.rows > 0) {
    out += `${CSI}1;1H${CSI}K[the VGA is in a graphics mode; only text modes are shown]`;
    rows = 1;
  }
  // Below the screen: cleared, then the status line; a terminal with no row to spare shows the
  // status line over the screen's last row, in reverse video.
  if (rows < size.rows) out += `${CSI}${rows + 1};1H${CSI}J${status.slice(0, size.columns)}`;
  else if (status !== '') out += `${CSI}${size.rows};1H${CSI}0;7m${status.slice(0, size.columns)}${CSI}0m${CSI}K`;
  if (screen.kind === 'text' && screen.cursor.visible && screen.cursor.row < rows && screen.cursor.column < size.columns) {
    out += `${CSI}${screen.cursor.row + 1};${screen.cursor.column + 1}H${CSI}?25h`;
  }
  return out;
}
