// The paravirtual engines (registered with `paravirtual`): the pvkernel sample guest does the work
// of three native guests through hypercalls and prints their lines, which must match what the
// native twins print under every engine that runs unmodified guests; a privileged instruction ends
// the run naming it; a kernel not written for the ABI is refused in one line.
import { describe, expect, it } from 'vitest';
import { paravirtualEngines, unmodifiedGuestEngines } from '../../src/engines/index.js';
import { exitCounts, guestPath, runVmm } from './run-vmm.js';

const lines = (text: string) => text.trimEnd().split('\n');

function bootPvkernel(engine: string, ...extra: string[]) {
  return runVmm(['boot', guestPath('pvkernel.elf'), '-e', engine, '--no-stdin', '--time-limit', '60', ...extra]);
}

describe.each(paravirtualEngines)('the paravirtual kernel under %s', (engine) => {
  const run = () => bootPvkernel(engine);

  it('does the demand-paging, ring-3 and timer work, holds events back while masked, and sees unsafe page-table updates refused', () => {
    const r = run();
    const out = lines(r.stdout);
    expect(out[0]).toMatch(/^pvkernel: paravirtual, hypercall page at 0x[0-9a-f]{8}$/);
    expect(out.slice(-5)).toEqual([
      'ring 3 done',
      '50 timer interrupts',
      'events: 1 pending while masked, 0 delivered; 1 delivered after the unmask',
      "refused: frame beyond RAM -22, device page -22, page table writable -1, 4 MiB page -22, not a table -22, buffers in the VMM's hole -14 -14; a store into the page directory: 1 #PF error 0x00000003",
      'pvkernel ok',
    ]);
    expect(r.stderr).toMatch(/^vmm: guest ended its run through the shutdown hypercall with value 0x0 \(status 1\)$/m);
    expect(r.status).toBe(1);
    const counts = exitCounts(r.stderr);
    // Every page-table change is a hypercall: 8192 demand pages + 8 tables + the rest of the steps,
    // carried out in the native core with the iret of every handler; TypeScript sees the few
    // others (console, timer, set-up), so the exits stay in the hundreds.
    expect(counts['pv-mmu-update'] + counts['pv-update-va-mapping']).toBeGreaterThanOrEqual(8200);
    expect(counts['pv-iret']).toBeGreaterThanOrEqual(8200);
    expect(counts['pv-in-core']).toBeGreaterThanOrEqual(16700);
    expect(counts.exception).toBeLessThan(200);
    expect(counts['pv-new-baseptr']).toBe(302);
    expect(counts['pv-events']).toBe(51);
    expect(counts['pv-refused']).toBe(7);
    // Nothing was trapped and emulated: no trap-* counter, and the true faults reached the kernel.
    expect(Object.keys(counts).filter((name) => name.startsWith('trap-'))).toEqual([]);
    expect(counts['pf-true']).toBeGreaterThanOrEqual(8200);
  });

  it.each(unmodifiedGuestEngines)('prints the lines its native twins print under %s', (native) => {
    const pv = lines(run().stdout);
    const twin = (guest: string) => lines(runVmm(['boot', guestPath(guest), '-e', native, '--no-stdin', '--time-limit', '60']).stdout);
    // paging: all but its first line (4 MiB pages, which a paravirtual kernel may not map) and its
    // CR0.WP step (the VMM keeps WP set).
    const paging = twin('paging.elf').filter((line, i) => i > 0 && !line.startsWith('read-only user page, WP clear'));
    expect(pv.slice(1, 1 + paging.length)).toEqual(paging);
    // rings: its ring-3 part (the double and triple faults that follow are native only).
    const rings = twin('rings.bin').slice(0, 4);
    expect(pv.slice(1 + paging.length, 5 + paging.length)).toEqual(rings);
    expect(pv).toContain(twin('timer.bin')[0]);
  });

  it.each([
    ['cli', '`cli`'],
    ['hlt', '`hlt`'],
    ['cr3', '`mov cr3, r32`'],
  ])('ends the run naming a privileged instruction it executes: %s', (which, named) => {
    const r = bootPvkernel(engine, '-a', `privileged=${which}`);
    expect(r.status).toBe(4);
    expect(r.stderr).toContain(`the paravirtual kernel executed a privileged instruction, ${named}`);
    expect(lines(r.stdout).at(-1)).toBe('executing a privileged instruction');
  });

  it('benchmark mode: the nanobenchmark lines a paravirtual kernel has, each operation carried out', () => {
    const r = bootPvkernel(engine, '-a', 'bench=1 iterations=500');
    const names = [...r.stdout.matchAll(/^nanobench (\S+) (?:iterations|interrupts)=\d+ cycles=\d+ empty=\d+$/gm)].map((m) => m[1]);
    expect(names).toEqual(['syscall', 'cli-sti', 'call-ret', 'pgfault', 'divzero', 'ptemod', 'cr3', 'timer']);
    expect(lines(r.stdout).at(-1)).toBe('nanobench ok');
    expect(r.status).toBe(1);
    // ptemod's mappings have A and D set: filled into the shadow at once, never a hidden fault.
    const ptemod = exitCounts(bootPvkernel(engine, '-a', 'bench=1 only=ptemod iterations=500').stderr);
    expect(ptemod['shadow-prefills']).toBeGreaterThanOrEqual(499);
    expect(ptemod['pv-update-va-mapping']).toBe(500);
  });

  it('refuses a kernel that names no hypercall page, in one line, before it runs', () => {
    const r = runVmm(['boot', guestPath('paging.elf'), '-e', engine, '--no-stdin', '--time-limit', '30']);
    expect(r.status).toBe(2);
    expect(r.stdout).toBe('');
    expect(r.stderr.trimEnd().split('\n')).toHaveLength(1);
    expect(r.stderr).toMatch(/paging\.elf: the paravirt engine runs paravirtual kernels only, and this one names no hypercall page \(ELF note "VMM", type 1; docs\/paravirt-abi.md\)$/m);
  });
});
