// Finding and reading a guest image, with the errors a user can act on.
import { closeSync, fstatSync, openSync, readSync, statSync, type Stats } from 'node:fs';
import { join, resolve } from 'node:path';
import { formatSize } from '../boot/bytes.js';
import { projectRoot } from '../util/project-root.js';
import { describeErrno } from '../util/errno.js';
import { UserError } from './user-error.js';

export const DEFAULT_GUEST = 'multiboot.elf';
/** One read at most (Node refuses reads of 2 GiB or more). */
const READ_CHUNK = 1 << 30;

export function defaultGuestPath(): string {
  return join(projectRoot(), 'guests', 'build', DEFAULT_GUEST);
}

/** What a path is when it is not a regular file, for the message that refuses it. */
function kindOf(stat: Stats): string {
  if (stat.isDirectory()) return 'it is a directory';
  if (stat.isFIFO()) return 'it is a pipe (FIFO), not a regular file';
  if (stat.isCharacterDevice()) return 'it is a character device, not a regular file';
  if (stat.isBlockDevice()) return 'it is a block device, not a regular file';
  if (stat.isSocket()) return 'it is a socket, not a regular file';
  return 'it is not a regular file';
}

/**
 * Reads a whole image or initrd. Only regular files are read, and only up to `maxBytes` (the
 * guest's RAM: nothing larger can be loaded), so /dev/zero, a FIFO or a huge file is refused
 * before anything is read rather than read until memory runs out.
 */
export function readGuestImage(path: string, what: string, maxBytes: number): Uint8Array {
  const full = resolve(path);
  const fail = (reason: string): never => {
    throw new UserError(`cannot read ${what} '${path}': ${reason}`);
  };
  let stat: Stats;
  try {
    // stat, not open: opening a FIFO would wait for a writer.
    stat = statSync(full);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    return fail(code === 'ENOENT' ? 'no such file' : describeErrno(error));
  }
  if (!stat.isFile()) return fail(kindOf(stat));
  checkSize(path, what, stat.size, maxBytes);
  let fd: number;
  try {
    fd = openSync(full, 'r');
  } catch (error) {
    return fail(describeErrno(error));
  }
  try {
    // The file may have changed since stat: check what was opened, and read no more than that.
    const opened = fstatSync(fd);
    if (!opened.isFile()) return fail(kindOf(opened));
    checkSize(path, what, opened.size, maxBytes);
    let bytes: Uint8Array;
    try {
      bytes = new Uint8Array(opened.size);
    } catch {
      return fail(`its ${opened.size} bytes do not fit in vmm's memory`);
    }
    let length = 0;
    while (length < bytes.length) {
      const n = readSync(fd, bytes, length, Math.min(READ_CHUNK, bytes.length - length), length);
      if (n === 0) break;
      length += n;
    }
    return length === bytes.length ? bytes : bytes.subarray(0, length);
  } catch (error) {
    if (error instanceof UserError) throw error;
    return fail(describeErrno(error));
  } finally {
    closeSync(fd);
  }
}

function checkSize(path: string, what: string, size: number, maxBytes: number): void {
  if (size > maxBytes) {
    throw new UserError(
      `${what} '${path}' is ${size} bytes, more than the guest's ${formatSize(maxBytes)} of RAM could hold (-m sets the RAM size)`,
    );
  }
}
