// `vmm bench trap` with tiny counts: the structure of what it prints, never the timings.
import { describe, expect, it } from 'vitest';
import { runVmm } from './run-vmm.js';

const NUMBER = String.raw`(\d+(?:\.\d+)?)`;

describe('vmm bench trap', () => {
  it('prints the costs, the counters and the paging slowdown', () => {
    const run = runVmm(['bench', 'trap', '--runs', '1', '--pages', '256', '--pairs', '100'], 30);
    expect(run.stderr).toBe('');
    expect(run.status).toBe(0);
    const out = run.stdout;
    expect(out).toMatch(/^trap engine costs: trapbench guest, 256 pages, 100 CLI\/STI pairs, 1 run per engine/m);
    expect(out).toMatch(/^ {2}machine: .+, \d+ cores, host TSC \d+\.\d+ GHz/m);
    expect(out).toMatch(/^ {2}command: \S+ \S*vmm\.js bench trap --runs 1 --pages 256 --pairs 100$/m);
    for (const phase of ['touch', 'retouch', 'rewalk', 'cli/sti']) {
      expect(out).toMatch(new RegExp(`^ {2}${phase} +\\d+ +\\d+ +\\d+ +${NUMBER} ms +${NUMBER} ms +${NUMBER} ms$`, 'm'));
    }
    for (const engine of ['trap', 'bt']) {
      const fault = new RegExp(`^ {2}${engine}: hidden page fault, \\(rewalk ${engine} - rewalk direct\\) / 256 pages: +(-?${NUMBER}) µs$`, 'm').exec(out);
      const flag = new RegExp(`^ {2}${engine}: CLI or STI, \\(cli/sti ${engine} - cli/sti direct\\) / 200: +(-?${NUMBER}) µs$`, 'm').exec(out);
      expect(fault, engine).not.toBeNull();
      expect(flag, engine).not.toBeNull();
      expect(Number.isFinite(Number(fault![1]))).toBe(true);
      expect(Number.isFinite(Number(flag![1]))).toBe(true);
    }
    expect(out).toMatch(new RegExp(`^ {2}memory baseline, .* direct ${NUMBER} µs, trap ${NUMBER} µs, bt ${NUMBER} µs$`, 'm'));
    // The counts match the work: one hidden fault per page (and per page table) in each set of
    // tables, one trap per CLI and per STI.
    const counters = /pf-hidden=(\d+) \(2 × \(256 pages \+ 1 page table\) \+ (\d+) other\), trap-cli=(\d+) trap-sti=(\d+) \(sum 200, 2·pairs = 200\)/.exec(out);
    expect(counters).not.toBeNull();
    expect(Number(counters![1])).toBeGreaterThanOrEqual(2 * 257);
    expect(Number(counters![3])).toBe(100);
    expect(Number(counters![4])).toBe(100);
    expect(out).toMatch(/^demand paging: paging guest, -m 64, 1 run per engine/m);
    // Under bt, CLI and STI run in the cache: none traps.
    expect(out).toMatch(/counters of the last bt run: +pf-hidden=\d+, trap-cli=0 trap-sti=0 \(CLI and STI run in the cache\)/);
    for (const engine of ['direct', 'trap', 'bt']) {
      expect(out).toMatch(new RegExp(`^ {2}${engine}: +run time ${NUMBER} s \\[${NUMBER}\\], wall ${NUMBER} s \\[${NUMBER}\\]$`, 'm'));
    }
    for (const engine of ['trap', 'bt']) expect(out).toMatch(new RegExp(`^ {2}slowdown ${engine}/direct: run time ${NUMBER}x, wall ${NUMBER}x$`, 'm'));
  });

  it('refuses a page count the guest cannot map', () => {
    const run = runVmm(['bench', 'trap', '--pages', '600000']);
    expect(run.status).toBe(2);
    expect(run.stderr).toMatch(/^vmm: error: invalid page count '600000': at most 524288$/m);
  });
});
