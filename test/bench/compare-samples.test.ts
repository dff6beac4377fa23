// What the comparison makes of one run: a nanobenchmark's cost per operation and exits per
// operation (its own run against the engine's `only=none` run), and the macro workloads' times
// from when their lines arrived.
import { describe, expect, it } from 'vitest';
import { BenchError } from '../../src/bench/bench-error.js';
import { macroSample } from '../../src/bench/compare/macro-workloads.js';
import { nanoSample, parseNanoLine } from '../../src/bench/compare/nanobenchmarks.js';
import type { LineTimedRun } from '../../src/bench/line-times.js';

const GHZ = 1e9;

describe('nanobenchmark samples', () => {
  const baseline = { stdout: 'nanobench ok', counters: { exits: 150, 'bt-vmm-calls': 40 } };

  it('cost: (op loop - empty loop) / iterations, in ns at the host TSC rate; exits and VMM calls above the baseline run, per operation', () => {
    const run = { stdout: 'nanobench out iterations=1000 cycles=2500000 empty=500000\nnanobench ok', counters: { exits: 1150, 'bt-vmm-calls': 40 } };
    expect(nanoSample('out', run, baseline, 2 * GHZ)).toEqual({ ns: 1000, exitsPerOp: 1, vmmCallsPerOp: 0 });
  });

  it('without a baseline run (every benchmark in one boot, --quick), the cost alone', () => {
    const run = { stdout: 'nanobench out iterations=1000 cycles=2500000 empty=500000\nnanobench ok', counters: { exits: 99999 } };
    expect(nanoSample('out', run, undefined, 2 * GHZ)).toEqual({ ns: 1000 });
  });

  it('the timer divides by the interrupts taken', () => {
    const run = { stdout: 'nanobench timer interrupts=200 cycles=3000000 empty=1000000\nnanobench ok', counters: { exits: 350, 'bt-vmm-calls': 240 } };
    // (No exits per interrupt: the counters cover all nine rounds, the PIT ticking through them.)
    expect(nanoSample('timer', run, baseline, GHZ)).toEqual({ ns: 10000 });
  });

  it("the guest's own finding that the engine is not faithful is kept, with its reason", () => {
    expect(parseNanoLine('nanobench popf unfaithful: popf left IF=1 after popping IF=0\n', 'popf')).toEqual({
      unfaithful: 'popf left IF=1 after popping IF=0',
    });
  });

  it('a missing line, or no operation counted, is a one-line error', () => {
    expect(() => parseNanoLine('nanobench in iterations=5 cycles=9 empty=1\n', 'cli-sti')).toThrow(BenchError);
    const none = { stdout: 'nanobench timer interrupts=0 cycles=5 empty=5', counters: { exits: 150 } };
    expect(() => nanoSample('timer', none, baseline, GHZ)).toThrow(/no operation was counted/);
  });
});

function timedRun(lines: [number, string][], stderr = 'vmm: engine=direct time=9.000s exits=12345 stops=exact\n'): LineTimedRun {
  return { lines: lines.map(([seconds, text]) => ({ seconds, text })), stderr, status: 0, seconds: 10 };
}

describe('macro workload samples', () => {
  const complete: [number, string][] = [
    [1.5, '[    0.000000] Linux version'],
    [4.25, 'VMM-USERSPACE-READY'],
    [4.5, 'VMM-BENCH-BEGIN forkwait'],
    [5.5, 'VMM-BENCH-END forkwait forks=400'],
    [5.75, 'VMM-BENCH-BEGIN compute'],
    [8.75, 'VMM-BENCH-END compute loops=100000 x=72206433'],
    [9, 'VMM-BENCH-BEGIN pagefault'],
    [9.25, 'VMM-BENCH-END pagefault pages=4096 passes=8'],
    [9.5, 'VMM-WORKLOAD-OK compare'],
  ];

  it('boot is the time to the first userspace line; each workload from its BEGIN line to its END line', () => {
    expect(macroSample('direct', timedRun(complete))).toEqual({ seconds: { boot: 4.25, forkwait: 1, compute: 3, pagefault: 0.25 }, exits: 12345 });
    expect(macroSample('qemu', timedRun(complete, ''))).toEqual({ seconds: { boot: 4.25, forkwait: 1, compute: 3, pagefault: 0.25 } });
  });

  it("a workload's failed check, or a workload that never ended, is an error naming it", () => {
    const failed = [...complete.slice(0, 4), [5.6, 'VMM-WORKLOAD-FAIL forkwait: subshell 3 exited 0, want 3'] as [number, string]];
    expect(() => macroSample('bt', timedRun(failed))).toThrow('the compare workload under bt failed: VMM-WORKLOAD-FAIL forkwait: subshell 3 exited 0, want 3');
    expect(() => macroSample('trap', timedRun(complete.slice(0, 5)))).toThrow(/the compute workload under trap did not complete/);
  });
});
