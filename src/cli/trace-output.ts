// Trace output to a file descriptor: chunks are gathered and written in large synchronous
// writes, so a long trace streams through bounded memory at disk speed.
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
    for (const chunk of this.chunks) {
      const bytes = typeof chunk === 'string' ? Buffer.from(chunk, 'utf8') : chunk;
      let offset = 0;
      while (offset < bytes.length) {
        try {
          offset += writeSync(this.fd, bytes, offset, bytes.length - offset);
        } catch (error) {
          if ((error as NodeJS.ErrnoException).code !== 'EAGAIN') throw error;
        }
      }
    }
    this.chunks = [];
    this.pending = 0;
  }
}
