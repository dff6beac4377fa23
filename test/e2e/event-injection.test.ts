// Exceptions and software interrupts reach the guest's own handlers through its IVT or IDT,
// with the frame and error code the CPU would push (SDM Vol. 3 ch. 6).
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { unmodifiedGuestEngines } from '../../src/engines/index.js';
import { exitCounts, guestPath, runVmm } from './run-vmm.js';

describe('event injection under the direct engine', () => {
  it('real mode: INT n and #DE are delivered through the IVT', () => {
    const run = runVmm(['boot', guestPath('ivt.bin'), '--no-stdin', '--time-limit', '20']);
    expect(run.stdout).toBe('int 0x21 via IVT: frame ok\ndivide error via IVT: frame ok\nback in main\n');
    expect(run.status).toBe(0);
    // Both delivered by the core, with no exit (hardware assist does not exit for them either).
    expect(exitCounts(run.stderr)['exception-reflected']).toBe(2);
    expect(exitCounts(run.stderr).exception).toBeUndefined();
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
    // INT 0x80 twice, #PF and #GP (its delivery faulted into a double fault, delivered) went to
    // the guest's handlers in the core; the #GP whose delivery triple-faulted ended the run.
    expect(exitCounts(run.stderr)['exception-reflected']).toBe(4);
    expect(exitCounts(run.stderr).exception).toBe(1);
  });
});

describe('an exception handled by a task (an IDT task gate)', () => {
  // Under trap and bt the deprivileged kernel's task state (TR, CR3, NT) is the engine's, which
  // switches tasks itself (src/engines/trap/task-switch.ts).
  for (const engine of unmodifiedGuestEngines) {
    it(`switches to the handler task and back by its IRET, twice, under ${engine}`, () => {
      const run = runVmm(['boot', guestPath('taskgate.elf'), '--no-stdin', '-e', engine, '--time-limit', '20']);
      // The guest's last check reads TR with STR, which does not trap at ring 1: where the
      // equivalence report names it (trap), the guest sees the VMM's TR, and only there.
      if (/^vmm: +[0-9a-f]{8} +str: STR does not fault/m.test(run.stderr)) {
        expect(run.stdout).toBe('FAILED: TR does not name the main task after the IRET\n');
        expect(run.status).toBe(3);
      } else {
        expect(run.stdout).toBe('taskgate ok\n');
        expect(run.status).toBe(1); // debug-exit value 0
      }
    });
  }
});

describe('the PC platform drives the guest', () => {
  it('PIT interrupts arrive through the 8259A at the programmed rate while the guest sleeps in HLT', () => {
    const run = runVmm(['boot', guestPath('timer.bin'), '--no-stdin', '--time-limit', '20']);
    expect(run.stdout).toBe('50 timer interrupts\n');
    expect(run.status).toBe(1);
    const counts = exitCounts(run.stderr);
    expect(counts['irq-injected']).toBe(50);
    expect(counts.hlt).toBeGreaterThanOrEqual(49); // it slept between ticks rather than spinning
    // 50 ticks at 100 Hz: guest time follows the host clock (at least 49 whole periods).
    expect(counts.time).toBeGreaterThanOrEqual(0.48);
  });

  // Each program asks for a reset, then spins: mov al, V ; out P, al ; jmp $.
  const resets = [
    { by: 'the keyboard controller (command 0xFE)', code: [0xb0, 0xfe, 0xe6, 0x64] },
    { by: 'port 0x92 (fast reset)', code: [0xb0, 0x03, 0xe6, 0x92] },
    { by: 'the reset control register (port 0xcf9, hard reset)', code: [0xb0, 0x06, 0xba, 0xf9, 0x0c, 0x00, 0x00, 0xee] }, // mov edx, 0xcf9 ; out dx, al
  ];
  const resetImage = (code: number[]) => {
    const image = join(mkdtempSync(join(tmpdir(), 'vmm-reset-')), 'reset.bin');
    writeFileSync(image, Uint8Array.from([...code, 0xeb, 0xfe]));
    return ['boot', image, '--format', 'flat', '--load-address', '0x100000', '--no-stdin'];
  };

  for (const { by, code } of resets) {
    it(`a reset through ${by} ends the run with --no-reboot`, () => {
      const run = runVmm([...resetImage(code), '--no-reboot', '--time-limit', '10']);
      expect(run.stderr).toMatch(new RegExp(`^vmm: guest reset the machine through ${by.replace(/[()]/g, '\\$&')}$`, 'm'));
      expect(run.status).toBe(0);
    });
  }

  it('without --no-reboot, a reset boots the machine again from its image', () => {
    const run = runVmm([...resetImage(resets[0].code), '--time-limit', '2']);
    const reboots = run.stderr.split('booting it again').length - 1;
    expect(reboots).toBeGreaterThan(2);
    expect(run.stderr).toMatch(/^vmm: wall-clock limit of 2 s reached; guest reset the machine through the keyboard controller \(command 0xFE\) and was to boot again$/m);
    expect(run.status).toBe(6);
  });
});
