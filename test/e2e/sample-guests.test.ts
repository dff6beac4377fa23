// Every sample guest boots under `vmm boot` and prints exactly what it prints under QEMU.
import { describe, expect, it } from 'vitest';
import { exitCounts, guestPath, runVmm } from './run-vmm.js';

function boot(image: string, ...extra: string[]) {
  return runVmm(['boot', guestPath(image), '--no-stdin', '--time-limit', '30', ...extra]);
}

describe('sample guests under the direct engine', () => {
  it('real-mode boot sector prints through the UART and halts with interrupts disabled', () => {
    const run = boot('bootsector.bin');
    expect(run.stdout).toBe('Hello from a real-mode boot sector\nboot drive 0x80\n');
    expect(run.stderr).toMatch(/guest halted with interrupts disabled at 0000:/);
    expect(run.status).toBe(0);
    const counts = exitCounts(run.stderr);
    expect(counts.hlt).toBe(1);
    expect(counts['io-out']).toBeGreaterThanOrEqual(run.stdout.length);
  });

  it('protected-mode guest turns on paging, reads through an alias mapping and exits', () => {
    const run = boot('protected.bin');
    expect(run.stdout).toBe('protected mode\npaging on\nalias ok\n');
    expect(run.stderr).toMatch(/debug-exit port with value 0x0 \(status 1\)/);
    expect(run.status).toBe(1);
  });

  it('multiboot kernel sees its command line and memory map and exits with the chosen status', () => {
    const run = boot('multiboot.elf', '-m', '32', '-a', 'exit=21 hello');
    expect(run.stdout).toContain('Hello from a multiboot kernel\n');
    expect(run.stdout).toContain('cmdline: exit=21 hello\n');
    expect(run.stdout).toContain('mem_lower=639K mem_upper=31744K\n');
    expect(run.stdout).toContain('mmap 0x00000000 0x0009fc00 1\n');
    expect(run.stdout).toContain('mmap 0x00100000 0x01f00000 1\n');
    expect(run.stdout.endsWith('bye\n')).toBe(true);
    expect(run.status).toBe(43);
    expect(exitCounts(run.stderr).stop).toBe(1);
  });

  it('a.out-kludge multiboot kernel loads, gets a zeroed bss and exits', () => {
    const run = boot('multiboot-aout.bin');
    expect(run.stdout).toBe('Hello from an a.out-kludge kernel\nbss zero\n');
    expect(run.status).toBe(11);
  });

  it('compute guest prints the same checksum as under QEMU', () => {
    // qemu-system-i386 -kernel compute.elf -append iterations=1000 prints this checksum
    const run = boot('compute.elf', '-a', 'iterations=1000');
    expect(run.stdout).toBe('checksum 0xf20405f3\n');
    expect(run.status).toBe(1);
  });

  it('port-I/O guest: every OUT is one exit', () => {
    const run = boot('portio.elf', '-a', 'writes=5000');
    expect(run.stdout).toBe('done 5000\n');
    const counts = exitCounts(run.stderr);
    expect(counts['io-out']).toBeGreaterThanOrEqual(5000 + 'done 5000\n'.length);
    expect(run.status).toBe(1);
  });

  it('vmm boot with no image boots the default sample guest', () => {
    const run = runVmm(['boot', '--no-stdin', '--time-limit', '30']);
    expect(run.stdout).toContain('Hello from a multiboot kernel\n');
    expect(run.status).toBe(0);
  });
});
