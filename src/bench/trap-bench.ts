// The trap benchmark: what trap-and-emulate (and binary translation) costs, measured by the guest
// itself. The trapbench guest times four phases with RDTSC (first writes to each page, the same
// writes again with no fault, the same writes through twin page tables: a hidden page fault per
// page under trap and bt, CLI/STI pairs) under `direct`, `trap` and `bt`, each run a separate
// `vmm boot` process; the differences of the medians, divided by the number of events, are the
// costs of one hidden page fault and of one CLI or STI (trapped and emulated under trap, run in
// the translation cache under bt). Then the demand-paging guest under each engine, for the
// slowdown of a whole workload.
import { join } from 'node:path';
import { MAX_RAM_MIB } from '../vmm/layout.js';
import { nativeCore } from '../vmm/native.js';
import { machineLine, ownCommandLine, quote, shown } from './run-facts.js';
import { BenchError } from './bench-error.js';
import { builtGuest as guest, vmmScript } from './bench-guest.js';
import { summaryCounters } from './summary-line.js';
import { median } from './stats.js';
import { timedRun, type TimedRun } from './timed-process.js';

export interface TrapBenchOptions {
  runs: number;
  /** Pages the guest touches (its `pages=`). */
  pages: number;
  /** CLI/STI pairs the guest executes (its `pairs=`). */
  pairs: number;
  log: (line: string) => void;
}

/** The largest region the guest maps (0x40000000-0xbfffffff). */
export const MAX_TRAPBENCH_PAGES = 0x80000;

const ENGINES = ['direct', 'trap', 'bt'] as const;
const DEPRIVILEGED = ['trap', 'bt'] as const;
type Engine = (typeof ENGINES)[number];
const PHASES = ['touch', 'retouch', 'rewalk', 'cli/sti'] as const;
type Phase = (typeof PHASES)[number];
const TIMEOUT_SECONDS = 600;
const PAGING_MEMORY_MIB = 64;

/** The guest's four lines, in cycles. */
type PhaseCycles = Record<Phase, number>;

/** RAM for the trapbench guest: its tables at 4 MiB, the frames, the twin tables, and 1 MiB to spare. */
export function trapbenchMemoryMiB(pages: number): number {
  const tables = Math.ceil(pages / 1024);
  const end = 4 * 2 ** 20 + (2 * tables + pages) * 4096;
  return Math.max(512, Math.ceil(end / 2 ** 20) + 1);
}

function vmmBoot(image: string, engine: Engine, memoryMiB: number, append?: string): string[] {
  const args = [vmmScript(), 'boot', image, '-m', String(memoryMiB), '--no-stdin', '-e', engine];
  return append === undefined ? args : [...args, '-a', append];
}

/** A child's command line for the log, with both engines: `... -e direct|trap ...`. */
function shownBoot(args: string[]): string {
  const [script, ...rest] = args;
  const engine = rest.indexOf('-e') + 1;
  return [quote(process.argv0), quote(shown(script)), ...rest.map((a, i) => (i === engine ? ENGINES.join('|') : quote(shown(a))))].join(' ');
}

async function runOrFail(what: string, args: string[]): Promise<TimedRun> {
  const run = await timedRun(process.execPath, args, TIMEOUT_SECONDS);
  if (run.status !== 1) {
    const tail = run.stdout.trim().split('\n').slice(-1)[0] ?? '';
    throw new BenchError(`${what} ended with status ${run.status} (expected 1): ${tail} ${run.stderr.trim().split('\n').slice(0, 2).join(' ')}`.trim());
  }
  return run;
}

function parsePhases(stdout: string, pages: number, pairs: number): PhaseCycles {
  const grab = (pattern: RegExp): number => {
    const match = pattern.exec(stdout);
    if (!match) throw new BenchError(`the trapbench guest did not print ${pattern.source}; it printed:\n${stdout.trim()}`);
    return Number(match[1]);
  };
  return {
    touch: grab(new RegExp(`^touch ${pages} pages: (\\d+) cycles$`, 'm')),
    retouch: grab(new RegExp(`^retouch ${pages} pages: (\\d+) cycles$`, 'm')),
    rewalk: grab(new RegExp(`^rewalk ${pages} pages: (\\d+) cycles$`, 'm')),
    'cli/sti': grab(new RegExp(`^cli/sti ${pairs} pairs: (\\d+) cycles$`, 'm')),
  };
}

const plural = (n: number, word: string) => `${n} ${word}${n === 1 ? '' : 's'}`;
const us = (seconds: number) => `${(seconds * 1e6).toFixed(3)} µs`;
const pad = (text: string, width: number) => text.padStart(width);

export async function trapBench(options: TrapBenchOptions): Promise<void> {
  const { log, runs, pages, pairs } = options;
  if (pages > MAX_TRAPBENCH_PAGES) throw new BenchError(`at most ${MAX_TRAPBENCH_PAGES} pages fit the guest's 2 GiB window`);
  const trapbench = guest('trapbench.elf');
  const paging = guest('paging.elf');
  const memory = trapbenchMemoryMiB(pages);
  if (memory > MAX_RAM_MIB) throw new BenchError(`${pages} pages need ${memory} MiB of guest RAM, more than the ${MAX_RAM_MIB} MiB maximum`);
  const hz = nativeCore().hostTscHz();
  const append = `pages=${pages} pairs=${pairs}`;

  log(`trap engine costs: trapbench guest, ${pages} pages, ${pairs} CLI/STI pairs, ${plural(runs, 'run')} per engine, medians`);
  log(`  machine: ${machineLine()}`);
  log(`  command: ${ownCommandLine()}`);
  log(`  guest:   ${shownBoot(vmmBoot(trapbench, 'direct', memory, append))}`);

  const cycles: Record<Engine, PhaseCycles[]> = { direct: [], trap: [], bt: [] };
  const counters: Record<Engine, Record<string, number>> = { direct: {}, trap: {}, bt: {} };
  for (let i = 0; i < runs; i++) {
    for (const engine of ENGINES) {
      const run = await runOrFail(`trapbench under ${engine}`, vmmBoot(trapbench, engine, memory, append));
      cycles[engine].push(parsePhases(run.stdout, pages, pairs));
      counters[engine] = summaryCounters(run.stderr);
    }
  }
  const med = (engine: Engine, phase: Phase) => median(cycles[engine].map((c) => c[phase]));
  const seconds = (c: number) => c / hz;

  log(`  ${'phase'.padEnd(8)}${ENGINES.map((e) => pad(`${e} cycles`, 15)).join('')}${ENGINES.map((e) => pad(e, 14)).join('')}`);
  for (const phase of PHASES) {
    const values = ENGINES.map((e) => med(e, phase));
    log(`  ${phase.padEnd(8)}${values.map((v) => pad(String(v), 15)).join('')}${values.map((v) => pad(`${(seconds(v) * 1e3).toFixed(3)} ms`, 14)).join('')}`);
  }
  const tables = Math.ceil(pages / 1024);
  const results: [string, string][] = [];
  for (const engine of DEPRIVILEGED) {
    // From rewalk, not touch: touch also pays the host's first touch of each frame, which on a
    // shared machine varies from run to run by more than the fault costs.
    const fault = seconds(med(engine, 'rewalk') - med('direct', 'rewalk')) / pages;
    const flag = seconds(med(engine, 'cli/sti') - med('direct', 'cli/sti')) / (2 * pairs);
    results.push([`${engine}: hidden page fault, (rewalk ${engine} - rewalk direct) / ${pages} pages:`, us(fault)]);
    results.push([`${engine}: CLI or STI, (cli/sti ${engine} - cli/sti direct) / ${2 * pairs}:`, us(flag)]);
  }
  results.push([`memory baseline, one write to a mapped page, retouch / ${pages} pages:`,
    ENGINES.map((e) => `${e} ${us(seconds(med(e, 'retouch')) / pages)}`).join(', ')]);
  const hidden = counters.trap['pf-hidden'] ?? 0;
  const cli = counters.trap['trap-cli'] ?? 0;
  const sti = counters.trap['trap-sti'] ?? 0;
  results.push([`counters of the last trap run:`,
    `pf-hidden=${hidden} (2 × (${pages} pages + ${plural(tables, 'page table')}) + ${hidden - 2 * (pages + tables)} other), ` +
      `trap-cli=${cli} trap-sti=${sti} (sum ${cli + sti}, 2·pairs = ${2 * pairs})`]);
  results.push([`counters of the last bt run:`,
    `pf-hidden=${counters.bt['pf-hidden'] ?? 0}, trap-cli=${counters.bt['trap-cli'] ?? 0} trap-sti=${counters.bt['trap-sti'] ?? 0} ` +
      `(CLI and STI run in the cache), bt-vmm-calls=${counters.bt['bt-vmm-calls'] ?? 0}`]);
  const width = Math.max(...results.map(([label]) => label.length));
  for (const [label, value] of results) log(`  ${label.padEnd(width)} ${value}`);

  log(`demand paging: paging guest, -m ${PAGING_MEMORY_MIB}, ${plural(runs, 'run')} per engine, medians of the run time (time= of the summary line) and of the wall time`);
  log(`  guest:   ${shownBoot(vmmBoot(paging, 'direct', PAGING_MEMORY_MIB))}`);
  const runTime: Record<Engine, number[]> = { direct: [], trap: [], bt: [] };
  const wall: Record<Engine, number[]> = { direct: [], trap: [], bt: [] };
  for (let i = 0; i < runs; i++) {
    for (const engine of ENGINES) {
      const run = await runOrFail(`paging under ${engine}`, vmmBoot(paging, engine, PAGING_MEMORY_MIB));
      if (!run.stdout.includes('paging ok')) throw new BenchError(`the paging guest did not print "paging ok" under ${engine}`);
      const time = summaryCounters(run.stderr).time;
      if (time === undefined) throw new BenchError('no time= in the summary line of vmm');
      runTime[engine].push(time);
      wall[engine].push(run.seconds);
    }
  }
  for (const engine of ENGINES) {
    const list = (values: number[]) => values.map((v) => v.toFixed(3)).join(' ');
    log(
      `  ${`${engine}:`.padEnd(8)}run time ${median(runTime[engine]).toFixed(3)} s [${list(runTime[engine])}], ` +
        `wall ${median(wall[engine]).toFixed(3)} s [${list(wall[engine])}]`,
    );
  }
  for (const engine of DEPRIVILEGED) {
    const ratio = (values: Record<Engine, number[]>) => (median(values[engine]) / median(values.direct)).toFixed(2);
    log(`  slowdown ${engine}/direct: run time ${ratio(runTime)}x, wall ${ratio(wall)}x`);
  }
}
