// A guest that uses the top 4 MiB of the linear space, where the trap engine keeps its hole: its
// accesses there are carried out by the VMM through the guest's own page tables.
import { execFileSync } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect, it } from 'vitest';
import { exitCounts, ROOT, runVmm } from '../e2e/run-vmm.js';

it('loads and stores in the hole behave as on hardware under both engines', () => {
  const dir = mkdtempSync(join(tmpdir(), 'vmm-hole-'));
  const image = join(dir, 'hole.bin');
  execFileSync('nasm', ['-f', 'bin', '-o', image, join(ROOT, 'test/engines/hole.asm')]);
  for (const engine of ['direct', 'trap']) {
    const run = runVmm(['boot', image, '--format', 'flat', '--load-address', '0x100000', '-e', engine, '--no-stdin', '--time-limit', '20']);
    expect(run.status, `${engine}: ${run.stderr}`).toBe(3);
    if (engine === 'trap') expect(exitCounts(run.stderr)['trap-hole-access']).toBe(5);
  }
});
