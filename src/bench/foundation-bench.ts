// The foundation benchmark: a compute-bound guest under vmm and under qemu-system-i386 (the same
// TCG translator Unicorn embeds), each timed as a whole process with its fixed start-up cost
// (measured with the empty guest) subtracted; and the cost of one port-I/O exit round trip into
// TypeScript, measured in-process on a guest that does nothing but OUT.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { planImage } from '../boot/detect.js';
import { DirectEngine } from '../engines/direct.js';
import { Machine } from '../vmm/machine.js';
import { runMachine } from '../vmm/run-loop.js';
import { BenchError } from './bench-error.js';
import { builtGuest as guest, vmmScript } from './bench-guest.js';
import { exactStopsFallback, stopsIn } from './summary-line.js';
import { median } from './stats.js';
import { timedRun } from './timed-process.js';

export interface FoundationBenchOptions {
  runs: number;
  iterations: number;
  portWrites: number;
  log: (line: string) => void;
  /** A figure that could not be measured, and what to do about it. */
  warn: (line: string) => void;
}

/**
 * The smallest difference between two timed processes taken for a measurement: process start-up
 * varies from run to run by tens of milliseconds, and by more on a busy machine.
 */
const MIN_RESOLUTION_SECONDS = 0.02;
/** Start-up varies by about a tenth of itself from run to run. */
const STARTUP_VARIATION = 0.1;
/** Below this, the in-process port-I/O run is dominated by its fixed costs (machine set-up, the first translations). */
const MIN_PORTIO_RUN_SECONDS = 0.05;

/**
 * What a workload time (a median minus the median of the empty guest's runs) can resolve: the
 * spread of the repeated runs, at least a tenth of the start-up and MIN_RESOLUTION_SECONDS.
 */
export function resolutionOf(empty: readonly number[], total: readonly number[]): number {
  const spread = (samples: readonly number[]) => (samples.length > 1 ? Math.max(...samples) - Math.min(...samples) : 0);
  return Math.max(MIN_RESOLUTION_SECONDS, STARTUP_VARIATION * median(empty), spread(empty), spread(total));
}

/** A workload time, or why there is none. */
function workloadText(seconds: number, resolution: number): string {
  return seconds > resolution ? `workload ${seconds.toFixed(3)} s` : `workload too short to measure (within the ±${resolution.toFixed(3)} s noise)`;
}

const QEMU = 'qemu-system-i386';


function qemuArgs(kernel: string, append: string): string[] {
  return [
    '-M', 'pc', '-accel', 'tcg', '-m', '64', '-display', 'none', '-nodefaults', '-no-reboot',
    '-serial', 'stdio', '-device', 'isa-debug-exit,iobase=0xf4,iosize=0x04',
    '-kernel', kernel, '-append', append,
  ];
}

function vmmArgs(kernel: string, append: string): string[] {
  return [vmmScript(), 'boot', kernel, '--no-stdin', '-m', '64', '-a', append];
}

function checksumOf(output: string): string {
  return /checksum (\S+)/.exec(output)?.[1] ?? '(none)';
}

/** Whole-process wall times in seconds, one per run, of each guest under each emulator. */
export interface ComputeSamples {
  qemu: number[];
  qemuEmpty: number[];
  vmm: number[];
  vmmEmpty: number[];
}

/** The stop mechanism of a set of vmm runs, and why it is not exact when exact was asked for. */
function stopsOfRuns(stderrs: readonly string[]): string {
  const ran = [...new Set(stderrs.map(stopsIn))].join('/');
  const fellBack = stderrs.some((stderr) => exactStopsFallback(stderr) !== undefined);
  return fellBack ? `${ran}, exact requested but not available here` : ran;
}

/**
 * The compute comparison: each workload (median minus the empty guest's median) and their ratio;
 * a workload within the noise of its start-up is not given as a time, and then neither is the
 * ratio, with a warning instead. vmmStops is the stop mechanism the vmm runs used.
 */
export function computeReport(samples: ComputeSamples, checksum: string, vmmStops: string): { lines: string[]; warnings: string[] } {
  const qemuWork = median(samples.qemu) - median(samples.qemuEmpty);
  const vmmWork = median(samples.vmm) - median(samples.vmmEmpty);
  const qemuResolution = resolutionOf(samples.qemuEmpty, samples.qemu);
  const vmmResolution = resolutionOf(samples.vmmEmpty, samples.vmm);
  const qemuLabel = 'qemu-system-i386 (TCG):';
  const vmmLabel = `vmm --engine direct (stops=${vmmStops}):`;
  const width = Math.max(qemuLabel.length, vmmLabel.length);
  const lines = [
    `  ${qemuLabel.padEnd(width)} ${median(samples.qemu).toFixed(3)} s total, start-up and firmware ${median(samples.qemuEmpty).toFixed(3)} s, ${workloadText(qemuWork, qemuResolution)}`,
    `  ${vmmLabel.padEnd(width)} ${median(samples.vmm).toFixed(3)} s total, start-up ${median(samples.vmmEmpty).toFixed(3)} s, ${workloadText(vmmWork, vmmResolution)}`,
    `  checksum ${checksum} under both`,
  ];
  const unmeasured = [...(qemuWork > qemuResolution ? [] : ['qemu']), ...(vmmWork > vmmResolution ? [] : ['vmm'])];
  if (unmeasured.length === 0) {
    lines.push(`  ratio vmm/qemu (workload): ${(vmmWork / qemuWork).toFixed(3)}`);
    return { lines, warnings: [] };
  }
  lines.push('  ratio vmm/qemu (workload): not given, a workload was too short to measure');
  const warning =
    `the compute workload under ${unmeasured.join(' and ')} is within the noise of the start-up time it is measured against: ` +
    'raise --iterations (default 200000000) for a ratio';
  return { lines, warnings: [warning] };
}

export async function foundationBench(options: FoundationBenchOptions): Promise<void> {
  const { log, warn, runs } = options;
  const compute = guest('compute.elf');
  const empty = guest('empty.elf');
  const append = `iterations=${options.iterations}`;
  const timeout = 600;

  log(`compute guest: ${options.iterations} iterations, ${runs} runs each, median wall time`);
  // One unmeasured start of each first: the first start after a while reads its files from disk.
  await timedRun(QEMU, qemuArgs(empty, ''), timeout);
  await timedRun(process.execPath, vmmArgs(empty, ''), timeout);
  const samples: ComputeSamples = { qemu: [], qemuEmpty: [], vmm: [], vmmEmpty: [] };
  let qemuChecksum = '';
  let vmmChecksum = '';
  const vmmStderrs: string[] = [];
  for (let i = 0; i < runs; i++) {
    samples.qemuEmpty.push((await timedRun(QEMU, qemuArgs(empty, ''), timeout)).seconds);
    const q = await timedRun(QEMU, qemuArgs(compute, append), timeout);
    samples.qemu.push(q.seconds);
    qemuChecksum = checksumOf(q.stdout);
    const e = await timedRun(process.execPath, vmmArgs(empty, ''), timeout);
    samples.vmmEmpty.push(e.seconds);
    const v = await timedRun(process.execPath, vmmArgs(compute, append), timeout);
    if (v.status !== 1) throw new BenchError(`vmm compute run ended with status ${v.status}: ${v.stderr.trim()}`);
    vmmStderrs.push(e.stderr, v.stderr);
    samples.vmm.push(v.seconds);
    vmmChecksum = checksumOf(v.stdout);
  }
  if (qemuChecksum !== vmmChecksum) throw new BenchError(`checksums differ: qemu ${qemuChecksum}, vmm ${vmmChecksum}`);
  const report = computeReport(samples, vmmChecksum, stopsOfRuns(vmmStderrs));
  report.lines.forEach(log);
  report.warnings.forEach(warn);

  log(`port I/O: ${options.portWrites} OUTs to port 0x80, in-process, ${runs} runs`);
  const perExit: number[] = [];
  const runSeconds: number[] = [];
  for (let i = 0; i < runs; i++) {
    const machine = new Machine({ ramBytes: 64 << 20, consoleOutput: () => {} });
    try {
      machine.load(planImage(new Uint8Array(readFileSync(guest('portio.elf'))), { ramSize: 64 << 20, cmdline: `writes=${options.portWrites}` }));
      const result = await runMachine(machine, new DirectEngine(), { timeLimitSeconds: timeout, maxExits: Infinity });
      perExit.push((result.guestSeconds * 1e6) / result.exits['io-out']);
      runSeconds.push(result.guestSeconds);
    } finally {
      machine.close();
    }
  }
  if (median(runSeconds) >= MIN_PORTIO_RUN_SECONDS) {
    log(`  one port-I/O exit round trip into TypeScript: ${median(perExit).toFixed(3)} µs (median)`);
  } else {
    log(`  one port-I/O exit round trip into TypeScript: too short to measure (the run took ${median(runSeconds).toFixed(3)} s)`);
    warn(`the port-I/O run took less than ${MIN_PORTIO_RUN_SECONDS} s, too short for its fixed costs not to count: raise --port-writes (default 1000000)`);
  }
}
