// `--screen-dump FILE`: the screen as plain text (devices/vga/text-dump.ts) written to FILE when
// the run ends. The file is opened when the options are checked, so that a path that cannot be
// written is refused before the guest runs, as --serial's is.
import { closeSync, openSync, writeSync } from 'node:fs';
import { screenText, whyNoText } from '../devices/vga/text-dump.js';
import type { Screen } from '../devices/vga/text-screen.js';
import { describeErrno } from '../util/errno.js';
import { UserError } from './user-error.js';

export class ScreenDumpFile {
  private fd: number | undefined;

  private constructor(
    readonly path: string,
    fd: number,
  ) {
    this.fd = fd;
  }

  static open(path: string): ScreenDumpFile {
    try {
      return new ScreenDumpFile(path, openSync(path, 'w'));
    } catch (error) {
      throw new UserError(`cannot write the screen dump to '${path}': ${describeErrno(error)}`);
    }
  }

  /**
   * Writes the screen and closes the file. Returns a note when the screen had no text (the file
   * is left empty); throws (an errno error) when the write fails.
   */
  write(screen: Screen): string | undefined {
    const fd = this.fd!;
    this.fd = undefined;
    try {
      const bytes = Buffer.from(screenText(screen), 'utf8');
      for (let offset = 0; offset < bytes.length; ) offset += writeSync(fd, bytes, offset);
    } finally {
      closeSync(fd);
    }
    const why = whyNoText(screen);
    return why && `the screen dump '${this.path}' is empty: ${why}`;
  }

  /** Closes the file if it was not written (the run ended before a screen could be read). */
  close(): void {
    if (this.fd !== undefined) closeSync(this.fd);
    this.fd = undefined;
  }
}
