// Trace output to a file descriptor: chunks are gathered and written in large synchronous
// writes (consecutive text chunks joined into one), so a long trace streams through bounded
// memory at disk speed.
import { writeSync } from 'node:fs';

const FLUSH_BYTES = 1 << 20;

export class TraceFileOutput {
  private chunks: (string | Uint8Array)[] = [];
  private pending = 0;

  constructor(private readonly fd: number) {}

  readonly write = (chunk: string | Uint8Array): void => {
    this.chunks.push(chunk);
    this.pending += chunk.length;
    if (this.pending >= FLUSH_BYTES) this.flush();
  };

  flush(): void {
    let text: string[] = [];
    for (const chunk of this.chunks) {
      if (typeof chunk === 'string') {
        text.push(chunk);
        continue;
      }
      if (text.length > 0) this.writeAll(Buffer.from(text.join(''), 'utf8'));
      text = [];
      this.writeAll(chunk);
    }
    if (text.length > 0) this.writeAll(Buffer.from(text.join(''), 'utf8'));
    this.chunks = [];
    this.pending = 0;
  }

  private writeAll(bytes: Uint8Array): void {
    let offset = 0;
    while (offset < bytes.length) {
      try {
        offset += writeSync(this.fd, bytes, offset, bytes.length - offset);
      } catch (error) {
        // A pipe to a slower reader (standard output) is non-blocking: retry until it drains.
        if ((error as NodeJS.ErrnoException).code !== 'EAGAIN') throw error;
      }
    }
  }
}
