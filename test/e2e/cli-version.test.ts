// `vmm --version` prints the version of package.json, the one source of it.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ROOT, runVmm } from './run-vmm.js';

describe('vmm --version', () => {
  const version = (JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { version: string }).version;

  it('prints the package version and exits 0', () => {
    for (const flag of ['--version', '-V']) {
      const run = runVmm([flag]);
      expect(run).toEqual({ status: 0, stdout: `${version}\n`, stderr: '' });
    }
  });
});
