// The nanobenchmark guest (guests/nanobench) under every registered engine (a new engine joins by
// being registered): with small iteration counts it must print one line per benchmark, in order,
// and exit with value 0. The timings themselves are the host's business, not this test's: only
// their shape and that each loop took some cycles are checked.
import { describe, expect, it } from 'vitest';
import { unmodifiedGuestEngines } from '../../src/engines/index.js';
import { guestPath, runVmm } from './run-vmm.js';

/** The op-loop benchmarks, in the order the guest runs them; `timer` comes last. */
const LOOPS = ['syscall', 'in', 'out', 'cli-sti', 'popf', 'call-ret', 'pgfault', 'divzero', 'ptemod', 'cr3'];
/**
 * Engines that run the guest kernel deprivileged without translating it: POPF there cannot clear
 * IF and does not trap (guests/popf), so the guest reports it instead of timing it.
 */
const POPF_UNFAITHFUL = ['trap'];
const ITERATIONS = 100;
const OK = /debug-exit port with value 0x0 \(status 1\)/;

function boot(engine: string, append: string) {
  return runVmm(['boot', guestPath('nanobench.elf'), '--engine', engine, '-m', '64', '--no-stdin', '--time-limit', '30', '-a', append]);
}

function expectCycles(line: string, pattern: string): void {
  const match = new RegExp(`^${pattern} cycles=(\\d+) empty=(\\d+)$`).exec(line);
  expect(match, line).not.toBeNull();
  expect(Number(match![1])).toBeGreaterThan(0);
  expect(Number(match![2])).toBeGreaterThan(0);
}

describe.each(unmodifiedGuestEngines)('nanobench under %s', (engine) => {
  it('prints a line for each of the 11 benchmarks, then nanobench ok', () => {
    const run = boot(engine, `iterations=${ITERATIONS}`);
    expect(run.stderr).toMatch(new RegExp(`engine=${engine} `));
    expect(run.stderr).toMatch(OK);
    expect(run.status).toBe(1);
    const lines = run.stdout.split('\n');
    expect(lines).toHaveLength(LOOPS.length + 3); // + timer, "nanobench ok" and the empty tail
    LOOPS.forEach((name, i) => {
      if (name === 'popf' && POPF_UNFAITHFUL.includes(engine)) {
        expect(lines[i]).toBe('nanobench popf unfaithful: popf left IF=1 after popping IF=0');
      } else {
        expectCycles(lines[i], `nanobench ${name} iterations=${ITERATIONS}`);
      }
    });
    expectCycles(lines[LOOPS.length], String.raw`nanobench timer interrupts=\d+`);
    expect(lines.slice(LOOPS.length + 1)).toEqual(['nanobench ok', '']);
  });
});

describe('nanobench command line', () => {
  it('only=cr3 runs just that benchmark', () => {
    const run = boot(unmodifiedGuestEngines[0], 'only=cr3 iterations=50');
    expect(run.status).toBe(1);
    expect(run.stdout).toMatch(/^nanobench cr3 iterations=50 cycles=[1-9]\d* empty=[1-9]\d*\nnanobench ok\n$/);
  });

  it('only=bogus fails with value 1', () => {
    const run = boot(unmodifiedGuestEngines[0], 'only=bogus');
    expect(run.stdout).toBe('FAILED: unknown benchmark in only=bogus\n');
    expect(run.stderr).toMatch(/debug-exit port with value 0x1 \(status 3\)/);
    expect(run.status).toBe(3);
  });
});
