// `vmm bench compare --from`: a recorded result set is re-rendered without running anything:
// the Markdown printed and the three report files written; bad input is a one-line error.
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { ROOT, runVmm, VMM } from './run-vmm.js';

const FIXTURE = join(ROOT, 'test', 'bench', 'fixtures', 'compare-results.json');
const GOLDEN_MARKDOWN = join(ROOT, 'test', 'bench', 'fixtures', 'compare-report.md');
const work = mkdtempSync(join(tmpdir(), 'vmm-compare-'));
afterAll(() => rmSync(work, { recursive: true, force: true }));

describe('vmm bench compare --from', () => {
  it('prints the Markdown tables and writes compare.md, compare.json and compare.html', () => {
    const output = join(work, 'reports');
    const run = runVmm(['bench', 'compare', '--from', FIXTURE, '--output', output]);
    expect(run.stderr).toBe('');
    expect(run.status).toBe(0);
    const golden = readFileSync(GOLDEN_MARKDOWN, 'utf8');
    expect(run.stdout.startsWith(golden.trimEnd())).toBe(true);
    expect(run.stdout.trimEnd().split('\n').at(-1)).toBe(`reports: ${['compare.md', 'compare.json', 'compare.html'].map((f) => join(output, f)).join(', ')}`);
    expect(readFileSync(join(output, 'compare.md'), 'utf8')).toBe(golden);
    expect(JSON.parse(readFileSync(join(output, 'compare.json'), 'utf8'))).toEqual(JSON.parse(readFileSync(FIXTURE, 'utf8')));
    const html = readFileSync(join(output, 'compare.html'), 'utf8');
    expect(html).toMatch(/^<!DOCTYPE html>/i);
    expect(html).toContain('<svg');
  });

  it('a missing file, a file that is not a result set, and options of other suites are one-line errors', () => {
    const missing = runVmm(['bench', 'compare', '--from', join(work, 'nothing.json'), '--output', join(work, 'x')]);
    expect(missing.status).toBe(2);
    expect(missing.stderr).toMatch(/^vmm: error: cannot read .*nothing\.json: .*\n$/);
    const notJson = join(work, 'not.json');
    writeFileSync(notJson, 'hello');
    const bad = runVmm(['bench', 'compare', '--from', notJson, '--output', join(work, 'y')]);
    expect(bad.status).toBe(2);
    expect(bad.stderr.split('\n')).toHaveLength(2);
    expect(bad.stderr).toMatch(/^vmm: error: .*not\.json/);
    const quick = runVmm(['bench', 'trap', '--quick']);
    expect(quick.status).toBe(2);
    expect(quick.stderr).toBe('vmm: error: --quick applies to the compare benchmark only\n');
    const both = runVmm(['bench', 'compare', '--from', FIXTURE, '--quick']);
    expect(both.status).toBe(2);
    expect(both.stderr).toBe('vmm: error: --from re-renders a recorded result set; --quick and --runs apply to a new run\n');
  });
});

describe('vmm bench compare and signals', () => {
  it('SIGTERM ends the benchmark with one line and status 143, and the guest it was running with it', async () => {
    const bench = spawn(process.execPath, [VMM, 'bench', 'compare', '--quick', '--no-qemu', '--output', join(work, 'signalled')], {
      cwd: ROOT,
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    let stderr = '';
    bench.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    const ended = new Promise<number | null>((resolve) => bench.on('close', (status) => resolve(status)));
    // Wait until it runs a guest of its own.
    const children = (): number[] =>
      spawnSync('pgrep', ['-P', String(bench.pid)], { encoding: 'utf8' }).stdout.split('\n').filter(Boolean).map(Number);
    let running: number[] = [];
    for (let i = 0; i < 100 && running.length === 0; i++) {
      await new Promise((resolve) => setTimeout(resolve, 100));
      running = children();
    }
    expect(running.length).toBeGreaterThan(0);
    bench.kill('SIGTERM');
    expect(await ended).toBe(143);
    expect(stderr.trim().split('\n').at(-1)).toBe('vmm: benchmark stopped by SIGTERM');
    await new Promise((resolve) => setTimeout(resolve, 2000));
    const alive = running.filter((pid) => spawnSync('kill', ['-0', String(pid)]).status === 0);
    expect(alive).toEqual([]);
  }, 60_000);
});
