// The comparison's nanobenchmarks (Adams and Agesen, ASPLOS 2006, §6.2): each isolates one
// virtualisation-sensitive operation in the nanobench guest, which times a loop of it and an
// empty loop of the same length with RDTSC. One `vmm boot` per benchmark (`only=NAME`), plus one
// that runs none (`only=none`): the difference of their exit counters, divided by the iterations,
// is what the operation alone cost in exits, without the guest's set-up.
import { BenchError } from '../bench-error.js';
import { builtGuest, vmmScript } from '../bench-guest.js';
import { runWithLineTimes } from '../line-times.js';
import { summaryCounters } from '../summary-line.js';

export interface Nanobenchmark {
  name: string;
  description: string;
  /**
   * What the paravirtual kernel (guests/pvkernel, `bench=1`) does in its place under a
   * paravirtual engine; undefined where a paravirtual kernel has no such operation.
   */
  paravirtual?: string;
}

/** In the guest's order (the order of the paper's figure where it has them). */
export const NANOBENCHMARKS: readonly Nanobenchmark[] = [
  { name: 'syscall', description: 'INT 0x80 from ring 3 to a ring-0 handler and IRET back', paravirtual: 'INT 0x80 from ring 3, back with the iret hypercall' },
  { name: 'in', description: 'IN from a port the VMM serves (the 8259 PIC’s mask register)' },
  { name: 'out', description: 'OUT to port 0x80 (POST codes)' },
  { name: 'cli-sti', description: 'a CLI; STI pair (the 32-bit stand-in for the paper’s cr8wr)', paravirtual: 'events masked and unmasked: two stores to the shared-info page and the pending check' },
  { name: 'popf', description: 'POPF clearing IF, then POPF setting it' },
  { name: 'call-ret', description: 'CALL to a function that returns', paravirtual: 'the same CALL and RET' },
  { name: 'pgfault', description: 'touch a not-present page: #PF, the guest maps it; then unmap it (PTE write, INVLPG)', paravirtual: '#PF through the trap table, mapped and unmapped with update_va_mapping' },
  { name: 'divzero', description: 'DIV by zero: #DE, the guest’s handler skips the instruction', paravirtual: '#DE through the trap table, back with the iret hypercall' },
  { name: 'ptemod', description: 'rewrite a PTE, INVLPG, read through the new mapping', paravirtual: 'update_va_mapping, read through the new mapping' },
  { name: 'cr3', description: 'MOV CR3 between two address spaces', paravirtual: 'new_baseptr between two pinned address spaces' },
  { name: 'timer', description: 'a 10 kHz PIT interrupt taken and EOI’d while the guest computes (per interrupt)', paravirtual: 'a 10 kHz periodic timer event taken by the event callback' },
];

const GUEST_MEMORY_MIB = 64;
const TIMEOUT_SECONDS = 300;

/** One benchmark's line from the guest: a measurement, or the guest's own finding that the engine is not faithful. */
export type NanoLine = { ops: number; cycles: number; empty: number } | { unfaithful: string };

/**
 * `nanobench NAME iterations=N cycles=C empty=E` (the timer's: `interrupts=K` for `iterations=N`),
 * or `nanobench NAME unfaithful: REASON`.
 */
export function parseNanoLine(stdout: string, name: string): NanoLine {
  const escaped = name.replace(/[-]/g, '\\-');
  const unfaithful = new RegExp(`^nanobench ${escaped} unfaithful: (.*)$`, 'm').exec(stdout);
  if (unfaithful) return { unfaithful: unfaithful[1] };
  const match = new RegExp(`^nanobench ${escaped} (?:iterations|interrupts)=(\\d+) cycles=(\\d+) empty=(\\d+)$`, 'm').exec(stdout);
  if (!match) throw new BenchError(`the nanobench guest printed no line for ${name}; it printed: ${lastLine(stdout)}`);
  return { ops: Number(match[1]), cycles: Number(match[2]), empty: Number(match[3]) };
}

function lastLine(text: string): string {
  return text.trim().split('\n').slice(-1)[0] ?? '(nothing)';
}

export interface NanoRun {
  stdout: string;
  counters: Record<string, number>;
}

/**
 * The guest under one engine with `only=WHICH` (a benchmark's name, or `none`), or every benchmark
 * in one boot (`all`): the nanobench guest, or under a paravirtual engine the paravirtual kernel in
 * its benchmark mode, which prints the same lines.
 */
export async function runNanobench(engine: string, which: string, iterations?: number, paravirtual = false): Promise<NanoRun> {
  const words = [
    ...(paravirtual ? ['bench=1'] : []),
    ...(which === 'all' ? [] : [`only=${which}`]),
    ...(iterations === undefined ? [] : [`iterations=${iterations}`]),
  ];
  const append = words.join(' ');
  const guest = builtGuest(paravirtual ? 'pvkernel.elf' : 'nanobench.elf');
  const args = [vmmScript(), 'boot', guest, '-m', String(GUEST_MEMORY_MIB), '--no-stdin', '-e', engine, '-a', append];
  const run = await runWithLineTimes(process.execPath, args, TIMEOUT_SECONDS);
  const stdout = run.lines.map((line) => line.text).join('\n');
  // The guest's exit value 0 is status 1, as under QEMU's isa-debug-exit.
  if (run.status !== 1 || !/^nanobench ok$/m.test(stdout)) {
    const stderr = run.stderr.trim().split('\n').filter((l) => !l.startsWith('vmm: engine=')).slice(0, 2).join(' ');
    throw new BenchError(`nanobench ${which} under ${engine} ended with status ${run.status}: ${lastLine(stdout)} ${stderr}`.trim());
  }
  return { stdout, counters: summaryCounters(run.stderr) };
}

/** One repetition of one benchmark under one engine (exits and VMM calls only from a run of its own). */
export type NanoSample = { ns: number; exitsPerOp?: number; vmmCallsPerOp?: number } | { unfaithful: string };

/**
 * The operation's cost from a run; with the engine's `only=none` run as the baseline (the run
 * being the benchmark's own), its exits and VMM calls too.
 */
export function nanoSample(name: string, run: NanoRun, baseline: NanoRun | undefined, tscHz: number): NanoSample {
  const line = parseNanoLine(run.stdout, name);
  if ('unfaithful' in line) return line;
  if (line.ops === 0) throw new BenchError(`nanobench ${name}: no operation was counted (raise the iteration count)`);
  const ns = ((line.cycles - line.empty) / line.ops / tscHz) * 1e9;
  // The timer's run is nine rounds of two loops, the PIT ticking through all of them, and only
  // one round is reported: its counters are not one operation's.
  if (!baseline || name === 'timer') return { ns };
  const perOp = (counter: string) => ((run.counters[counter] ?? 0) - (baseline.counters[counter] ?? 0)) / line.ops;
  // The VMM entries that are not exits: the translation cache's calls under bt, the hypercalls
  // the native core answers under a paravirtual engine (those TypeScript answers are exits).
  const calls = perOp('bt-vmm-calls') + perOp('pv-in-core');
  return { ns, exitsPerOp: perOp('exits'), vmmCallsPerOp: calls };
}
