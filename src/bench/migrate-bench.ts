// Migration benchmark (`vmm bench migrate`): Debian's Linux (128 MiB) counting lines every 20 ms,
// idle or with a writer rewriting 16 MiB of its page cache with random bytes, moved between two
// vmm processes on loopback by pre-copy and by post-copy; and a snapshot of it, saved and
// restored. Each figure is the median of the runs. Downtime is given as the source's VMM
// measures it (from the pause to the destination's word that it runs the guest) and as the
// guest's output shows it, less the 20 ms it sleeps between lines: the gap between its last line
// on the source and its first on the destination (what a client of the guest would see), and the
// longest gap from the start of the migration on (a guest slowed by the copy shows there). The
// guest's own clock does not see the pause: its time stands still while it is not running.
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { BenchError } from './bench-error.js';
import { linuxImages, vmmScript } from './bench-guest.js';
import { trackChild } from './running-children.js';
import { median } from './stats.js';

const INTERVAL_MS = 20;
const WRITER_MIB = 16;

interface Scenario {
  name: string;
  postcopy: boolean;
  writer: boolean;
}

const SCENARIOS: readonly Scenario[] = [
  { name: 'pre-copy, idle', postcopy: false, writer: false },
  { name: 'pre-copy, writer', postcopy: false, writer: true },
  { name: 'post-copy, idle', postcopy: true, writer: false },
  { name: 'post-copy, writer', postcopy: true, writer: true },
];

interface MigrationFigures {
  totalMs: number;
  downtimeMs: number;
  /** From the source's last line to the destination's first, less the guest's own sleep. */
  switchGapMs: number;
  /** The longest gap between two lines from the migration's start on (a slowed guest shows here). */
  lineGapMs: number;
  rounds: number;
  pages: number;
  mib: number;
  perRound: string;
}

export interface MigrateBenchOptions {
  runs: number;
  log: (line: string) => void;
}

/** A child vmm whose output lines are timed on the benchmark's clock. */
class TimedVmm {
  readonly child: ChildProcess;
  readonly lines: { ms: number; text: string }[] = [];
  stderr = '';
  private partial = '';
  readonly ended: Promise<number | null>;

  constructor(args: string[], clock: () => number) {
    this.child = spawn(process.execPath, [vmmScript(), ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    trackChild(this.child);
    this.child.stdout!.on('data', (chunk: Buffer) => {
      const parts = (this.partial + chunk.toString('latin1')).split('\n');
      this.partial = parts.pop() ?? '';
      for (const text of parts) this.lines.push({ ms: clock(), text: text.replace(/\r$/, '') });
    });
    this.child.stderr!.on('data', (chunk: Buffer) => (this.stderr += chunk.toString('latin1')));
    this.ended = new Promise((resolve) => this.child.on('close', (status) => resolve(status)));
  }

  async until(test: () => boolean, what: string, timeoutMs = 180_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (!test()) {
      if (this.child.exitCode !== null) throw new BenchError(`vmm ended before ${what}: ${this.stderr.trim().split('\n').pop()}`);
      if (Date.now() > deadline) throw new BenchError(`no ${what} within ${timeoutMs / 1000} s`);
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
  }

  kill(): void {
    this.child.kill('SIGTERM');
  }
}

function ctl(socket: string, ...args: string[]): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [vmmScript(), 'ctl', socket, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr.on('data', (d: Buffer) => (err += d.toString()));
    child.on('close', (status) => (status === 0 ? resolve(out) : reject(new BenchError(`vmm ctl ${args[0]}: ${err.trim()}`))));
  });
}

function guestArgs(socket: string, writer: boolean): string[] {
  const { kernel, initrd } = linuxImages();
  const append = `console=ttyS0 quiet vmm.workload=count vmm.count=100000 vmm.interval=${INTERVAL_MS * 1000}${writer ? ` vmm.dirty=${WRITER_MIB}` : ''}`;
  return ['boot', '--kernel', kernel, '--initrd', initrd, '-a', append, '-m', '128', '--no-stdin', '--control', socket];
}

const countLine = (text: string) => /^VMM-COUNT (\d+)$/.exec(text);

async function migrateOnce(dir: string, scenario: Scenario, clock: () => number): Promise<MigrationFigures> {
  const socket = join(dir, `control-${Date.now()}`);
  const destination = new TimedVmm(['restore', '--incoming', 'tcp:127.0.0.1:0', '--no-stdin'], clock);
  const source = new TimedVmm(guestArgs(socket, scenario.writer), clock);
  try {
    await destination.until(() => /incoming migration on tcp:/.test(destination.stderr), 'the destination listening');
    const uri = /incoming migration on (tcp:\S+)/.exec(destination.stderr)![1];
    // Long enough in user space for the writer to have filled its buffer.
    await source.until(() => source.lines.some((l) => countLine(l.text)?.[1] === '100'), 'the guest counting');
    const migrateAt = clock();
    await ctl(socket, 'migrate', `uri=${uri}`, `postcopy=${scenario.postcopy}`);
    await source.ended;
    const done = /guest migrated to .*$/m.exec(source.stderr)?.[0];
    if (!done) throw new BenchError(`the migration did not complete: ${source.stderr.trim().split('\n').pop()}`);
    await destination.until(() => destination.lines.filter((l) => countLine(l.text)).length >= 10, 'the guest counting at the destination');
    const sourceLines = source.lines.filter((l) => countLine(l.text));
    const destinationLines = destination.lines.filter((l) => countLine(l.text));
    const switchGap = destinationLines[0].ms - sourceLines[sourceLines.length - 1].ms;
    const all = [...sourceLines.filter((l) => l.ms >= migrateAt), ...destinationLines];
    let gap = 0;
    for (let i = 1; i < all.length; i++) gap = Math.max(gap, all[i].ms - all[i - 1].ms);
    const rounds = [...done.matchAll(/(\d+) pages in (\d+) ms/g)];
    const pagesSent = scenario.postcopy
      ? Number(/(\d+) pages pushed and (\d+) pulled/.exec(done)![1]) + Number(/(\d+) pulled/.exec(done)![1])
      : rounds.reduce((sum, r) => sum + Number(r[1]), 0) + Number(/\((\d+) pages\)/.exec(done)?.[1] ?? 0);
    return {
      totalMs: scenario.postcopy ? Number(/([\d.]+) s in all/.exec(done)![1]) * 1000 : Number(/ in ([\d.]+) s;/.exec(done)![1]) * 1000,
      downtimeMs: Number(/downtime ([\d.]+) ms/.exec(done)![1]),
      switchGapMs: Math.max(0, switchGap - INTERVAL_MS),
      lineGapMs: Math.max(0, gap - INTERVAL_MS),
      rounds: scenario.postcopy ? 0 : rounds.length,
      pages: pagesSent,
      mib: (pagesSent * 4096) / 1048576,
      perRound: scenario.postcopy ? '-' : `${rounds.map((r) => r[1]).join('/')} + ${/\((\d+) pages\)/.exec(done)?.[1] ?? '?'}`,
    };
  } finally {
    source.kill();
    destination.kill();
    await Promise.all([source.ended, destination.ended]);
  }
}

async function snapshotOnce(dir: string, clock: () => number): Promise<{ saveS: number; restoreS: number; mib: number }> {
  const socket = join(dir, `control-${Date.now()}`);
  const file = join(dir, 'linux.snap');
  const source = new TimedVmm(guestArgs(socket, false), clock);
  try {
    await source.until(() => source.lines.some((l) => countLine(l.text)?.[1] === '50'), 'the guest counting');
    const saved = JSON.parse(await ctl(socket, 'snapshot', `file=${file}`)) as { seconds: number; bytes: number };
    // The restore is timed alone, not beside the machine it came from.
    await ctl(socket, 'quit');
    await source.ended;
    const restored = new TimedVmm(['restore', file, '--no-stdin'], clock);
    await restored.until(() => /restored '.*' \(\d+ pages\) in [\d.]+ s/.test(restored.stderr), 'the restore');
    const restoreS = Number(/restored '.*' \(\d+ pages\) in ([\d.]+) s/.exec(restored.stderr)![1]);
    restored.kill();
    await restored.ended;
    return { saveS: saved.seconds, restoreS, mib: saved.bytes / 1048576 };
  } finally {
    source.kill();
    await source.ended;
  }
}

export async function migrateBench(options: MigrateBenchOptions): Promise<void> {
  const { runs, log } = options;
  const dir = mkdtempSync(join(tmpdir(), 'vmm-bench-migrate-'));
  const started = process.hrtime.bigint();
  const clock = () => Number(process.hrtime.bigint() - started) / 1e6;
  try {
    log(`migration of Debian's Linux (128 MiB, a line every ${INTERVAL_MS} ms; writer: ${WRITER_MIB} MiB of page cache rewritten with random bytes), loopback, direct engine, ${runs} run(s), medians`);
    log('| scenario | total ms | downtime ms (VMM) | gap at the switch ms (guest output) | longest gap ms (guest output) | rounds | pages per round + stop-and-copy | MiB sent |');
    log('|---|---|---|---|---|---|---|---|');
    for (const scenario of SCENARIOS) {
      const figures: MigrationFigures[] = [];
      for (let run = 0; run < runs; run++) figures.push(await migrateOnce(dir, scenario, clock));
      const m = (pick: (f: MigrationFigures) => number) => median(figures.map(pick));
      log(`| ${scenario.name} | ${m((f) => f.totalMs).toFixed(0)} | ${m((f) => f.downtimeMs).toFixed(1)} | ${m((f) => f.switchGapMs).toFixed(0)} | ${m((f) => f.lineGapMs).toFixed(0)} | ${m((f) => f.rounds)} | ${figures[figures.length >> 1].perRound} | ${m((f) => f.mib).toFixed(1)} |`);
    }
    const snapshots = [];
    for (let run = 0; run < runs; run++) snapshots.push(await snapshotOnce(dir, clock));
    log(`snapshot: ${median(snapshots.map((s) => s.mib)).toFixed(1)} MiB file, saved in ${median(snapshots.map((s) => s.saveS)).toFixed(3)} s, restored in ${median(snapshots.map((s) => s.restoreS)).toFixed(3)} s (medians)`);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
