// What the CPU guarantees, under every engine: exact faults, physical memory that is only what
// the machine has, invalid opcodes as #UD, self-modifying code, and the interrupt shadow.
import { describe, expect, it } from 'vitest';
import { engineNames } from '../../src/engines/index.js';
import { guestPath, runVmm } from './run-vmm.js';

function boot(engine: string, image: string, ...extra: string[]) {
  return runVmm(['boot', guestPath(image), '--engine', engine, '-m', '64', '--no-stdin', '--time-limit', '60', ...extra]);
}

describe.each(engineNames)('the vCPU under %s', (engine) => {
  it('PAE: every physical address from 4 GiB to 64 GiB is open bus, never an alias of RAM or of the VMM', () => {
    const run = boot(engine, 'physscan.elf', '-a', 'pae=1');
    // Page by page where a 32-bit truncation would land on RAM or on the VMM's region above it.
    expect(run.stdout).toMatch(/^pae scan 0x100000000-0xfffffffff\nscanned (\d+) pages, writable 0, open-bus \1\nram intact/);
    expect(run.status).toBe(1);
  });
});
