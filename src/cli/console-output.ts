// Guest console bytes to a file descriptor, buffered so that a guest printing a byte per OUT
// does not cost a system call per byte; flushed between time slices and at the end of the run.
import { writeSync } from 'node:fs';

export class ConsoleOutput {
  private buffer = new Uint8Array(1 << 16);
  private length = 0;

  constructor(private readonly fd: number) {}

  readonly push = (byte: number): void => {
    if (this.length === this.buffer.length) this.flush();
    this.buffer[this.length++] = byte;
  };

  flush(): void {
    let offset = 0;
    while (offset < this.length) {
      try {
        offset += writeSync(this.fd, this.buffer, offset, this.length - offset);
      } catch (error) {
        // A non-blocking pipe that is full: wait for the reader rather than lose output.
        if ((error as NodeJS.ErrnoException).code !== 'EAGAIN') throw error;
      }
    }
    this.length = 0;
  }
}
