// Guest console bytes to a file descriptor. Bytes are gathered so that a guest printing a byte
// per OUT does not cost a system call per byte, and handed on between time slices.
//
// Writing must never hold up the run loop, or a reader that stops reading would stop the time
// limit and signals too. A file or a terminal is written at once (it does not block for long);
// a pipe or socket is written asynchronously, and what its reader has not taken yet waits in
// memory up to BACKLOG_LIMIT bytes. Past that the guest's further output is dropped (and
// counted) until the reader catches up: the guest is never slowed down by its reader.
import { closeSync, fstatSync, writeSync } from 'node:fs';
import { isatty } from 'node:tty';
import { Socket } from 'node:net';
import type { Writable } from 'node:stream';

/** Output held for a reader that is behind; beyond it, output is dropped. */
export const BACKLOG_LIMIT = 8 << 20;
const CHUNK_BYTES = 1 << 16;

/** Where console bytes go. */
interface OutputTarget {
  /** Takes the bytes (copies them if it keeps them); throws on a write error. */
  write(bytes: Uint8Array): void;
  /** Bytes taken but not yet written. */
  backlog(): number;
  /** Resolves when the backlog is empty or `giveUp` resolves; true if it emptied. */
  drain(giveUp: Promise<void>): Promise<boolean>;
  /** Closes the descriptor, if it is the target's own. */
  close(): void;
}

/** A file, a terminal, a character device: written synchronously. */
class SyncTarget implements OutputTarget {
  constructor(
    private readonly fd: number,
    private readonly owned: boolean,
  ) {}

  close(): void {
    if (this.owned) closeSync(this.fd);
  }

  write(bytes: Uint8Array): void {
    writeFully(this.fd, bytes);
  }

  backlog(): number {
    return 0;
  }

  async drain(): Promise<boolean> {
    return true;
  }
}

/** A pipe or socket: written asynchronously through a Node stream. */
class StreamTarget implements OutputTarget {
  constructor(
    private readonly stream: Writable,
    private readonly owned: boolean,
    onError: (error: NodeJS.ErrnoException) => void,
  ) {
    stream.on('error', onError);
  }

  close(): void {
    // The stream closes its descriptor (and already has, after an error).
    if (this.owned) this.stream.destroy();
  }

  write(bytes: Uint8Array): void {
    this.stream.write(Buffer.from(bytes));
  }

  backlog(): number {
    return this.stream.writableLength;
  }

  async drain(giveUp: Promise<void>): Promise<boolean> {
    let timer: NodeJS.Timeout | undefined;
    const drained = new Promise<void>((resolve) => {
      const check = () => {
        if (this.backlog() === 0 || this.stream.destroyed) resolve();
        else timer = setTimeout(check, 20);
      };
      check();
    });
    await Promise.race([drained, giveUp]);
    clearTimeout(timer);
    return this.backlog() === 0;
  }
}

/** Told when a synchronous write has to wait for its reader, and when it no longer does. */
export interface BlockedWriteHooks {
  blocked(): void;
  unblocked(): void;
}

/**
 * Writes all of `bytes` to a descriptor, synchronously. A non-blocking descriptor answers EAGAIN
 * when its reader is behind: wait a millisecond at a time rather than spin.
 */
export function writeFully(fd: number, bytes: Uint8Array, hooks?: BlockedWriteHooks): void {
  let offset = 0;
  let waiting = false;
  try {
    while (offset < bytes.length) {
      try {
        offset += writeSync(fd, bytes, offset, bytes.length - offset);
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code !== 'EAGAIN') throw error;
        if (!waiting) hooks?.blocked();
        waiting = true;
        Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 1);
      }
    }
  } finally {
    if (waiting) hooks?.unblocked();
  }
}

function targetFor(fd: number, owned: boolean, onError: (error: NodeJS.ErrnoException) => void): OutputTarget {
  const stat = fstatSync(fd);
  if (!stat.isFIFO() && !stat.isSocket()) return new SyncTarget(fd, owned);
  // Standard output and error have their Node streams already (vmm's own lines use stderr's).
  if (!owned && (fd === 1 || fd === 2)) return new StreamTarget(fd === 1 ? process.stdout : process.stderr, false, onError);
  return new StreamTarget(new Socket({ fd, readable: false, writable: true }), owned, onError);
}

export class ConsoleOutput {
  private readonly target: OutputTarget;
  private chunk = new Uint8Array(CHUNK_BYTES);
  private length = 0;
  private failed = false;
  private readonly terminal: boolean;
  /** The last byte handed to the target: whether the guest left the cursor mid-line. */
  private lastByte = 0x0a;
  /** Bytes dropped because the reader was BACKLOG_LIMIT behind. */
  dropped = 0;

  /**
   * `onError` hears of the first write error (EPIPE, ENOSPC...); output is discarded after it.
   * An `owned` descriptor (a --serial file) is closed by close().
   */
  constructor(
    fd: number,
    owned: boolean,
    private readonly onError: (error: NodeJS.ErrnoException) => void,
  ) {
    this.target = targetFor(fd, owned, (error) => this.fail(error));
    this.terminal = isatty(fd);
  }

  readonly push = (byte: number): void => {
    if (this.length === this.chunk.length) this.flush();
    this.chunk[this.length++] = byte;
  };

  /** Hands the gathered bytes to the target (or drops them, see above). */
  flush(): void {
    if (this.length === 0) return;
    const bytes = this.chunk.subarray(0, this.length);
    this.lastByte = bytes[bytes.length - 1];
    this.length = 0;
    if (this.failed) return;
    if (this.target.backlog() >= BACKLOG_LIMIT) {
      this.dropped += bytes.length;
      return;
    }
    try {
      this.target.write(bytes);
    } catch (error) {
      this.fail(error as NodeJS.ErrnoException);
    }
  }

  /**
   * Flushes and waits until the reader has taken everything, or until `giveUp` resolves.
   * Returns the bytes left unwritten.
   */
  async finish(giveUp: Promise<void>): Promise<number> {
    this.flush();
    if (this.failed) return 0;
    await this.target.drain(giveUp);
    return this.failed ? 0 : this.target.backlog();
  }

  /** On a terminal, ends the guest's last line so that vmm's report starts on a line of its own. */
  endLine(): void {
    this.flush();
    if (this.terminal && this.lastByte !== 0x0a && !this.failed) {
      this.lastByte = 0x0a;
      this.push(0x0a);
      this.flush();
    }
  }

  close(): void {
    this.target.close();
  }

  private fail(error: NodeJS.ErrnoException): void {
    if (this.failed) return;
    this.failed = true;
    this.onError(error);
  }
}
