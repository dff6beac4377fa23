// What the CPU guarantees, under every engine: exact faults, physical memory that is only what
// the machine has, invalid opcodes as #UD, self-modifying code, and the interrupt shadow.
import { execFileSync } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { createEngine, unmodifiedGuestEngines } from '../../src/engines/index.js';
import { guestPath, ROOT, runVmm } from './run-vmm.js';

function assemble(source: string): string {
  const image = join(mkdtempSync(join(tmpdir(), 'vmm-vcpu-')), 'guest.bin');
  execFileSync('nasm', ['-f', 'bin', '-I', `${join(ROOT, 'guests', 'lib')}/`, '-o', image, join(ROOT, source)]);
  return image;
}

function boot(engine: string, image: string, ...extra: string[]) {
  return runVmm(['boot', guestPath(image), '--engine', engine, '-m', '64', '--no-stdin', '--time-limit', '60', ...extra]);
}

describe.each(unmodifiedGuestEngines)('the vCPU under %s', (engine) => {
  it('PAE: every physical address from 4 GiB to 64 GiB is open bus, never an alias of RAM or of the VMM', () => {
    const run = boot(engine, 'physscan.elf', '-a', 'pae=1');
    // Page by page where a 32-bit truncation would land on RAM or on the VMM's region above it.
    expect(run.stdout).toMatch(/^pae scan 0x100000000-0xfffffffff\nscanned (\d+) pages, writable 0, open-bus \1\nram intact/);
    expect(run.status).toBe(1);
  });

  it("#UD, INT3 and INT n from ring 0, self-modifying code, the STI shadow, MOVs at the top of the linear space, #GP for CR4 bits the CPU lacks, the APIC's MSR", () => {
    const run = boot(engine, 'cpuevents.elf');
    expect(run.stdout).toMatch(
      new RegExp(
        '^ud2: #UD at 0x[0-9a-f]{8}, handled 1 time\\(s\\)\n' +
          'int3: #BP handled, frame cs 0x00000008; int 0x80: handled, frame cs 0x00000008\n' +
          'self-modifying code: sum 35350, with time slices between patch and run 35350\n' +
          // 1 kHz PIT, a loop whose head is the instruction after STI: QEMU delivers every tick.
          'timer after sti: 100 ticks\n' +
          '0xffe00010, paging off: open bus\n' +
          '0xffe00010, mapped: moffs 0xa1b2c3d4, modrm 0xa1b2c3d4, byte 0x000000c3, written 0x600df00d\n' +
          'mov cr4 with LA57, SMEP: 2 of 2 refused with #GP\\(0\\)\n' +
          'rdmsr IA32_APIC_BASE: 0xfee00900\n' +
          'rdmsr EFER, LSTAR, KERNEL_GS_BASE, TSC_AUX, wrmsr EFER: 5 of 5 refused with #GP\\(0\\); rdmsr TSC reads\n' +
          'cpuevents ok\n$',
      ),
    );
    expect(run.status).toBe(1);
  });

  it('a guest that arms an instruction breakpoint in DR7 runs on, and the host stays up', () => {
    const run = runVmm(['boot', assemble('test/e2e/instruction-breakpoint.asm'), '--format', 'flat', '--load-address', '0x100000', '-e', engine, '--time-limit', '10']);
    expect(run.stderr).toMatch(/debug-exit port with value 0x0 \(status 1\)/);
    expect(run.status).toBe(1);
  });

  it('a halt with every interrupt source masked at the PIC ends the run', () => {
    const run = runVmm(['boot', assemble('test/e2e/masked-halt.asm'), '--format', 'flat', '--load-address', '0x100000', '-e', engine, '--time-limit', '10']);
    expect(run.stderr).toMatch(/guest halted at 000[89]:00100012 waiting for an interrupt, and no device will ever raise one/);
    expect(run.status).toBe(0);
  });

  it('an INT3 that cannot be delivered is named as under every other engine', () => {
    const run = runVmm(['boot', assemble('test/e2e/int3-no-idt.asm'), '--format', 'flat', '--load-address', '0x100000', '-e', engine, '--no-stdin']);
    expect(run.stderr).toMatch(/triple fault: .*\(while delivering #BP \(INT3\)\)/);
    expect(run.status).toBe(4);
  });

  it('a real-mode guest finds the 8259s and the timer as a BIOS leaves them: INT 1Ch hooked, three ticks counted at 0040:006C', () => {
    const run = runVmm(['boot', assemble('test/e2e/bios-timer.asm'), '-e', engine, '--no-stdin', '--time-limit', '20']);
    expect(run.stderr).toMatch(/debug-exit port with value 0x3 \(status 7\)/);
    expect(run.status).toBe(7);
  });

  it('a boot sector that calls the BIOS ends with a message naming the service', () => {
    const run = runVmm(['boot', assemble('test/e2e/bios-call.asm'), '-e', engine, '--no-stdin', '--time-limit', '10']);
    expect(run.stderr).toMatch(/^vmm: guest called the BIOS \(INT 10h, video, returning to 0000:00007c06\): this boot has no firmware to serve it \(boot the image as a disk through SeaBIOS with --bios\)$/m);
    expect(run.status).toBe(4);
  });

  it('time slices that end after the jump into protected mode but before SS is reloaded leave the guest whole', () => {
    // Under trap and bt a deprivileging taken there once entered ring 1 with the real-mode SS.
    const run = runVmm(['boot', assemble('test/e2e/late-segment-reload.asm'), '-e', engine, '--no-stdin', '--time-limit', '20']);
    expect(run.stderr).toMatch(/debug-exit port with value 0x2a \(status 85\)/);
    expect(run.status).toBe(85);
  });

  it('big real mode never reaches the VMM region above RAM: open bus without one, the run refused with one', () => {
    const run = runVmm(['boot', assemble('test/e2e/big-real-mode-scan.asm'), '-e', engine, '-m', '64', '--no-stdin', '--time-limit', '20']);
    if (createEngine(engine).requires.vmmRegion) {
      expect(run.stderr).toMatch(/^vmm: guest stopped at 0000:[0-9a-f]{8}: a write outside guest RAM, in the VMM region of this engine, refused/m);
      expect(run.status).toBe(4);
    } else {
      expect(run.stderr).toMatch(/debug-exit port with value 0x11 \(status 35\)/);
      expect(run.status).toBe(35);
    }
  });

  it('SMSW into a 32-bit register stores all of CR0; into a 16-bit register or memory, its low half', () => {
    const run = runVmm(['boot', assemble('test/e2e/smsw-register.asm'), '-e', engine, '-m', '64', '--no-stdin', '--time-limit', '20']);
    expect(run.stderr).toMatch(/debug-exit port with value 0x2a \(status 85\)/);
    expect(run.status).toBe(85);
  });

  it('a return to real mode and back, three times: big real mode keeps its limit; deprivileging engines follow each time', () => {
    const run = runVmm(['boot', assemble('test/e2e/real-mode-return.asm'), '--format', 'flat', '--load-address', '0x8000', '-e', engine, '-m', '64', '--no-stdin', '--time-limit', '30']);
    expect(run.stderr).toMatch(/debug-exit port with value 0x2a \(status 85\)/);
    expect(run.status).toBe(85);
    // Each CR0.PE clear came from the deprivileged kernel: it trapped, and the engine let go.
    if (createEngine(engine).requires.vmmRegion) expect(run.stderr).toMatch(/ trap-mov-to-cr0=3 /);
  });

  it('running off the end of RAM names the first address outside it', () => {
    const run = runVmm(['boot', assemble('test/e2e/run-off-ram.asm'), '--format', 'flat', '--load-address', '0x100000', '-m', '64', '-e', engine, '--no-stdin']);
    expect(run.stderr).toMatch(/instruction fetch from physical address 0x4000000, where there is no RAM/);
    expect(run.status).toBe(4);
  });

  it('--max-exits N stops after N exits, and the summary counts N', () => {
    const run = runVmm(['boot', guestPath('multiboot.elf'), '-e', engine, '--no-stdin', '--max-exits', '5']);
    expect(run.stderr).toMatch(/stopped after 5 exits \(--max-exits\)/);
    expect(run.stderr).toMatch(/ exits=5 /);
    expect(run.status).toBe(6);
  });

  it('self-modifying code in real mode runs each new value', () => {
    const run = boot(engine, 'realsmc.bin');
    expect(run.stderr).toMatch(/debug-exit port with value 0x0 \(status 1\)/);
    expect(run.status).toBe(1);
  });
});
