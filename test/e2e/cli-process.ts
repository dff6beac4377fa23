// A `vmm` child process the test talks to while it runs: waits for what it prints, sends it
// signals, and collects how it ended.
import { spawn, type ChildProcess, type StdioOptions } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { ROOT, VMM } from './run-vmm.js';

export interface Ended {
  status: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
  /** Milliseconds from start() to the exit. */
  elapsedMs: number;
}

export class VmmProcess {
  readonly child: ChildProcess;
  stdout = '';
  stderr = '';
  private readonly started = Date.now();
  private readonly ended: Promise<Ended>;

  /**
   * stdout 'unread' makes it a pipe nobody reads; 'stalled', one whose reader stops after the
   * first bytes (so the test knows the guest runs).
   */
  constructor(
    args: string[],
    stdio: { stdin?: 'ignore' | 'pipe'; stdout?: 'pipe' | 'unread' | 'stalled' | number } = {},
    timeoutMs = 30_000,
  ) {
    const stdout = stdio.stdout ?? 'pipe';
    const options: StdioOptions = [stdio.stdin ?? 'ignore', typeof stdout === 'number' ? stdout : 'pipe', 'pipe'];
    this.child = spawn(process.execPath, [VMM, ...args], { cwd: ROOT, stdio: options });
    if (stdout === 'pipe') this.child.stdout!.on('data', (d: Buffer) => (this.stdout += d.toString('latin1')));
    if (stdout === 'stalled') {
      this.child.stdout!.once('data', (d: Buffer) => {
        this.stdout += d.toString('latin1');
        this.child.stdout!.pause();
      });
    }
    this.child.stderr!.on('data', (d: Buffer) => (this.stderr += d.toString('latin1')));
    const killer = setTimeout(() => this.child.kill('SIGKILL'), timeoutMs);
    this.ended = new Promise((resolve) => {
      this.child.on('close', (status, signal) => {
        clearTimeout(killer);
        resolve({ status, signal, stdout: this.stdout, stderr: this.stderr, elapsedMs: Date.now() - this.started });
      });
    });
  }

  /** Resolves once standard output (or error) contains `text`; rejects after `timeoutMs`. */
  async waitFor(text: string, stream: 'stdout' | 'stderr' = 'stdout', timeoutMs = 20_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (!this[stream].includes(text)) {
      if (Date.now() > deadline) throw new Error(`no '${text}' on ${stream} in ${timeoutMs} ms; stderr:\n${this.stderr}`);
      if (this.child.exitCode !== null) throw new Error(`vmm ended (${this.child.exitCode}) before printing '${text}':\n${this.stderr}`);
      await sleep(20);
    }
  }

  kill(signal: NodeJS.Signals): void {
    this.child.kill(signal);
  }

  end(): Promise<Ended> {
    return this.ended;
  }
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** Flat 32-bit guests (--format flat --load-address 0x100000), as machine code. */
export const FLAT_GUESTS = {
  /** Prints "R\n" on the 0xE9 console, then spins. */
  readySpin: [0xb0, 0x52, 0xe6, 0xe9, 0xb0, 0x0a, 0xe6, 0xe9, 0xeb, 0xfe],
  /** Prints "y\n" forever on the 0xE9 console. */
  chatter: [0xb0, 0x79, 0xe6, 0xe9, 0xb0, 0x0a, 0xe6, 0xe9, 0xeb, 0xf6],
  /** Spins without printing anything. */
  spin: [0xeb, 0xfe],
} as const;

export function writeGuest(dir: string, name: keyof typeof FLAT_GUESTS): string {
  const path = join(dir, `${name}.bin`);
  writeFileSync(path, Uint8Array.from(FLAT_GUESTS[name]));
  return path;
}

export const FLAT_ARGS = ['--format', 'flat', '--load-address', '0x100000', '--no-stdin'];
