// The soak's pure parts, without booting anything: how runs are shared out, how a failed run's
// distinguishing line is found, and the report's shape and exit status.
import { describe, expect, it } from 'vitest';
import type { GuestRun } from '../../src/soak/guest-run.js';
import { soakGuests } from '../../src/soak/soak-guests.js';
import { planRuns, runsPerCell } from '../../src/soak/soak-plan.js';
import { reportLines, soakExitStatus, type RunResult } from '../../src/soak/soak-report.js';
import { consoleLines, exactLines, failureKind, failureLine, vmmEndLine } from '../../src/soak/verdict.js';

function guestRun(stdout: string, status: number | null, stderr = '', extra: Partial<GuestRun> = {}): GuestRun {
  return { status, signal: null, stdout, stderr, seconds: 1, killed: false, interrupted: false, ...extra };
}

const expectedOf = (name: string) => {
  const guest = soakGuests.find((g) => g.name === name);
  if (!guest) throw new Error(`no soak guest ${name}`);
  return guest.expected;
};

const summary = 'vmm: engine=direct time=1.0s exits=10 io-out=10';

describe('soak plan', () => {
  const guests = [
    { name: 'linux', weight: 1 },
    { name: 'paging', weight: 5 },
  ];

  it('shares the runs out by weight, every guest under every engine at least once', () => {
    expect(runsPerCell(guests, ['direct', 'trap'], 24)).toEqual([2, 2, 10, 10]);
    expect(runsPerCell(guests, ['direct', 'trap'], 10)).toEqual([1, 1, 4, 4]);
    expect(runsPerCell(guests, ['direct', 'trap'], 4)).toEqual([1, 1, 1, 1]);
    expect(runsPerCell(guests, ['direct', 'trap', 'bt'], 7)).toEqual([1, 1, 1, 2, 1, 1]);
    for (const total of [5, 13, 48, 100]) {
      const counts = runsPerCell(guests, ['direct', 'trap'], total);
      expect(counts.reduce((a, b) => a + b, 0)).toBe(total);
      expect(Math.min(...counts)).toBeGreaterThanOrEqual(1);
    }
  });

  it('runs a paravirtual kernel under the paravirtual engines only, and nothing else under them', () => {
    const mixed = [...guests, { name: 'pvkernel', weight: 5, paravirtual: true }];
    const paravirtual = (engine: string) => engine === 'paravirt';
    const engines = ['direct', 'trap', 'paravirt'];
    // Cells: linux, paging and pvkernel, each under direct, trap and paravirt.
    expect(runsPerCell(mixed, engines, 19, paravirtual)).toEqual([1, 1, 0, 6, 6, 0, 0, 0, 5]);
    expect(runsPerCell(mixed, engines, 2, paravirtual)).toEqual([1, 1, 0, 0, 0, 0, 0, 0, 0]);
    const plan = planRuns(mixed, engines, 19, paravirtual);
    expect(plan).toHaveLength(19);
    expect(plan.filter((run) => run.engine === 'paravirt').every((run) => run.guest === 'pvkernel')).toBe(true);
    expect(plan.filter((run) => run.guest === 'pvkernel').every((run) => run.engine === 'paravirt')).toBe(true);
  });

  it('with fewer runs than cells, covers the engines first', () => {
    expect(runsPerCell(guests, ['direct', 'trap'], 3)).toEqual([1, 1, 1, 0]);
  });

  it('numbers the runs in order and spreads each cell out', () => {
    const plan = planRuns(guests, ['direct', 'trap'], 12);
    expect(plan.map((run) => run.index)).toEqual([...Array(12).keys()].map((i) => i + 1));
    // Linux, the rare one, neither first nor last; both engines side by side.
    const linux = plan.filter((run) => run.guest === 'linux');
    expect(linux.map((run) => run.engine)).toEqual(['direct', 'trap']);
    expect(linux[1].index - linux[0].index).toBe(1);
    expect(linux[0].index).toBeGreaterThan(1);
    expect(linux[1].index).toBeLessThan(12);
  });
});

describe('soak verdict', () => {
  it('reads the Linux console: CRLF folded, kernel timestamps dropped', () => {
    expect(consoleLines('[    6.909751] Run /init as init process\r\nVMM-WORKLOAD-OK forks=300\r\n')).toEqual([
      'Run /init as init process',
      'VMM-WORKLOAD-OK forks=300',
    ]);
  });

  it('passes a Linux run that printed the pass line and halted', () => {
    const run = guestRun('[    0.8] Failed to access perfctr msr\r\nVMM-WORKLOAD-OK forks=300\r\n[   21.4] reboot: System halted\r\n', 0);
    expect(failureLine(run, expectedOf('linux'))).toBeUndefined();
  });

  it("names the kernel's fault line first, even when the panic's reset ended the run with status 0", () => {
    const stdout =
      '[    7.0] init[1]: segfault at ffffffff ip 0807a1b2 sp bfb22c54 error 4 in busybox[8049000+184000]\r\n' +
      '[    7.0] Kernel panic - not syncing: Attempted to kill init! exitcode=0x0000000b\r\n';
    const run = guestRun(stdout, 0, 'vmm: guest reset the machine through the keyboard controller (command 0xFE)\n' + summary);
    expect(failureLine(run, expectedOf('linux'))).toBe('init[1]: segfault at ffffffff ip 0807a1b2 sp bfb22c54 error 4 in busybox[8049000+184000]');
  });

  it("prefers the kernel's line to the shell's and the workload's", () => {
    const stdout =
      'Segmentation fault\r\nVMM-WORKLOAD-FAIL forks: iteration 7 printed \'\', want \'line 7\'\r\n' +
      '[    9.1] cat[88]: segfault at ffffffff ip 08050000 sp bf800000 error 6\r\nVMM-WORKLOAD-FAIL forks=300 failed=1\r\n';
    expect(failureLine(guestRun(stdout, 0, summary), expectedOf('linux'))).toBe('cat[88]: segfault at ffffffff ip 08050000 sp bf800000 error 6');
  });

  it("takes vmm's reason when the guest said nothing wrong but the run ended badly", () => {
    const stderr =
      'vmm: guest stopped at 0073:08079b0b: invalid instruction: Invalid instruction (UC_ERR_INSN_INVALID)\n' +
      'vmm: engine=trap time=22.3s exits=181587\nvmm: equivalence: 140 place(s) where the deprivileged guest could see a difference:\n' +
      'vmm:   c3dd315a  pushf: PUSHF does not fault\n';
    expect(failureLine(guestRun('[    0.6] Failed to access perfctr msr\r\n', 4, stderr), expectedOf('linux'))).toBe(
      'vmm: guest stopped at 0073:08079b0b: invalid instruction: Invalid instruction (UC_ERR_INSN_INVALID) [exit status 4]',
    );
  });

  it("finds vmm's own error when there is no summary", () => {
    expect(vmmEndLine('vmm: internal error: Error: boom\n    at x (y.js:1:1)\n')).toBe('vmm: internal error: Error: boom');
  });

  it('reports a missing pass line with the last thing the guest printed', () => {
    expect(failureLine(guestRun('VMM-WORKLOAD-FORKS\r\n', 0, summary), expectedOf('linux'))).toBe(
      'no "VMM-WORKLOAD-OK forks=300" line; last console line: "VMM-WORKLOAD-FORKS"',
    );
  });

  it("passes the paging guest on its last line and names its FAILED line", () => {
    const paging = expectedOf('paging');
    expect(failureLine(guestRun('paging on: ...\ntouched 8192 pages\npaging ok\n', 1, summary), paging)).toBeUndefined();
    const failed = guestRun(
      'paging on: ...\nFAILED: exception 14 error 0x00000002 at eip 0x00101234 cr2 0xffffffff\n',
      5,
      'vmm: guest exited through the debug-exit port with value 0x2 (status 5)\n' + summary,
    );
    expect(failureLine(failed, paging)).toBe('FAILED: exception 14 error 0x00000002 at eip 0x00101234 cr2 0xffffffff');
    expect(failureLine(guestRun('paging on: ...\n', 1, summary), paging)).toBe('last line "paging on: ...", want "paging ok"');
  });

  it('says a run that had to be killed was killed', () => {
    const run = guestRun('paging on: ...\n', null, '', { killed: true, signal: 'SIGKILL', seconds: 90.2 });
    expect(failureLine(run, expectedOf('paging'))).toBe('no exit 90 s after start: killed (last console line: "paging on: ...")');
  });

  it('compares fixed output line by line', () => {
    const check = exactLines(['a', 'b']);
    expect(check(['a', 'b'])).toBeUndefined();
    expect(check(['a', 'c'])).toBe('line 2: "c", want "b"');
    expect(check(['a'])).toBe('output ends before line 2 ("b")');
    expect(check(['a', 'b', 'c'])).toBe('extra line 3: "c"');
  });

  it('counts failures as the same kind whatever the process id and stack pointer', () => {
    expect(failureKind('expr[123]: segfault at ffffffff ip 0807a1b2 sp bf9a0000 error 4 in busybox[8049000+184000]')).toBe(
      failureKind('expr[456]: segfault at ffffffff ip 0807a1b2 sp bfc10000 error 4 in busybox[8049000+184000]'),
    );
    expect(failureKind('a[1]: segfault at ffffffff')).not.toBe(failureKind('a[1]: segfault at 00000000'));
  });
});

describe('soak report', () => {
  const plan = planRuns([{ name: 'linux', weight: 1 }, { name: 'paging', weight: 5 }], ['direct', 'trap'], 12);
  const order = { guests: ['linux', 'paging'], engines: ['direct', 'trap'] };
  const result = (index: number, failure?: string): RunResult => ({ run: plan[index - 1], seconds: 2, failure });

  it('ends with the counts and exits 0 only without failures', () => {
    const passed = plan.map((run) => result(run.index));
    const lines = reportLines(order, plan, passed, false);
    expect(lines.at(-1)).toBe('soak: 12 runs, 0 failures');
    expect(lines.some((line) => line.startsWith('failures'))).toBe(false);
    expect(soakExitStatus(passed, false)).toBe(0);
  });

  it('lists failures per guest and engine, the same kind once with its runs', () => {
    const linux = plan.filter((run) => run.guest === 'linux' && run.engine === 'direct').map((run) => run.index);
    const paging = plan.filter((run) => run.guest === 'paging' && run.engine === 'trap').map((run) => run.index);
    const results = plan.map((run) => result(run.index));
    const segfault = (pid: number) => `init[${pid}]: segfault at ffffffff ip 0807a1b2 sp bf${pid}0000 error 4`;
    results[paging[0] - 1] = result(paging[0], segfault(1));
    results[paging[1] - 1] = result(paging[1], segfault(2));
    results[linux[0] - 1] = result(linux[0], 'no exit');
    const lines = reportLines(order, plan, results, false);
    const table = lines.slice(lines.indexOf('') + 1, lines.indexOf('', 1));
    expect(table[0]).toMatch(/^guest\s+engine\s+runs\s+failures\s+median$/);
    expect(table.slice(1).map((row) => row.split(/\s+/).slice(0, 4).join(' '))).toEqual([
      'linux direct 1 1',
      'linux trap 1 0',
      'paging direct 5 0',
      'paging trap 5 2',
    ]);
    expect(table[1]).toMatch(/  2\.0 s$/);
    expect(lines).toContain(`  paging/trap ×2 (runs ${paging[0]}, ${paging[1]}): ${segfault(1)}`);
    expect(lines).toContain(`  linux/direct ×1 (run ${linux[0]}): no exit`);
    expect(lines.at(-1)).toBe('soak: 12 runs, 3 failures');
    expect(soakExitStatus(results, false)).toBe(1);
  });

  it('reports an interrupted soak as partial', () => {
    const done = plan.slice(0, 5).map((run) => result(run.index));
    const lines = reportLines(order, plan, done, true);
    expect(lines).toContain('soak: interrupted; 7 of 12 planned runs not done');
    expect(lines.at(-1)).toBe('soak: 5 runs, 0 failures');
    expect(soakExitStatus(done, true)).toBe(130);
    expect(soakExitStatus([...done, result(6, 'x')], true)).toBe(1);
  });
});
