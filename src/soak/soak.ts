// `vmm soak`: boots guests many times, several at once, under every engine, each run a separate
// `vmm boot` process, and counts the runs that did not end as they should. Failures that come
// once in twenty runs, or only when two guests share the host, show up here and nowhere else.
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { projectRoot } from '../util/project-root.js';
import { runGuest, type GuestRun } from './guest-run.js';
import type { SoakGuest } from './soak-guests.js';
import { planRuns, type PlannedRun } from './soak-plan.js';
import { progressLine, reportLines, soakExitStatus, type RunResult } from './soak-report.js';
import { failureLine } from './verdict.js';

export interface SoakOptions {
  guests: readonly SoakGuest[];
  engines: readonly string[];
  /** The engines that run only paravirtual kernels (and the paravirtual guests only under them). */
  paravirtualEngine?: (engine: string) => boolean;
  /** Total guest runs, shared out among guests and engines. */
  runs: number;
  /** Runs at the same time. */
  parallel: number;
  /** Where each failed run's whole output is written; none when undefined. */
  logDir: string | undefined;
  log: (line: string) => void;
  /** Aborted on SIGINT: no new runs start, running ones are ended and not counted. */
  interrupt: AbortSignal;
}

/** Runs the soak and prints its report; returns the exit status. */
export async function soak(options: SoakOptions): Promise<number> {
  const { guests, engines, log, interrupt } = options;
  const plan = planRuns(guests, engines, options.runs, options.paravirtualEngine);
  const vmm = join(projectRoot(), 'dist', 'src', 'cli', 'vmm.js');
  const byName = new Map(guests.map((guest) => [guest.name, guest]));
  const parallel = Math.min(options.parallel, plan.length);
  log(`soak: ${plan.length} runs of ${guests.map((g) => g.name).join(', ')} under ${engines.join(', ')}, ${parallel} at a time`);
  for (const guest of guests) log(`  ${guest.name}: ${guest.summary}`);

  const results: RunResult[] = [];
  let next = 0;
  const worker = async () => {
    while (next < plan.length && !interrupt.aborted) {
      const planned = plan[next++];
      const guest = byName.get(planned.guest) as SoakGuest;
      const args = [vmm, 'boot', ...guest.bootArgs(), '--engine', planned.engine, '--time-limit', String(guest.timeLimitSeconds)];
      const run = await runGuest(process.execPath, args, guest.timeLimitSeconds, interrupt);
      if (run.interrupted) break;
      const result: RunResult = { run: planned, seconds: run.seconds, failure: failureLine(run, guest.expected) };
      results.push(result);
      log(progressLine(result, plan.length));
      if (result.failure !== undefined && options.logDir !== undefined) writeFailureLog(options.logDir, planned, args, run);
    }
  };
  await Promise.all(Array.from({ length: parallel }, worker));

  const order = { guests: guests.map((guest) => guest.name), engines };
  for (const line of reportLines(order, plan, results, interrupt.aborted)) log(line);
  return soakExitStatus(results, interrupt.aborted);
}

/** The whole output of a failed run, for reading after the soak: `<guest>-<engine>-<run>.log`. */
function writeFailureLog(dir: string, planned: PlannedRun, args: string[], run: GuestRun): void {
  mkdirSync(dir, { recursive: true });
  const ending = run.status !== null ? `exit status ${run.status}` : `signal ${run.signal ?? '?'}`;
  const text =
    `command: ${[process.execPath, ...args].join(' ')}\n` +
    `${ending} after ${run.seconds.toFixed(1)} s${run.killed ? ' (killed: no exit after its time limit)' : ''}\n` +
    `--- console (standard output) ---\n${run.stdout}\n--- vmm (standard error) ---\n${run.stderr}`;
  writeFileSync(join(dir, `${planned.guest}-${planned.engine}-${planned.index}.log`), text);
}
