// The screen as plain text, what `--screen-dump` and the control socket's screendump write: one
// line per row, its characters as they look (code page 437 in Unicode), trailing spaces trimmed;
// attributes and the cursor are left out. A blank screen or a graphics mode has no text: the
// dump is empty, and describeScreen says why.
import { cp437 } from './cp437.js';
import type { Screen } from './text-screen.js';

export function screenText(screen: Screen): string {
  if (screen.kind !== 'text') return '';
  let text = '';
  for (let row = 0; row < screen.rows; row++) {
    let line = '';
    for (let column = 0; column < screen.columns; column++) line += cp437(screen.cells[row * screen.columns + column] & 0xff);
    text += line.trimEnd() + '\n';
  }
  return text;
}

/** Why a screen has no text, or undefined when it has. */
export function whyNoText(screen: Screen): string | undefined {
  if (screen.kind === 'blank') return `the display was off (${screen.why})`;
  if (screen.kind === 'graphics') return 'the VGA was in a graphics mode, which vmm does not show';
  return undefined;
}
