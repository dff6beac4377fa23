// scripts/kvm-unit-tests.sh takes a kvm-unit-tests checkout the user provides; without one (the
// suite's source is not part of this project) it says so in one line and exits 0, as a skip.
import { spawnSync } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ROOT } from './run-vmm.js';

const script = join(ROOT, 'scripts', 'kvm-unit-tests.sh');
const run = (...args: string[]) => spawnSync('bash', [script, ...args], { encoding: 'utf8', timeout: 30_000 });

describe('scripts/kvm-unit-tests.sh', () => {
  it('skips with one line when no checkout is given', () => {
    const result = run();
    expect(result.stdout).toMatch(/^kvm-unit-tests: skipped: no kvm-unit-tests checkout given/);
    expect(result.status).toBe(0);
  });

  it('skips with one line when the folder is not a checkout', () => {
    const result = run(mkdtempSync(join(tmpdir(), 'not-kut-')));
    expect(result.stdout).toMatch(/^kvm-unit-tests: skipped: '.*' is not a kvm-unit-tests checkout/);
    expect(result.status).toBe(0);
  });

  it('refuses an unknown option with a clear error', () => {
    const result = run('--bogus');
    expect(result.stderr).toMatch(/kvm-unit-tests: unknown option --bogus/);
    expect(result.status).toBe(1);
  });
});
