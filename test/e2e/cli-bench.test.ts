// `vmm bench foundation` never prints a time it could not measure: a workload within the noise of
// the start-up it is subtracted from, or a port-I/O run too short for its fixed costs not to
// count, is said to be too short, with a warning, and no ratio is given from it. Its vmm line says
// which stop mechanism ran; a configuration list for the boot benchmark it cannot use is refused.
import { spawnSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { computeReport } from '../../src/bench/foundation-bench.js';
import { runVmm, runVmmAsync } from './run-vmm.js';

const haveQemu = spawnSync('qemu-system-i386', ['--version']).status === 0;

describe('the compute comparison', () => {
  it('a workload below zero after the start-up is subtracted: too short, no ratio, a warning', () => {
    const report = computeReport({ qemu: [0.23, 0.24, 0.22], qemuEmpty: [0.2, 0.21, 0.2], vmm: [0.68, 0.7, 0.69], vmmEmpty: [1.48, 0.7, 0.71] }, '0x1', 'block-hook');
    expect(report.lines.join('\n')).not.toMatch(/-\d/);
    expect(report.lines[1]).toMatch(/workload too short to measure \(within the ±0\.\d{3} s noise\)$/);
    expect(report.lines[3]).toBe('  ratio vmm/qemu (workload): not given, a workload was too short to measure');
    expect(report.warnings).toEqual([expect.stringMatching(/^the compute workload under vmm is within the noise .*raise --iterations/)]);
  });

  it('a workload within the spread of repeated runs is not a measurement either', () => {
    const report = computeReport({ qemu: [0.3, 0.21, 0.25], qemuEmpty: [0.2, 0.29, 0.22], vmm: [0.72, 0.7, 0.75], vmmEmpty: [0.7, 0.71, 0.7] }, '0x1', 'block-hook');
    expect(report.lines[0]).toMatch(/workload too short to measure/);
    expect(report.lines[1]).toMatch(/workload too short to measure/);
    expect(report.warnings[0]).toMatch(/^the compute workload under qemu and vmm /);
  });

  it('workloads well above the noise give times and their ratio', () => {
    const report = computeReport({ qemu: [1.9, 1.95, 1.92], qemuEmpty: [0.2, 0.21, 0.2], vmm: [2.7, 2.75, 2.72], vmmEmpty: [0.7, 0.71, 0.7] }, '0x634c43cd', 'exact');
    expect(report.lines).toEqual([
      '  qemu-system-i386 (TCG):            1.920 s total, start-up and firmware 0.200 s, workload 1.720 s',
      '  vmm --engine direct (stops=exact): 2.720 s total, start-up 0.700 s, workload 2.020 s',
      '  checksum 0x634c43cd under both',
      '  ratio vmm/qemu (workload): 1.174',
    ]);
    expect(report.warnings).toEqual([]);
  });
});

describe.skipIf(!haveQemu)('vmm bench foundation with tiny workloads', () => {
  it('prints no negative time, says what is too short, and warns on stderr', async () => {
    const run = await runVmmAsync(['bench', 'foundation', '--runs', '1', '--iterations', '10', '--port-writes', '10'], 180);
    expect(run.status).toBe(0);
    expect(run.stdout).not.toMatch(/-\d/);
    // The stop mechanism that really ran, from vmm's own summary.
    expect(run.stdout).toMatch(/^ {2}vmm --engine direct \(stops=(exact|block-hook)[^)]*\): /m);
    expect(run.stdout).toMatch(/^ {2}one port-I\/O exit round trip into TypeScript: too short to measure \(the run took 0\.\d{3} s\)$/m);
    expect(run.stderr).toMatch(/^vmm: warning: the port-I\/O run took less than 0\.05 s.*raise --port-writes/m);
    // The compute workload of 10 iterations is noise: a ratio, if given, is from positive times only.
    const ratio = /ratio vmm\/qemu \(workload\): (.*)$/m.exec(run.stdout)![1];
    if (ratio.startsWith('not given')) expect(run.stderr).toMatch(/^vmm: warning: the compute workload under /m);
    else expect(run.stdout.match(/workload \d+\.\d{3} s/g)).toHaveLength(2);
  }, 200_000);
});

describe('vmm bench --engines', () => {
  // Refused before anything is booted: no guest images or qemu are needed to see it.
  it.each([
    ['an unknown configuration', ['boot', '--engines', 'direct,warp'], /^vmm: error: unknown engine configuration 'warp' in --engines; choose from direct, direct-block-hook, trap, bt, direct-pv, trap-pv, bt-pv\n$/],
    ['an empty list', ['boot', '--engines', ','], /^vmm: error: no engine configuration given to --engines; choose from /],
    ['a suite it does not apply to', ['trap', '--engines', 'trap'], /^vmm: error: --engines applies to the boot and disk benchmarks only\n$/],
  ])('refuses %s with one line and a non-zero status', (_, args, message) => {
    const run = runVmm(['bench', ...args]);
    expect(run.status).toBe(2);
    expect(run.stdout).toBe('');
    expect(run.stderr).toMatch(message);
    expect(run.stderr.trimEnd().split('\n')).toHaveLength(1);
  });
});
