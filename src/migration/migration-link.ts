// One migration connection, either end: the machine-state stream goes from source to
// destination; the destination answers with JSON lines ({"ok": WHAT} or {"error": WHY}). Any
// failure of the link (an error, the other end gone, a reply that does not come in time) rejects
// what is waiting on it with a one-line reason.
import type { Socket } from 'node:net';

/** Bytes queued in the socket before send() waits for it to drain. */
const QUEUE_BYTES = 16 << 20;
/** How long a link may take nothing before it counts as failed. */
const STALL_MS = 10_000;
/** Bytes sent between two turns given to the event loop (and the guest). */
const YIELD_BYTES = 8 << 20;

export class LinkBroken extends Error {}

export class MigrationLink {
  private lines: string[] = [];
  private buffered = '';
  private waiting: { resolve: (line: string) => void; reject: (error: Error) => void } | undefined;
  private broken: Error | undefined;
  private readonly drainWaiters: { resolve: () => void; reject: (error: Error) => void }[] = [];

  constructor(
    readonly socket: Socket,
    /** Who is at the other end, for messages ("the destination"). */
    private readonly peer: string,
    /** Whether the stream comes in here (the destination): then data is not read as lines. */
    onData?: (chunk: Buffer) => void,
  ) {
    socket.setNoDelay(true);
    socket.on('data', (chunk: Buffer) => {
      if (onData) onData(chunk);
      else this.takeText(chunk.toString('utf8'));
    });
    socket.on('drain', () => {
      for (const waiter of this.drainWaiters.splice(0)) waiter.resolve();
    });
    socket.on('error', (error) => this.fail(`the link to ${peer} failed: ${error.message}`));
    socket.on('close', () => this.fail(`${peer} closed the link`));
  }

  /**
   * Sends bytes; waits when much is queued already, and gives the event loop a turn every
   * YIELD_BYTES (on loopback the kernel takes everything at once, and a round would otherwise
   * hold the guest, which runs between turns, for its whole length).
   */
  async send(chunk: Uint8Array): Promise<void> {
    if (this.broken) throw this.broken;
    this.socket.write(chunk);
    this.sinceYield += chunk.length;
    if (this.socket.writableLength > QUEUE_BYTES) await this.drained();
    if (this.sinceYield >= YIELD_BYTES) {
      this.sinceYield = 0;
      await new Promise((resolve) => setImmediate(resolve));
    }
  }

  private sinceYield = 0;

  /**
   * Resolves when everything queued has gone to the kernel; a link that takes nothing for
   * STALL_MS (the other end alive but not reading) is failed, as one that broke.
   */
  drained(): Promise<void> {
    if (this.broken) return Promise.reject(this.broken);
    if (this.socket.writableLength === 0) return Promise.resolve();
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.fail(`the link to ${this.peer} stalled: nothing was taken for ${STALL_MS / 1000} s`);
        this.socket.destroy();
      }, STALL_MS);
      this.drainWaiters.push({
        resolve: () => {
          clearTimeout(timer);
          resolve();
        },
        reject: (error) => {
          clearTimeout(timer);
          reject(error);
        },
      });
    });
  }

  /** Sends one JSON line (the destination's answers). */
  reply(value: Record<string, unknown>): void {
    if (!this.broken) this.socket.write(JSON.stringify(value) + '\n');
  }

  /** The next JSON line from the other end, within `timeoutMs`. */
  async nextReply(timeoutMs: number): Promise<Record<string, unknown>> {
    const line = await new Promise<string>((resolve, reject) => {
      const queued = this.lines.shift();
      if (queued !== undefined) return resolve(queued);
      if (this.broken) return reject(this.broken);
      const timer = setTimeout(() => {
        this.waiting = undefined;
        reject(new LinkBroken(`${this.peer} did not answer within ${timeoutMs / 1000} s`));
      }, timeoutMs);
      this.waiting = {
        resolve: (text) => {
          clearTimeout(timer);
          resolve(text);
        },
        reject: (error) => {
          clearTimeout(timer);
          reject(error);
        },
      };
    });
    try {
      const value = JSON.parse(line) as unknown;
      if (value && typeof value === 'object' && !Array.isArray(value)) return value as Record<string, unknown>;
    } catch {
      // below
    }
    throw new LinkBroken(`${this.peer} sent something that is not a migration reply`);
  }

  close(): void {
    this.socket.end();
  }

  destroy(): void {
    this.broken ??= new LinkBroken(`the link to ${this.peer} was closed`);
    this.socket.destroy();
  }

  private takeText(text: string): void {
    this.buffered += text;
    let newline: number;
    while ((newline = this.buffered.indexOf('\n')) >= 0) {
      const line = this.buffered.slice(0, newline);
      this.buffered = this.buffered.slice(newline + 1);
      const waiter = this.waiting;
      this.waiting = undefined;
      if (waiter) waiter.resolve(line);
      else this.lines.push(line);
    }
  }

  private fail(message: string): void {
    if (this.broken) return;
    this.broken = new LinkBroken(message);
    this.waiting?.reject(this.broken);
    this.waiting = undefined;
    for (const waiter of this.drainWaiters.splice(0)) waiter.reject(this.broken);
  }
}
