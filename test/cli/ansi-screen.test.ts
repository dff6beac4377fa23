// The text screen as a terminal draws it: rows in place, attributes as ANSI colors (the VGA's
// blue-green-red order turned into ANSI's red-green-blue), the cursor where the VGA shows it.
import { describe, expect, it } from 'vitest';
import { attributeSgr, renderScreen } from '../../src/cli/ansi-screen.js';
import type { Screen } from '../../src/devices/vga/text-screen.js';

function screen(rows: string[], attribute = 0x07, cursor = { row: 0, column: 0, visible: true }): Screen {
  const columns = Math.max(...rows.map((row) => row.length));
  const cells = new Uint16Array(columns * rows.length).fill((attribute << 8) | 0x20);
  rows.forEach((row, r) => [...row].forEach((char, c) => (cells[r * columns + c] = (attribute << 8) | char.charCodeAt(0))));
  return { kind: 'text', columns, rows: rows.length, cells, cursor, blink: true, monochrome: false };
}

describe('attributes as SGR', () => {
  it('maps the VGA colors to ANSI: blue 1 is ANSI 4, red 4 is ANSI 1, intensity to the bright set', () => {
    expect(attributeSgr(0x07, true, false)).toBe('\x1b[0;37;40m'); // light grey on black
    expect(attributeSgr(0x1f, true, false)).toBe('\x1b[0;97;44m'); // bright white on blue
    expect(attributeSgr(0x4e, true, false)).toBe('\x1b[0;93;41m'); // yellow on red
    expect(attributeSgr(0x21, true, false)).toBe('\x1b[0;34;42m'); // blue on green
    expect(attributeSgr(0x36, true, false)).toBe('\x1b[0;33;46m'); // brown on cyan
  });

  it('bit 7 blinks when the attribute controller says so, and is a bright background otherwise', () => {
    expect(attributeSgr(0x97, true, false)).toBe('\x1b[0;37;44;5m');
    expect(attributeSgr(0x97, false, false)).toBe('\x1b[0;37;104m');
  });

  it('monochrome attributes: underline, intensity, reverse, hidden', () => {
    expect(attributeSgr(0x01, true, true)).toBe('\x1b[0;4m');
    expect(attributeSgr(0x0f, true, true)).toBe('\x1b[0;1m');
    expect(attributeSgr(0x70, true, true)).toBe('\x1b[0;7m');
    expect(attributeSgr(0x00, true, true)).toBe('\x1b[0;8m');
    expect(attributeSgr(0x87, true, true)).toBe('\x1b[0;5m');
  });
});

describe('a frame', () => {
  it('puts each row at its place and the cursor where the VGA shows it', () => {
    const frame = renderScreen(screen(['ab', 'cd'], 0x07, { row: 1, column: 1, visible: true }), { columns: 80, rows: 25 });
    expect(frame).toBe(
      '\x1b[?25l\x1b[0m' +
        '\x1b[1;1H\x1b[0;37;40mab\x1b[0m\x1b[K' +
        '\x1b[2;1H\x1b[0;37;40mcd\x1b[0m\x1b[K' +
        '\x1b[3;1H\x1b[J' +
        '\x1b[2;2H\x1b[?25h',
    );
  });

  it('clips to the terminal, and shows the status line over the last row when there is no row below', () => {
    const frame = renderScreen(screen(['abc', 'def'], 0x07, { row: 1, column: 2, visible: true }), { columns: 2, rows: 2 }, 'help');
    expect(frame).toContain('\x1b[1;1H\x1b[0;37;40mab\x1b[0m\x1b[K');
    expect(frame).not.toContain('abc');
    expect(frame).toContain('\x1b[2;1H\x1b[0;7mhe\x1b[0m\x1b[K');
    expect(frame).not.toContain('\x1b[?25h'); // the cursor's column is past the terminal's edge
  });

  it('draws a blank screen as cleared, and says what a graphics mode is', () => {
    expect(renderScreen({ kind: 'blank', why: 'off' }, { columns: 80, rows: 25 })).toBe('\x1b[?25l\x1b[0m\x1b[1;1H\x1b[J');
    expect(renderScreen({ kind: 'graphics' }, { columns: 80, rows: 25 })).toContain('graphics mode');
  });

  it('shows code page 437 as it looks', () => {
    const cells = Uint16Array.of(0x07c9, 0x07cd, 0x07bb);
    const frame = renderScreen(
      { kind: 'text', columns: 3, rows: 1, cells, cursor: { row: 0, column: 0, visible: false }, blink: true, monochrome: false },
      { columns: 80, rows: 25 },
    );
    expect(frame).toContain('╔═╗');
  });
});
