// `vmm bench compare`: every nanobenchmark under every engine, and the Linux macro workloads
// under every engine and QEMU, repeated and interleaved (each repetition runs every column once,
// so a change in the machine's load weighs on all of them alike), gathered into one result set.
import { spawnSync } from 'node:child_process';
import { cpus, loadavg } from 'node:os';
import { packageVersion } from '../../util/package-version.js';
import { nativeCore } from '../../vmm/native.js';
import { cpuModel, ownCommandLine } from '../run-facts.js';
import { median } from '../stats.js';
import { MACRO_WORKLOADS, QEMU_COLUMN, runMacro, type MacroSample, type MacroSizes } from './macro-workloads.js';
import { NANOBENCHMARKS, nanoSample, runNanobench, type NanoSample } from './nanobenchmarks.js';
import { COMPARE_SCHEMA, RATIO_REFERENCE, type BenchmarkResult, type Cell, type CompareResults } from './results.js';

export interface CompareOptions {
  runs: number;
  /** vmm engines, `direct` first. */
  engines: readonly string[];
  /**
   * Those of them that run only paravirtual kernels: their nanobenchmarks are the paravirtual
   * kernel's (where it has the operation), and they run no Linux workload.
   */
  paravirtualEngines?: readonly string[];
  /** Run the macro workloads under qemu-system-i386 too. */
  qemu: boolean;
  macroSizes: MacroSizes;
  /**
   * Every nanobenchmark in one boot per engine (no exit counts, which need a boot per benchmark):
   * the quick look.
   */
  nanoInOneBoot: boolean;
  /** A line saying what runs now (replaced by the next). */
  progress: (text: string) => void;
}

/** The first line of `qemu-system-i386 --version`, or undefined when it is not installed. */
export function qemuVersion(): string | undefined {
  const run = spawnSync('qemu-system-i386', ['--version'], { encoding: 'utf8' });
  return run.status === 0 ? run.stdout.split('\n')[0]?.trim() : undefined;
}

const load = (): [number, number, number] => loadavg().map((v) => Math.round(v * 100) / 100) as [number, number, number];

export async function runCompare(options: CompareOptions): Promise<CompareResults> {
  const { runs, engines, progress } = options;
  const tscHz = nativeCore().hostTscHz();
  const qemu = options.qemu ? qemuVersion() : undefined;
  const columns = qemu === undefined ? [...engines] : [...engines, QEMU_COLUMN];
  const paravirtual = (engine: string) => options.paravirtualEngines?.includes(engine) === true;
  const nanoOf = (engine: string) => NANOBENCHMARKS.filter((b) => !paravirtual(engine) || b.paravirtual !== undefined);
  const macroColumns = columns.filter((column) => !paravirtual(column));
  const started: Pick<CompareResults, 'date' | 'command' | 'machine'> = {
    date: new Date().toISOString(),
    command: ownCommandLine(),
    machine: { cpu: cpuModel(), cores: cpus().length, tscHz, loadBefore: load(), loadAfter: load() },
  };

  const nano = new Map<string, NanoSample[]>();
  const macro = new Map<string, MacroSample[]>();
  const failures = new Map<string, string>();
  const key = (benchmark: string, column: string) => `${benchmark}\0${column}`;
  const nanoBoots = (engine: string) => (options.nanoInOneBoot ? 1 : nanoOf(engine).length + 1);
  const steps = runs * (engines.reduce((sum, engine) => sum + nanoBoots(engine), 0) + macroColumns.length);
  let step = 0;
  const say = (what: string, run: number) => progress(`[${++step}/${steps}] run ${run + 1} of ${runs}: ${what}`);

  for (let run = 0; run < runs; run++) {
    for (const engine of engines) {
      const record = (name: string, sample: NanoSample) => {
        const samples = nano.get(key(name, engine)) ?? [];
        nano.set(key(name, engine), samples);
        samples.push(sample);
      };
      const pv = paravirtual(engine);
      if (options.nanoInOneBoot) {
        say(`nanobenchmarks under ${engine}`, run);
        const all = await runNanobench(engine, 'all', undefined, pv);
        for (const { name } of nanoOf(engine)) record(name, nanoSample(name, all, undefined, tscHz));
        continue;
      }
      say(`nanobench baseline under ${engine}`, run);
      const baseline = await runNanobench(engine, 'none', undefined, pv);
      for (const { name } of nanoOf(engine)) {
        say(`nanobench ${name} under ${engine}`, run);
        record(name, nanoSample(name, await runNanobench(engine, name, undefined, pv), baseline, tscHz));
      }
    }
    for (const column of macroColumns) {
      say(`Linux macro workloads under ${column}`, run);
      if (failures.has(key('macro', column))) continue;
      try {
        const samples = macro.get(column) ?? [];
        macro.set(column, samples);
        samples.push(await runMacro(column, options.macroSizes));
      } catch (error) {
        // QEMU is an outside reference: its failure is reported in its cells, not fatal.
        if (column !== QEMU_COLUMN || !(error instanceof Error)) throw error;
        failures.set(key('macro', column), error.message);
      }
    }
  }

  const benchmarks: BenchmarkResult[] = [];
  const withParavirtual = engines.some(paravirtual);
  for (const { name, description: native, paravirtual: pvForm } of NANOBENCHMARKS) {
    const description = withParavirtual && pvForm !== undefined ? `${native} (the paravirtual kernel: ${pvForm})` : native;
    const cells: Record<string, Cell> = {};
    for (const column of columns) {
      const samples = nano.get(key(name, column));
      if (samples === undefined && paravirtual(column)) {
        cells[column] = { status: 'not-applicable', reason: `${column} runs only a paravirtual kernel, which has no such operation (it does no port I/O and has no EFLAGS.IF)` };
        continue;
      }
      if (samples === undefined) {
        cells[column] = { status: 'not-applicable', reason: 'qemu-system-i386 is the outside reference for the macro workloads only: it has no exit counters, and vmm’s engines are what is compared' };
        continue;
      }
      const unfaithful = samples.find((s): s is { unfaithful: string } => 'unfaithful' in s);
      if (unfaithful) {
        cells[column] = { status: 'unfaithful', reason: `the guest’s own check under ${column}: ${unfaithful.unfaithful}` };
        continue;
      }
      const measured = samples as { ns: number; exitsPerOp?: number; vmmCallsPerOp?: number }[];
      const counted = (pick: (s: (typeof measured)[number]) => number | undefined) => {
        const values = measured.map(pick);
        return values.every((v): v is number => v !== undefined) ? median(values) : undefined;
      };
      const vmmCalls = counted((s) => s.vmmCallsPerOp);
      const callsShown = column === 'bt' || paravirtual(column) || vmmCalls !== 0;
      cells[column] = measuredCell(measured.map((s) => s.ns), counted((s) => s.exitsPerOp), vmmCalls !== undefined && callsShown ? vmmCalls : undefined);
    }
    benchmarks.push({ name, kind: 'nano', unit: 'ns', description, cells: withRatios(cells) });
  }
  for (const { name, description } of MACRO_WORKLOADS) {
    const cells: Record<string, Cell> = {};
    for (const column of columns) {
      if (paravirtual(column)) {
        cells[column] = { status: 'not-applicable', reason: `${column} runs only paravirtual kernels, and Linux is not one (its 32-bit Xen-style support is gone)` };
        continue;
      }
      const failure = failures.get(key('macro', column));
      const samples = macro.get(column) ?? [];
      if (failure !== undefined || samples.length === 0) {
        cells[column] = { status: 'failed', reason: failure ?? 'no run completed' };
        continue;
      }
      // Exits are counted over the whole run (boot, workloads and power-off), so they are given on the boot row only.
      const exits = name === 'boot' && samples.every((s) => s.exits !== undefined) ? median(samples.map((s) => s.exits ?? 0)) : undefined;
      cells[column] = measuredCell(samples.map((s) => s.seconds[name]), exits, undefined);
    }
    benchmarks.push({ name, kind: 'macro', unit: 's', description: description(options.macroSizes), cells: withRatios(cells) });
  }

  const versions: CompareResults['versions'] = { vmm: packageVersion(), node: process.version, unicorn: nativeCore().unicornVersion };
  if (qemu !== undefined) versions.qemu = qemu;
  return {
    schema: COMPARE_SCHEMA,
    ...started,
    machine: { ...started.machine, loadAfter: load() },
    versions,
    repetitions: runs,
    columns,
    benchmarks,
  };
}

function measuredCell(samples: number[], exitsPerOp: number | undefined, vmmCallsPerOp: number | undefined): Cell {
  const cell: Cell = { status: 'ok', median: median(samples), min: Math.min(...samples), max: Math.max(...samples), samples };
  if (exitsPerOp !== undefined) cell.exitsPerOp = exitsPerOp;
  if (vmmCallsPerOp !== undefined) cell.vmmCallsPerOp = vmmCallsPerOp;
  return cell;
}

/** Each measured cell's ratio to the reference column, where the reference has a number. */
function withRatios(cells: Record<string, Cell>): Record<string, Cell> {
  const reference = cells[RATIO_REFERENCE];
  if (reference?.status !== 'ok') return cells;
  for (const cell of Object.values(cells)) {
    if (cell.status === 'ok') cell.ratio = cell.median / reference.median;
  }
  return cells;
}
