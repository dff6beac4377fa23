// Terminal characters as PS/2 keys: the set 2 codes, checked through the 8042, whose
// translation (the XLATE bit, on as a BIOS leaves it) gives the set 1 codes of the IBM PC/AT
// keyboard a guest reads.
import { describe, expect, it } from 'vitest';
import { scanCodes } from '../../src/cli/key-scancodes.js';
import { I8042 } from '../../src/devices/i8042.js';
import { ports } from '../devices/helpers.js';

/** What a guest reads from port 0x60 after the characters `typed` are pressed. */
function typed(typed: string | number[]): number[] {
  const kbc = new I8042();
  const io = ports([0x60, 1, kbc], [0x64, 1, kbc.commandPort]);
  kbc.pressKey(scanCodes(typeof typed === 'string' ? new TextEncoder().encode(typed) : Uint8Array.from(typed)));
  const bytes: number[] = [];
  while (io.inb(0x64) & 1) bytes.push(io.inb(0x60));
  return bytes;
}

const press = (...codes: number[]) => codes.flatMap((code) => [code, code | 0x80]);
const shifted = (code: number) => [0x2a, code, code | 0x80, 0xaa];

describe('terminal characters as key presses', () => {
  it('every printable character of a US keyboard is its key, with Shift for the upper ones', () => {
    const rows: [string, string, number[]][] = [
      ['`1234567890-=', '~!@#$%^&*()_+', [0x29, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07, 0x08, 0x09, 0x0a, 0x0b, 0x0c, 0x0d]],
      ['qwertyuiop[]\\', 'QWERTYUIOP{}|', [0x10, 0x11, 0x12, 0x13, 0x14, 0x15, 0x16, 0x17, 0x18, 0x19, 0x1a, 0x1b, 0x2b]],
      ["asdfghjkl;'", 'ASDFGHJKL:"', [0x1e, 0x1f, 0x20, 0x21, 0x22, 0x23, 0x24, 0x25, 0x26, 0x27, 0x28]],
      ['zxcvbnm,./', 'ZXCVBNM<>?', [0x2c, 0x2d, 0x2e, 0x2f, 0x30, 0x31, 0x32, 0x33, 0x34, 0x35]],
    ];
    for (const [lower, upper, set1] of rows) {
      expect(typed(lower)).toEqual(press(...set1));
      expect(typed(upper)).toEqual(set1.flatMap(shifted));
    }
    expect(typed(' ')).toEqual(press(0x39));
  });

  it('Enter, Backspace, Tab, Escape and Ctrl with a letter', () => {
    expect(typed('\r')).toEqual(press(0x1c));
    expect(typed('\n')).toEqual(press(0x1c));
    expect(typed([0x7f])).toEqual(press(0x0e));
    expect(typed([0x08])).toEqual(press(0x0e));
    expect(typed('\t')).toEqual(press(0x0f));
    expect(typed([0x1b])).toEqual(press(0x01));
    expect(typed([0x03])).toEqual([0x1d, 0x2e, 0xae, 0x9d]); // Ctrl-C
    expect(typed([0x1a])).toEqual([0x1d, 0x2c, 0xac, 0x9d]); // Ctrl-Z
  });

  it('the arrow keys from their escape sequences, normal and application mode, modifiers dropped', () => {
    const arrow = (code: number) => [0xe0, code, 0xe0, code | 0x80];
    expect(typed('\x1b[A\x1b[B\x1b[C\x1b[D')).toEqual([...arrow(0x48), ...arrow(0x50), ...arrow(0x4d), ...arrow(0x4b)]);
    expect(typed('\x1bOA\x1bOD')).toEqual([...arrow(0x48), ...arrow(0x4b)]);
    expect(typed('\x1b[1;5C')).toEqual(arrow(0x4d));
  });

  it('leaves out what is no key here: other escape sequences, non-ASCII characters', () => {
    expect(typed('\x1b[2~x')).toEqual(press(0x2d)); // Insert, then x
    expect(typed('é')).toEqual([]);
    expect(typed('\x1bx')).toEqual([...press(0x01), ...press(0x2d)]); // Alt-x: Escape, then x
  });
});
