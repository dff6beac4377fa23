// `--vga`, `--display` and `--screen-dump` of `vmm boot`, checked together: whether the machine
// gets a VGA, whether the terminal shows its screen, and where the screen goes at the end. A
// guest loaded directly has no VGA unless one of them asks for it: `--vga std` alone, or either
// of the others, which imply it (and cannot go with `--vga none`).
import { isatty } from 'node:tty';
import { ScreenDumpFile } from './screen-dump-file.js';
import { UserError } from './user-error.js';

/** QEMU's names: std is its standard VGA (-vga std), none no VGA. */
export const VGA_TYPES = ['std', 'none'] as const;
/** QEMU's names: none (no display, the default here) and curses (the terminal). */
export const DISPLAYS = ['none', 'curses'] as const;

export interface ScreenOptions {
  vga?: string;
  display?: string;
  screenDump?: string;
}

export interface ScreenSetup {
  vga: boolean;
  /** `--display curses`: the screen in the terminal, keys to the PS/2 keyboard. */
  curses: boolean;
  dump: ScreenDumpFile | undefined;
}

export function screenSetup(options: ScreenOptions, stdoutIsTerminal = isatty(1)): ScreenSetup {
  const display = options.display ?? 'none';
  if (!(DISPLAYS as readonly string[]).includes(display)) {
    throw new UserError(`unknown display '${display}'; choose one of ${DISPLAYS.join(', ')}`);
  }
  if (options.vga !== undefined && !(VGA_TYPES as readonly string[]).includes(options.vga)) {
    throw new UserError(`unknown VGA '${options.vga}'; choose one of ${VGA_TYPES.join(', ')}`);
  }
  const curses = display === 'curses';
  const shown = curses ? '--display curses' : options.screenDump !== undefined ? '--screen-dump' : undefined;
  if (shown && options.vga === 'none') throw new UserError(`${shown} shows the VGA's screen, and --vga none leaves the machine without one`);
  if (curses && !stdoutIsTerminal) throw new UserError('--display curses needs a terminal, and standard output is not one');
  const dump = options.screenDump === undefined ? undefined : ScreenDumpFile.open(options.screenDump);
  return { vga: options.vga === 'std' || shown !== undefined, curses, dump };
}
