// A raw disk image: a regular file whose bytes are the disk's sectors in order, read and written
// in place at sector offsets. The disk is the file's whole sectors: a size that is not a multiple
// of 512 leaves a partial last sector, which is not part of the disk (no command can reach it,
// and it is never written). The file is the disk's content, so a saved machine refers to it by
// path and expects it unchanged (shared storage, as QEMU's migration assumes).
import { closeSync, fstatSync, fsyncSync, openSync, readSync, statSync, writeSync, type Stats } from 'node:fs';
import { SECTOR_BYTES } from './ata-registers.js';

export class DiskImageError extends Error {}

/** What a path is when it is not a regular file. */
function notAFile(stat: Stats): string {
  if (stat.isDirectory()) return 'it is a directory';
  if (stat.isBlockDevice()) return 'it is a block device; give an image file';
  return 'it is not a regular file';
}

function errnoText(error: unknown): string {
  const e = error as NodeJS.ErrnoException;
  if (e?.code === 'ENOENT') return 'no such file';
  const meaning = /^[A-Z0-9_]+: ([^,]+)/.exec(e?.message ?? '')?.[1];
  return typeof e?.code === 'string' ? (meaning ? `${e.code} (${meaning})` : e.code) : String(error);
}

/** Opening for writing failed for one of these: the file is there, only not writable. */
const NOT_WRITABLE = new Set(['EACCES', 'EPERM', 'EROFS']);

export class DiskImage {
  private fd: number | undefined;

  private constructor(
    readonly path: string,
    fd: number,
    /** Whole sectors in the file. */
    readonly sectors: number,
    /** Writes are refused: asked for, or the file could only be opened for reading. */
    readonly readOnly: boolean,
  ) {
    this.fd = fd;
  }

  /**
   * Opens the image at `path`; read-only when asked, or when the file is not writable. Fails
   * with a DiskImageError that says why in words a user can act on.
   */
  static open(path: string, readOnly: boolean): DiskImage {
    const fail = (reason: string): never => {
      throw new DiskImageError(`cannot open drive image '${path}': ${reason}`);
    };
    let stat: Stats;
    try {
      // stat first: opening a FIFO would wait for a writer.
      stat = statSync(path);
    } catch (error) {
      return fail(errnoText(error));
    }
    if (!stat.isFile()) return fail(notAFile(stat));
    let fd: number;
    let opened = readOnly;
    try {
      fd = openSync(path, readOnly ? 'r' : 'r+');
    } catch (error) {
      if (readOnly || !NOT_WRITABLE.has((error as NodeJS.ErrnoException).code ?? '')) return fail(errnoText(error));
      try {
        fd = openSync(path, 'r');
        opened = true;
      } catch (again) {
        return fail(errnoText(again));
      }
    }
    const size = fstatSync(fd).size;
    const sectors = Math.floor(size / SECTOR_BYTES);
    if (sectors === 0) {
      closeSync(fd);
      return fail(`it is ${size} bytes, smaller than one sector (${SECTOR_BYTES} bytes)`);
    }
    return new DiskImage(path, fd, sectors, opened);
  }

  private get handle(): number {
    if (this.fd === undefined) throw new Error(`drive image '${this.path}' is closed`);
    return this.fd;
  }

  /**
   * Fills `into` from byte `position` of the image. Bytes past the end of the file (one that
   * shrank under the machine) read as zeros. Throws the host's I/O error.
   */
  read(into: Uint8Array, position: number): void {
    let done = 0;
    while (done < into.length) {
      const n = readSync(this.handle, into, done, into.length - done, position + done);
      if (n === 0) {
        into.fill(0, done);
        return;
      }
      done += n;
    }
  }

  /** Writes `from` at byte `position` of the image. Throws the host's I/O error. */
  write(from: Uint8Array, position: number): void {
    if (this.readOnly) throw new Error(`drive image '${this.path}' is read-only`);
    let done = 0;
    while (done < from.length) done += writeSync(this.handle, from, done, from.length - done, position + done);
  }

  /** Makes what was written durable (FLUSH CACHE). */
  flush(): void {
    if (!this.readOnly) fsyncSync(this.handle);
  }

  close(): void {
    if (this.fd === undefined) return;
    closeSync(this.fd);
    this.fd = undefined;
  }
}
