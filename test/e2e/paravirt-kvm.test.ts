// KVM's paravirtual interface (`--pv kvm`) under every engine: the kvmpv sample guest's checks of
// the ABI, and Debian's Linux, which finds the interface on its own and runs on it.
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { runWithLineTimes } from '../../src/bench/line-times.js';
import { unmodifiedGuestEngines } from '../../src/engines/index.js';
import { threadRunDelayNs } from '../../src/paravirt/kvm/steal-time.js';
import { exitCounts, guestPath, ROOT, runVmm, runVmmAsync, VMM } from './run-vmm.js';

const image = (name: string) => join(ROOT, 'guests', 'images', name);
const LINUX_TEST_MS = 310_000;
const linux = (append: string, ...extra: string[]) => [
  'boot', '--kernel', image('vmlinuz'), '--initrd', image('initrd.gz'), '-a', `console=ttyS0 ${append}`.trim(), '-m', '128', '--no-stdin', ...extra,
];
// Steal time is offered where the host keeps run delays (this test's host tells the same way).
const stealOffered = threadRunDelayNs() !== undefined;

describe.each(unmodifiedGuestEngines)('KVM paravirtual interface under %s', (engine) => {
  it('kvmpv: CPUID leaves, hypercalls (ring 0 and ring 3), kvmclock, PV EOI and steal time as KVM documents them', () => {
    const run = runVmm(['boot', guestPath('kvmpv.elf'), '-e', engine, '--pv', 'kvm', '--no-stdin', '--time-limit', '60']);
    expect(run.stdout).toBe(
      'hypervisor: KVMKVMKVM, features clocksource2 nop-io-delay pv-eoi stable-bit\n' +
        'hypercalls: poll-irq 0, unknown -1000, kick-cpu -1000 (vmcall and vmmcall)\n' +
        'hypercall from ring 3: -1\n' +
        'kvmclock: advances, stable, wall clock after 2023\n' +
        'pv eoi: two interrupts ended by the flag, two by EOI\n' +
        `steal time: ${stealOffered ? 'registered' : 'not offered'}\n` +
        'kvmpv ok\n',
    );
    expect(run.status).toBe(1);
    // Six hypercalls, each one exit; none of them reached the guest as #UD. Two EOIs by the flag.
    const counts = exitCounts(run.stderr);
    expect(counts.hypercall).toBe(6);
    expect(counts['pv-eoi']).toBe(2);
  });

  it('kvmpv without --pv: no KVM interface, and VMCALL and VMMCALL raise #UD, as on hardware and under QEMU', () => {
    const run = runVmm(['boot', guestPath('kvmpv.elf'), '-e', engine, '--no-stdin', '--time-limit', '60']);
    expect(run.stdout).toBe('no KVM interface\nvmcall and vmmcall: #UD\nkvmpv ok\n');
    expect(run.status).toBe(1);
    expect(exitCounts(run.stderr).hypercall).toBeUndefined();
  });

  it('Debian Linux detects KVM, boots paravirtualized on kvm-clock, and powers off', async () => {
    expect(existsSync(image('vmlinuz')), 'run scripts/setup.sh to fetch the images').toBe(true);
    const run = await runVmmAsync([...linux('', '--pv', 'kvm', '-e', engine, '--time-limit', '240')], 300);
    const log = run.stdout.replaceAll('\r\n', '\n');
    expect(log).toContain('Hypervisor detected: KVM');
    expect(log).toContain('kvm-clock: Using msrs 4b564d01 and 4b564d00');
    expect(log).toContain('Booting paravirtualized kernel on KVM');
    expect(log).toContain('clocksource: Switched to clocksource kvm-clock');
    expect(log).toContain('VMM-USERSPACE-DONE\n');
    expect(log).not.toMatch(/panic|BUG:|WARNING:/i);
    expect(run.stderr).toMatch(/^vmm: guest powered off \(ACPI S5\)$/m);
    expect(run.status).toBe(0);
    // The local APIC timer's interrupts end through the PV EOI flag, without an EOI write (an exit).
    expect(exitCounts(run.stderr)['pv-eoi']).toBeGreaterThan(100);
  }, LINUX_TEST_MS);
});

describe('the guest\'s clock on kvm-clock (direct)', () => {
  it('stays within a second of the host\'s over a minute, without drifting', async () => {
    const startedAt = Date.now();
    const run = await runWithLineTimes('node', [VMM, ...linux('quiet vmm.workload=clock vmm.seconds=60 vmm.step=10 vmm.loops=100', '--pv', 'kvm', '--time-limit', '200')], 240);
    expect(run.lines.map((l) => l.text)).toContain('VMM-CLOCKSOURCE kvm-clock');
    const samples = run.lines
      .filter((line) => line.text.startsWith('VMM-CLOCK '))
      .map((line) => ({ guest: Number(line.text.slice('VMM-CLOCK '.length)), host: (startedAt + line.seconds * 1000) / 1000 }));
    expect(samples.length).toBe(7);
    // Each reading against the host's time when its line arrived (a little after it was taken).
    for (const { guest, host } of samples) expect(Math.abs(guest - host)).toBeLessThan(1);
    // Over the minute, the guest's clock moved as the host's did.
    const guestMinute = samples[6].guest - samples[0].guest;
    const hostMinute = samples[6].host - samples[0].host;
    expect(guestMinute).toBeGreaterThan(59);
    expect(Math.abs(guestMinute - hostMinute)).toBeLessThan(0.1);
    expect(run.status).toBe(0);
  }, 260_000);
});

describe.runIf(stealOffered && existsSync('/usr/bin/taskset'))('steal time (direct)', () => {
  it('the guest counts as steal the time a busy host did not run its vCPU', async () => {
    // A busy loop on the same host CPU as the VMM: the vCPU's thread waits about half the time.
    const hog = spawn('taskset', ['-c', '0', 'sh', '-c', 'while :; do :; done'], { stdio: 'ignore' });
    try {
      const run = await runWithLineTimes('taskset', ['-c', '0', 'node', VMM, ...linux('quiet vmm.workload=clock vmm.seconds=0 vmm.loops=20000', '--pv', 'kvm', '--time-limit', '200')], 240);
      const line = run.lines.find((l) => l.text.startsWith('VMM-STEAL '));
      expect(line, run.stderr).toBeDefined();
      // USER_HZ ticks (10 ms): several seconds of contention leave well over a few.
      expect(Number(line!.text.split(' ')[1])).toBeGreaterThan(10);
      expect(run.status).toBe(0);
    } finally {
      hog.kill('SIGKILL');
    }
  }, 260_000);
});
