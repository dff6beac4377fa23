// What the snapshot and migration tests share: Debian's Linux running the count workload
// (guests/initramfs/workload-count: numbered lines every few ms), a control socket to drive the
// run, and the check that the numbering went on with no gap and no repeat.
import { mkdtempSync } from 'node:fs';
import { createConnection, createServer, type Server, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect } from 'vitest';
import { VmmProcess, sleep } from './cli-process.js';
import { ROOT, runVmmAsync } from './run-vmm.js';

const image = (name: string) => join(ROOT, 'guests', 'images', name);

export function workDir(): string {
  return mkdtempSync(join(tmpdir(), 'vmm-state-'));
}

/** Boots the count workload with a control socket; `extra` goes to the kernel command line. */
export function bootCounter(socket: string, count: number, { append = '', args = [] as string[], timeoutMs = 240_000 } = {}): VmmProcess {
  return new VmmProcess(
    [
      'boot', '--kernel', image('vmlinuz'), '--initrd', image('initrd.gz'),
      '-a', `console=ttyS0 quiet vmm.workload=count vmm.count=${count} ${append}`.trim(),
      '-m', '128', '--no-stdin', '--control', socket, ...args,
    ],
    {},
    timeoutMs,
  );
}

/** A destination waiting for a migration; resolves once it listens, with its address. */
export async function incoming(args: string[] = [], timeoutMs = 240_000): Promise<{ process: VmmProcess; uri: string }> {
  const process = new VmmProcess(['restore', '--incoming', 'tcp:127.0.0.1:0', '--no-stdin', ...args], {}, timeoutMs);
  await process.waitFor('waiting for an incoming migration on ', 'stderr', 60_000);
  const uri = /waiting for an incoming migration on (tcp:\S+)/.exec(process.stderr)![1];
  return { process, uri };
}

/** `vmm ctl SOCKET COMMAND ARGS...`: the answer (parsed), or the error line. */
export async function ctl(socket: string, command: string, ...args: string[]): Promise<{ status: number | null; value?: Record<string, unknown>; error: string }> {
  const run = await runVmmAsync(['ctl', socket, command, ...args], 60);
  const value = run.status === 0 ? (JSON.parse(run.stdout) as Record<string, unknown>) : undefined;
  return { status: run.status, value, error: run.stderr.trim() };
}

/** Waits for a migration the source runs to end, by its status on the control socket. */
export async function migrationEnd(socket: string, source: VmmProcess, timeoutMs = 60_000): Promise<Record<string, unknown>> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    // A completed migration ends the source's run: its last status is in its stderr instead.
    if (source.child.exitCode !== null) return { status: /guest migrated to/.test(source.stderr) ? 'completed' : 'ended' };
    const answer = await ctl(socket, 'migrate-status');
    const status = answer.value?.status;
    if (status === 'failed' || status === 'completed') return answer.value!;
    if (Date.now() > deadline) throw new Error(`the migration did not end in ${timeoutMs} ms: ${JSON.stringify(answer)}`);
    await sleep(100);
  }
}

/** The numbers of the guest's VMM-COUNT lines, in order. */
export function counts(output: string): number[] {
  return [...output.replaceAll('\r\n', '\n').matchAll(/^VMM-COUNT (\d+)$/gm)].map((m) => Number(m[1]));
}

/** The guest's lines, from wherever they were printed, count 1 to `count` once each, in order. */
export function expectWholeCount(output: string, count: number): void {
  const numbers = counts(output);
  expect(numbers.length).toBe(count);
  expect(numbers.every((n, i) => n === i + 1)).toBe(true);
  expect(output).toContain('VMM-WORKLOAD-OK count');
  expect(output).not.toMatch(/BUG|lockup|stall|Oops|panic/i);
}

/** Waits until the guest has printed line `n`. */
export async function reached(process: VmmProcess, n: number, timeoutMs = 180_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!counts(process.stdout).includes(n)) {
    if (process.child.exitCode !== null) throw new Error(`vmm ended (${process.child.exitCode}) before the guest counted to ${n}:\n${process.stderr}`);
    if (Date.now() > deadline) throw new Error(`the guest did not count to ${n} in ${timeoutMs} ms:\n${process.stderr}`);
    await sleep(20);
  }
}

/**
 * A TCP relay between a migration's source and its destination that can break the stream as a
 * faulty link would: cut it after `cutAfter` bytes, or flip one byte at `flipAt`.
 */
export async function faultyLink(target: string, fault: { cutAfter?: number; flipAt?: number }): Promise<{ uri: string; close: () => void }> {
  const [, host, port] = /^tcp:(.*):(\d+)$/.exec(target)!;
  const sockets: Socket[] = [];
  const server: Server = createServer((from) => {
    const to = createConnection({ host, port: Number(port) });
    sockets.push(from, to);
    let seen = 0;
    from.on('data', (chunk: Buffer) => {
      const start = seen;
      seen += chunk.length;
      if (fault.flipAt !== undefined && fault.flipAt >= start && fault.flipAt < seen) {
        chunk = Buffer.from(chunk);
        chunk[fault.flipAt - start] ^= 0x40;
      }
      if (fault.cutAfter !== undefined && seen > fault.cutAfter) {
        from.destroy();
        to.destroy();
        return;
      }
      to.write(chunk);
    });
    to.on('data', (chunk) => from.write(chunk));
    for (const s of [from, to]) s.on('error', () => {});
    from.on('close', () => to.destroy());
    to.on('close', () => from.destroy());
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address() as { port: number };
  return {
    uri: `tcp:127.0.0.1:${address.port}`,
    close: () => {
      for (const s of sockets) s.destroy();
      server.close();
    },
  };
}
