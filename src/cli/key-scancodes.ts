// Keys typed on the host's terminal as a PS/2 keyboard sends them: scan code set 2 make and
// break codes (IBM PS/2 Keyboard Technical Reference, scan code set 2; the 8042 translates them
// to set 1 for the guest), for a US layout. What a terminal delivers are characters, not keys, so
// each becomes a press and release of its key: printable ASCII (with Shift where the character
// needs it), Enter, Backspace, Tab, Escape, Ctrl with a letter, and the arrow keys from their
// escape sequences (ESC [ A and ESC O A; modifiers in them are dropped). Anything else (other
// escape sequences, bytes of non-ASCII characters) is not a key here and is left out. An escape
// sequence split across two reads of the terminal comes out as Escape and characters.

const BREAK = 0xf0;
const EXTENDED = 0xe0;
const LEFT_SHIFT = 0x12;
const LEFT_CTRL = 0x14;
const SPACE = 0x29;
const ENTER = 0x5a;
const BACKSPACE = 0x66;
const TAB = 0x0d;
const ESCAPE = 0x76;
/** The arrow keys (extended): ESC [ A, B, C, D. */
const ARROWS: Record<string, number> = { A: 0x75, B: 0x72, C: 0x74, D: 0x6b };

const UNSHIFTED = "`1234567890-=qwertyuiop[]\\asdfghjkl;'zxcvbnm,./";
const SHIFTED = '~!@#$%^&*()_+QWERTYUIOP{}|ASDFGHJKL:"ZXCVBNM<>?';
const CODES = [
  0x0e, 0x16, 0x1e, 0x26, 0x25, 0x2e, 0x36, 0x3d, 0x3e, 0x46, 0x45, 0x4e, 0x55, // ` 1-0 - =
  0x15, 0x1d, 0x24, 0x2d, 0x2c, 0x35, 0x3c, 0x43, 0x44, 0x4d, 0x54, 0x5b, 0x5d, // q-p [ ] \
  0x1c, 0x1b, 0x23, 0x2b, 0x34, 0x33, 0x3b, 0x42, 0x4b, 0x4c, 0x52, // a-l ; '
  0x1a, 0x22, 0x21, 0x2a, 0x32, 0x31, 0x3a, 0x41, 0x49, 0x4a, // z-m , . /
];

/** Each printable character's key and whether it needs Shift. */
const KEYS = new Map<number, { code: number; shift: boolean }>([[0x20, { code: SPACE, shift: false }]]);
for (let i = 0; i < CODES.length; i++) {
  KEYS.set(UNSHIFTED.charCodeAt(i), { code: CODES[i], shift: false });
  KEYS.set(SHIFTED.charCodeAt(i), { code: CODES[i], shift: true });
}

function press(code: number, out: number[]): void {
  out.push(code, BREAK, code);
}

function pressWith(modifier: number, code: number, out: number[]): void {
  out.push(modifier, code, BREAK, code, BREAK, modifier);
}

/** The set 2 codes for the keys `bytes` (what the terminal sent) were typed with. */
export function scanCodes(bytes: Uint8Array): number[] {
  const out: number[] = [];
  for (let i = 0; i < bytes.length; i++) {
    const byte = bytes[i];
    const key = KEYS.get(byte);
    if (key) {
      if (key.shift) pressWith(LEFT_SHIFT, key.code, out);
      else press(key.code, out);
    } else if (byte === 0x0d || byte === 0x0a) {
      press(ENTER, out);
    } else if (byte === 0x7f || byte === 0x08) {
      press(BACKSPACE, out);
    } else if (byte === 0x09) {
      press(TAB, out);
    } else if (byte === 0x1b) {
      i = escapeSequence(bytes, i, out);
    } else if (byte >= 0x01 && byte <= 0x1a) {
      pressWith(LEFT_CTRL, KEYS.get(0x60 + byte)!.code, out); // Ctrl-A is 0x01, Ctrl-Z 0x1A
    }
  }
  return out;
}

/** ESC at `at`: an arrow key's sequence, another sequence (left out), or the Escape key. Returns the last byte used. */
function escapeSequence(bytes: Uint8Array, at: number, out: number[]): number {
  const next = bytes[at + 1];
  if (next === 0x4f /* O */ && at + 2 < bytes.length) {
    const arrow = ARROWS[String.fromCharCode(bytes[at + 2])];
    if (arrow !== undefined) out.push(EXTENDED, arrow, EXTENDED, BREAK, arrow);
    return at + 2;
  }
  if (next !== 0x5b /* [ */) {
    press(ESCAPE, out);
    return at;
  }
  // A control sequence: parameters and intermediates (0x20-0x3F), then its final byte (0x40-0x7E).
  let end = at + 2;
  while (end < bytes.length && bytes[end] >= 0x20 && bytes[end] <= 0x3f) end++;
  if (end >= bytes.length) return end - 1;
  const arrow = ARROWS[String.fromCharCode(bytes[end])];
  if (arrow !== undefined) out.push(EXTENDED, arrow, EXTENDED, BREAK, arrow);
  return end;
}
