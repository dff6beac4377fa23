// Exceptions and software interrupts reach the guest's own handlers through its IVT or IDT,
// with the frame and error code the CPU would push (SDM Vol. 3 ch. 6).
import { describe, expect, it } from 'vitest';
import { exitCounts, guestPath, runVmm } from './run-vmm.js';

describe('event injection under the direct engine', () => {
  it('real mode: INT n and #DE are delivered through the IVT', () => {
    const run = runVmm(['boot', guestPath('ivt.bin'), '--no-stdin', '--time-limit', '20']);
    expect(run.stdout).toBe('int 0x21 via IVT: frame ok\ndivide error via IVT: frame ok\nback in main\n');
    expect(run.status).toBe(0);
    expect(exitCounts(run.stderr).exception).toBe(2);
  });

  it('ring 3: INT 0x80 and #PF reach ring-0 handlers; a double fault, then a triple fault', () => {
    const run = runVmm(['boot', guestPath('rings.bin'), '--no-stdin', '--time-limit', '20']);
    expect(run.stdout).toBe(
      'hello from ring 3\n' +
        'int 0x80 from ring 3: frame ok\n' +
        'page fault from ring 3: frame ok\n' +
        'ring 3 done\n' +
        'double fault: frame ok\n' +
        'now a triple fault\n',
    );
    expect(run.stderr).toMatch(/guest triple-faulted at 0008:[0-9a-f]{8}: triple fault: delivering #DF raised vector 13 \(while delivering #GP\(0x1234\)\)/);
    expect(run.status).toBe(4);
    // INT 0x80 twice, #PF, #GP (double fault), #GP (triple fault)
    expect(exitCounts(run.stderr).exception).toBe(5);
  });
});
