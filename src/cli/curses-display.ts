// `--display curses`: the VGA's text screen in the terminal, as QEMU's curses display shows it.
// The terminal's alternate screen buffer holds it for the run (what full-screen programs use, so
// the shell's screen comes back after); it is redrawn at most REFRESH_HZ times a second, and only
// when the frame differs from the last one drawn. The terminal is given back (normal screen,
// cursor shown, attributes reset) when the run ends, and on the way out of a process.exit (a
// second signal). A write that fails (the terminal went away) ends the run through `onError`.
import { renderScreen, type TerminalSize } from './ansi-screen.js';
import { writeFully } from './console-output.js';
import type { Screen } from '../devices/vga/text-screen.js';

export const REFRESH_HZ = 30;
const ENTER = '\x1b[?1049h\x1b[H\x1b[2J';
const LEAVE = '\x1b[0m\x1b[?25h\x1b[?1049l';

export class CursesDisplay {
  private timer: NodeJS.Timeout | undefined;
  private lastFrame = '';
  private status = '';
  private failed = false;
  private readonly leaveOnExit = () => this.leave();
  private readonly onResize = () => this.invalidate();

  /**
   * `fd`: the terminal. `screen`: what the VGA shows now (the machine may change under it when the
   * guest reboots). `size`: the terminal's size now.
   */
  constructor(
    private readonly fd: number,
    private readonly screen: () => Screen,
    private readonly size: () => TerminalSize,
    private readonly onError: (error: NodeJS.ErrnoException) => void,
  ) {}

  start(): void {
    this.write(ENTER);
    process.on('exit', this.leaveOnExit);
    process.stdout.on('resize', this.onResize);
    this.timer = setInterval(() => this.refresh(), 1000 / REFRESH_HZ);
    this.refresh();
  }

  /** Draws the screen if it changed since the last frame. */
  refresh(): void {
    if (this.failed) return;
    const frame = renderScreen(this.screen(), this.size(), this.status);
    if (frame === this.lastFrame) return;
    this.lastFrame = frame;
    this.write(frame);
  }

  /** A line below the screen (the escape key's help), until the next one. */
  setStatus(text: string): void {
    this.status = text;
    this.refresh();
  }

  /** The next refresh draws the whole frame again (the terminal's contents are not ours any more). */
  invalidate(): void {
    this.lastFrame = '';
    this.write('\x1b[2J');
  }

  stop(): void {
    clearInterval(this.timer);
    process.stdout.off('resize', this.onResize);
    process.off('exit', this.leaveOnExit);
    this.leave();
  }

  private leave(): void {
    if (this.timer === undefined) return;
    this.timer = undefined;
    this.write(LEAVE);
  }

  private write(text: string): void {
    if (this.failed) return;
    try {
      writeFully(this.fd, Buffer.from(text, 'utf8'));
    } catch (error) {
      this.failed = true;
      this.onError(error as NodeJS.ErrnoException);
    }
  }
}
