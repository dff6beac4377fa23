// Trace output to a file descriptor: chunks are gathered and written in large synchronous
// writes (consecutive text chunks joined into one), so a long trace streams through bounded
// memory at disk speed. A trace is never dropped: a slow reader of a pipe slows the guest down.
// A write that fails (EPIPE from a reader that left, ENOSPC) is reported once through `onError`
// and the rest of the trace is discarded, so the run can end and say why.
import { writeFully, type BlockedWriteHooks } from './console-output.js';

const FLUSH_BYTES = 1 << 20;

export class TraceFileOutput {
  private chunks: (string | Uint8Array)[] = [];
  private pending = 0;
  private failed = false;

  /** `hooks` hear when a write waits for the reader (see signals.ts). */
  constructor(
    private readonly fd: number,
    private readonly onError: (error: NodeJS.ErrnoException) => void,
    private readonly hooks?: BlockedWriteHooks,
  ) {}

  readonly write = (chunk: string | Uint8Array): void => {
    if (this.failed) return;
    this.chunks.push(chunk);
    this.pending += chunk.length;
    if (this.pending >= FLUSH_BYTES) this.flush();
  };

  flush(): void {
    const chunks = this.chunks;
    this.chunks = [];
    this.pending = 0;
    let text: string[] = [];
    for (const chunk of chunks) {
      if (typeof chunk === 'string') {
        text.push(chunk);
        continue;
      }
      if (text.length > 0) this.writeAll(Buffer.from(text.join(''), 'utf8'));
      text = [];
      this.writeAll(chunk);
    }
    if (text.length > 0) this.writeAll(Buffer.from(text.join(''), 'utf8'));
  }

  private writeAll(bytes: Uint8Array): void {
    if (this.failed) return;
    try {
      writeFully(this.fd, bytes, this.hooks);
    } catch (error) {
      this.failed = true;
      this.onError(error as NodeJS.ErrnoException);
    }
  }
}
