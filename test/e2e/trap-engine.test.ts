// The trap engine end to end (that the sample guests behave as under `direct` is checked for
// every engine in sample-guests.test.ts): hidden page faults never leave the native core, the VMM region stays out of the guest's reach, and the
// equivalence report names the instruction that shows the hole.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parseElf32 } from '../../src/boot/elf32.js';
import { hex } from '../../src/util/hex.js';
import { exitCounts, guestPath, ROOT, runVmm, runVmmUntil } from './run-vmm.js';

function boot(engine: string, image: string, ...extra: string[]) {
  return runVmm(['boot', guestPath(image), '--engine', engine, '-m', '64', '--no-stdin', '--time-limit', '30', ...extra]);
}

describe('trap engine', () => {
  it('demand paging: hidden faults are filled and true faults delivered in the native core, only traps exit', () => {
    const run = boot('trap', 'paging.elf');
    expect(run.stdout).toContain('paging ok');
    const counts = exitCounts(run.stderr);
    // The guest's own #PF handler runs 8200 + 5 times: those are the true faults.
    expect(counts['pf-true']).toBe(8205);
    expect(counts['pf-hidden']).toBeGreaterThan(8192);
    // The true faults went to the guest's handler from the core, and every exception exit is an
    // instruction emulated in TypeScript (plus the HLT after the debug-exit OUT, which the stop
    // pre-empts): no page fault, hidden or true, reached TypeScript.
    expect(counts['exception-reflected']).toBe(counts['pf-true']);
    expect(counts.exception).toBe(counts['trap-emulated'] - (counts['trap-in-core'] ?? 0) + 1);
    expect(counts['trap-mov-to-cr3']).toBeGreaterThanOrEqual(300);
    expect(counts['cr3-cache-hits']).toBeGreaterThanOrEqual(297);
    expect(counts['trap-invlpg']).toBeGreaterThan(0);
    expect(counts['pt-writes-tracked']).toBeGreaterThan(0);
  });

  it('isolation: a guest scanning every physical page above its RAM never finds the VMM region', () => {
    // The VMM region sits at 64 MiB, right above this guest's RAM, inside the range it scans.
    const direct = boot('direct', 'physscan.elf');
    const trap = boot('trap', 'physscan.elf');
    expect(trap.stdout).toBe(direct.stdout);
    expect(trap.stdout).toMatch(/scan 0x04000000-0xbfffffff\nscanned \d+ pages, writable 0, open-bus \d+\nram intact/);
    expect(trap.status).toBe(1);
  });

  it('equivalence report: names the POPF that cannot clear IF at ring 1', () => {
    const elf = parseElf32(new Uint8Array(readFileSync(guestPath('popf.elf'))));
    const site = elf.symbols().find((s) => s.name === 'popf_site');
    expect(site).toBeDefined();
    const run = boot('trap', 'popf.elf');
    expect(run.stdout).toContain('popf left IF set');
    expect(boot('direct', 'popf.elf').stdout).toContain('popf cleared IF');
    const line = run.stderr.split('\n').find((l) => l.includes(hex(site!.address)));
    expect(line).toMatch(/popf: POPF .*IF/);
  });

  it('PAE: memtest86+ runs its tests on PAE shadow page tables, without errors', async () => {
    // memtest never stops on its own: the run ends with SIGTERM once the first test is shown.
    const run = await runVmmUntil(['boot', '--kernel', join(ROOT, 'guests/images/memtest86+ia32.bin'), '-e', 'trap', '-a', 'console=ttyS0',
      '-m', '64', '--no-stdin'], '#0  [Address test, walking ones, no cache]');
    expect(run.stdout).toContain('#0  [Address test, walking ones, no cache]');
    expect(run.stdout).toContain('[PAE]');
    expect(run.stdout).not.toMatch(/Errors: [1-9]/);
    expect(run.status).toBe(143);
    const counts = exitCounts(run.stderr);
    expect(counts['pf-hidden']).toBeGreaterThan(200); // 364 by the time the first test shows, idle
    expect(counts['trap-mov-to-cr4']).toBeGreaterThan(0);
  }, 130_000);
});
