// Guests nobody here wrote, fetched from Debian by scripts/fetch-guest-images.sh (part of setup):
// Debian's i386 Linux kernel with a busybox initramfs, and memtest86+.
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { createEngine, unmodifiedGuestEngines } from '../../src/engines/index.js';
import { exitCounts, ROOT, runVmmAsync, runVmmUntil } from './run-vmm.js';

const images = join(ROOT, 'guests', 'images');
const image = (name: string) => join(images, name);
// A boot takes 8-30 s; on a busy 2-core machine several times that.
const LINUX_TEST_MS = 310_000;

/**
 * What Debian's Linux says when it finds the PC's firmware tables and uses the local APIC, the
 * I/O APIC and the HPET they describe, then powers off through ACPI S5 (status 0).
 */
function expectAcpiPlatformInUse(log: string, stderr: string): void {
  expect(log).not.toContain('A valid RSDP was not found');
  expect(log).toMatch(/ACPI: RSDP 0x00000000000F0000/);
  expect(log).toContain('ACPI: Using ACPI (MADT) for SMP configuration information');
  expect(log).toContain('Enabling APIC mode:  Flat.  Using 1 I/O APICs');
  expect(log).toMatch(/\.\.TIMER: vector=0x\w+ apic1=0 pin1=2/); // the PIT through I/O APIC pin 2
  expect(log).toContain('hpet0: 3 comparators, 64-bit 100.0000');
  expect(log).toContain('ACPI: PCI Root Bridge [PCI0]');
  expect(log).toContain('ACPI: PM: (supports S0 S5)');
  expect(log).toContain('ACPI: PM: Preparing to enter system sleep state S5');
  expect(stderr).toMatch(/^vmm: guest powered off \(ACPI S5\)$/m);
}

describe('real guests under the direct engine', () => {
  it('Debian Linux boots to its userspace markers and powers off', async () => {
    expect(existsSync(image('vmlinuz')), 'run scripts/setup.sh to fetch the images').toBe(true);
    const run = await runVmmAsync(
      ['boot', '--kernel', image('vmlinuz'), '--initrd', image('initrd.gz'), '-a', 'console=ttyS0', '-m', '128', '--no-stdin', '--time-limit', '240'],
      300,
    );
    const log = run.stdout.replaceAll('\r\n', '\n'); // the Linux serial console writes CRLF
    expect(log).toContain('Linux version 6.');
    expect(log).toContain('VMM-USERSPACE-READY\n');
    expect(log).toMatch(/Linux \(none\) 6\.\S+ .* i686 GNU\/Linux/); // uname -a, run by /init
    expect(log).toContain('VMM-USERSPACE-DONE\n');
    expect(log).not.toMatch(/panic|BUG:|WARNING:/i);
    expectAcpiPlatformInUse(log, run.stderr);
    expect(run.status).toBe(0);
    const counts = exitCounts(run.stderr);
    expect(counts['irq-injected']).toBeGreaterThan(100); // timer, serial interrupts
    expect(counts['exception-reflected']).toBeGreaterThan(100); // page faults, INT 0x80 system calls
  }, LINUX_TEST_MS);

  it('Debian Linux without ACPI (acpi=off) finds the MP table and runs on the I/O APIC it describes', async () => {
    const run = await runVmmUntil(
      ['boot', '--kernel', image('vmlinuz'), '--initrd', image('initrd.gz'), '-a', 'console=ttyS0 acpi=off', '-m', '128', '--no-stdin'],
      'VMM-USERSPACE-DONE',
      240,
    );
    const log = run.stdout.replaceAll('\r\n', '\n');
    expect(log).toContain('found SMP MP-table at [mem 0x000f8000-0x000f800f]');
    expect(log).toContain('Intel MultiProcessor Specification v1.4');
    expect(log).toContain('IOAPIC[0]: apic_id 0, version 17, address 0xfec00000, GSI 0-23');
    expect(log).toContain('Enabling APIC mode:  Flat.  Using 1 I/O APICs');
    expect(log).toMatch(/\.\.TIMER: vector=0x\w+ apic1=0 pin1=2/);
    expect(log).toContain('VMM-USERSPACE-DONE\n');
    expect(log).not.toMatch(/panic|BUG:|WARNING:/i);
  }, LINUX_TEST_MS);

  it('memtest86+ prints its banner and starts its first test on the serial console', async () => {
    expect(existsSync(image('memtest86+ia32.bin')), 'run scripts/setup.sh to fetch the images').toBe(true);
    // memtest never stops on its own: the run ends with SIGTERM once the first test is shown.
    const run = await runVmmUntil(
      ['boot', '--kernel', image('memtest86+ia32.bin'), '-a', 'console=ttyS0', '-m', '64', '--no-stdin'],
      '#0  [Address test, walking ones, no cache]',
    );
    expect(run.stdout).toContain('Memtest86+ v');
    expect(run.stdout).toContain('#0  [Address test, walking ones, no cache]');
    expect(run.stdout).not.toMatch(/Errors: [1-9]/);
    expect(run.status).toBe(143);
  }, 130_000);
});

describe('a guest that resets the machine', () => {
  const rebootArgs = ['boot', '--kernel', image('vmlinuz'), '--initrd', image('initrd.gz'), '-a', 'console=ttyS0 quiet vmm.workload=reboot', '-m', '128', '--no-stdin'];

  it('boots again from its image, as a PC does (Linux reboot -f through the ACPI reset register)', async () => {
    const run = await runVmmUntil(rebootArgs, 'VMM-REBOOTING', 240, 2);
    expect(run.stdout.split('VMM-REBOOTING').length - 1).toBe(2);
    expect(run.stderr).toMatch(/^vmm: guest reset the machine through the reset control register \(port 0xcf9, hard reset\); booting it again$/m);
  }, LINUX_TEST_MS);

  it('ends the run instead with --no-reboot, under trap too', async () => {
    const run = await runVmmAsync([...rebootArgs, '-e', 'trap', '--no-reboot', '--time-limit', '240'], 300);
    expect(run.stdout).toContain('VMM-REBOOTING');
    expect(run.stderr).toMatch(/^vmm: guest reset the machine through the reset control register \(port 0xcf9, hard reset\)$/m);
    expect(run.status).toBe(0);
  }, LINUX_TEST_MS);
});

describe('real guests under the trap engine', () => {
  it('Debian Linux boots deprivileged on shadow page tables (with SMEP and SMAP: --cpu max), reaches user space and powers off', async () => {
    const run = await runVmmAsync(
      ['boot', '--kernel', image('vmlinuz'), '--initrd', image('initrd.gz'), '-e', 'trap', '-a', 'console=ttyS0', '-m', '128', '--no-stdin',
        '--cpu', 'max', '--time-limit', '240'],
      300,
    );
    const log = run.stdout.replaceAll('\r\n', '\n');
    expect(log).toContain('VMM-USERSPACE-READY\n');
    expect(log).toContain('VMM-USERSPACE-DONE\n');
    expect(log).not.toMatch(/panic|BUG:|WARNING:/i);
    expectAcpiPlatformInUse(log, run.stderr);
    expect(run.status).toBe(0);
    const counts = exitCounts(run.stderr);
    // Context switches reuse cached shadows; page-table writes are tracked; most faults are hidden.
    expect(counts['trap-mov-to-cr3']).toBeGreaterThan(100);
    expect(counts['cr3-cache-hits']).toBeGreaterThan(counts['trap-mov-to-cr3'] / 2);
    expect(counts['pt-writes-tracked']).toBeGreaterThan(100);
    expect(counts['pf-hidden']).toBeGreaterThan(counts['pf-true']);
    // Every user access of the kernel is bracketed by STAC and CLAC, #UD at ring 1 and carried out
    // in the core (a #UD that reached the guest killed init).
    expect(counts['trap-clac-stac']).toBeGreaterThan(1000);
    // The report lists where Linux could tell it is deprivileged (PUSHF, SMSW, ...).
    expect(run.stderr).toMatch(/equivalence: \d+ place\(s\)/);
    expect(run.stderr).toMatch(/pushf: PUSHF/);
  }, LINUX_TEST_MS);
});

describe('real guests under the bt engine', () => {
  it('Debian Linux boots with its kernel running from the translation cache, reaches user space and powers off', async () => {
    const run = await runVmmAsync(
      ['boot', '--kernel', image('vmlinuz'), '--initrd', image('initrd.gz'), '-e', 'bt', '-a', 'console=ttyS0', '-m', '128', '--no-stdin',
        '--time-limit', '240'],
      300,
    );
    const log = run.stdout.replaceAll('\r\n', '\n');
    expect(log).toContain('VMM-USERSPACE-READY\n');
    expect(log).toMatch(/Linux \(none\) 6\.\S+ .* i686 GNU\/Linux/);
    expect(log).toContain('VMM-USERSPACE-DONE\n');
    expect(log).not.toMatch(/panic|BUG:|WARNING:|segfault/i);
    expectAcpiPlatformInUse(log, run.stderr);
    expect(run.status).toBe(0);
    const counts = exitCounts(run.stderr);
    // The kernel ran translated: blocks, chained jumps, lookups; every entry into it went to the
    // cache; PUSHF rewritten in the cache; IRET carried out by the VMM; no block ran in place.
    expect(counts['bt-blocks']).toBeGreaterThan(10_000);
    expect(counts['bt-entries']).toBeGreaterThan(1000);
    expect(counts['bt-chain-links']).toBeGreaterThan(1000);
    expect(counts['bt-lookup-fills']).toBeGreaterThan(100);
    expect(counts['bt-rewrite-pushf']).toBeGreaterThan(10);
    expect(counts['bt-call-iret-in-core']).toBeGreaterThan(1000);
    // The VERW Linux runs on each return to user mode (MDS buffer clearing) is carried out by the
    // VMM's core too, not by a round trip to TypeScript.
    expect(counts['bt-call-verify-in-core']).toBeGreaterThan(100);
    expect(counts['bt-call-verw'] ?? 0).toBeLessThan(counts['bt-call-verify-in-core'] / 10);
    // Those, MOV CRn and INVLPG are mostly fast calls, carried out inside the CPU loop without an
    // exception; the slow way (a stop or an interrupt waiting) is the exception.
    expect(counts['bt-call-fast']).toBeGreaterThan(counts['bt-call-iret-in-core']);
    expect(counts['bt-call-slow'] ?? 0).toBeLessThan(counts['bt-call-fast'] / 5);
    expect(counts['bt-in-place']).toBeUndefined();
    // No block hook: every kernel entry was sent to the cache where it was made (its far JMPs
    // too, carried out in fast calls), so user code runs without a call at each block.
    expect(counts['bt-far-transfers']).toBeGreaterThan(0);
    expect(counts['bt-block-hook']).toBeUndefined();
    expect(counts['bt-escapes']).toBeUndefined();
    // Linux patches its own text (alternatives, static keys): translations of it are dropped.
    expect(counts['bt-invalidate-code-write']).toBeGreaterThan(0);
    // CLI and STI no longer trap: the guest kernel's IF is the real one (IOPL 1).
    expect(counts['trap-cli']).toBeUndefined();
    expect(counts['trap-sti']).toBeUndefined();
    // The idle loop's STI; HLT: the emulated HLT ends the STI's shadow, so the interrupt that wakes
    // it is taken at once (with the shadow outlasting the HLT, a boot ran ~95,000 HLTs, not ~10).
    expect(counts['trap-hlt'] ?? 0).toBeLessThan(1000);
    expect(run.stderr).toMatch(/equivalence: every guest kernel block ran translated: no place where the guest could see a difference/);
  }, LINUX_TEST_MS);

  it('memtest86+ runs its first test from the translation cache', async () => {
    const run = await runVmmUntil(
      ['boot', '--kernel', image('memtest86+ia32.bin'), '-a', 'console=ttyS0', '-m', '64', '--no-stdin', '-e', 'bt'],
      '#0  [Address test, walking ones, no cache]',
    );
    expect(run.stdout).toContain('Memtest86+ v');
    expect(run.stdout).not.toMatch(/Errors: [1-9]/);
    expect(run.status).toBe(143);
    expect(exitCounts(run.stderr)['bt-blocks']).toBeGreaterThan(100);
  }, 130_000);
});

// Every engine with shadow page tables: a pool of 16 pages runs out again and again during a boot.
// Each time every shadow is dropped, the real CR3 moves to the rebuilt root (the old root's page
// is free then, and becomes some other shadow page), and Linux boots on.
describe.each(unmodifiedGuestEngines.filter((name) => createEngine(name).requires.vmmRegion))('a shadow pool that runs out, under %s', (engine) => {
  it('Debian Linux boots to its userspace markers with a 64 KiB shadow pool', async () => {
    const run = await runVmmAsync(
      ['boot', '--kernel', image('vmlinuz'), '--initrd', image('initrd.gz'), '-a', 'console=ttyS0 quiet', '-m', '128', '--no-stdin', '-e', engine, '--shadow-pool', '64', '--time-limit', '240'],
      300,
    );
    const log = run.stdout.replaceAll('\r\n', '\n');
    expect(log).toContain('VMM-USERSPACE-DONE\n');
    expect(log).not.toMatch(/panic|BUG:/i);
    expect(run.status).toBe(0);
    expect(exitCounts(run.stderr)['shadow-pool-resets']).toBeGreaterThan(5);
  }, LINUX_TEST_MS);
});
