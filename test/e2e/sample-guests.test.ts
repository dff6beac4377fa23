// Every sample guest boots under `vmm boot` and prints exactly what it prints under QEMU; and
// every registered engine runs every sample guest as the direct engine does (a new engine joins
// by being registered), except where its technique cannot, as listed in UNFAITHFUL.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { unmodifiedGuestEngines } from '../../src/engines/index.js';
import { exitCounts, guestPath, runVmm } from './run-vmm.js';

/** Every sample guest, with the arguments that keep its run short. */
const SAMPLE_GUESTS: [string, ...string[]][] = [
  ['bootsector.bin'],
  ['protected.bin'],
  ['multiboot.elf', '-a', 'exit=21 hello'],
  ['multiboot-aout.bin'],
  ['compute.elf', '-a', 'iterations=100000'],
  ['portio.elf', '-a', 'writes=2000'],
  ['empty.elf'],
  ['ivt.bin'],
  ['rings.bin'],
  ['timer.bin'],
  ['paging.elf'],
  ['physscan.elf'],
  ['popf.elf'],
  ['cpuevents.elf'],
  ['kvmpv.elf'],
  ['kvmpv.elf', '--pv', 'kvm'],
  ['eventwindows.elf'],
  ['cpufeatures.elf'],
  ['realsmc.bin'],
  ['haltwait.bin'],
  ['debuggee.elf'],
];

/** Where an engine's technique shows the guest a difference, and why (the engine reports it). */
const UNFAITHFUL: Record<string, Record<string, string>> = {
  trap: {
    'popf.elf': 'POPF at ring 1 cannot clear IF and does not trap (the equivalence report names it)',
    'eventwindows.elf':
      'POPF at ring 1 cannot set IF (the equivalence report names it); the guest stops at that check',
  },
  bt: {
    'cpufeatures.elf': "SYSENTER with SEP hidden runs as on hardware, where Unicorn's own under direct jumps to a stale EIP",
  },
};

function bootUnder(engine: string, image: string, ...extra: string[]) {
  return runVmm(['boot', guestPath(image), '--engine', engine, '-m', '64', '--no-stdin', '--time-limit', '30', ...extra]);
}

const underDirect = new Map<string, ReturnType<typeof bootUnder>>();
function directRun(image: string, extra: string[]) {
  const key = [image, ...extra].join(' ');
  if (!underDirect.has(key)) underDirect.set(key, bootUnder('direct', image, ...extra));
  return underDirect.get(key)!;
}

describe.each(unmodifiedGuestEngines.filter((name) => name !== 'direct'))('every sample guest under %s', (engine) => {
  it.each(SAMPLE_GUESTS)('%s: same output and exit status as under direct, or a listed difference', (image, ...extra) => {
    const run = bootUnder(engine, image, ...extra);
    expect(run.stderr).toMatch(new RegExp(`engine=${engine} `));
    const direct = directRun(image, extra);
    const why = UNFAITHFUL[engine]?.[image];
    if (why) {
      // Listed as unfaithful: if the engine has become faithful here, the list must say so.
      expect(run.stdout, `expected to differ: ${why}`).not.toBe(direct.stdout);
      return;
    }
    expect(run.stdout).toBe(direct.stdout);
    expect(run.status).toBe(direct.status);
  });
});

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

  it.each(unmodifiedGuestEngines)('a HLT with interrupts disabled ends the run under %s while an interrupt waits and the VMM looks for a window', (engine) => {
    // The block before the HLT is long enough for the VMM's own stops (window polls) to land in
    // it; a stop taken for the HLT resumed the guest past it.
    const run = boot('haltwait.bin', '--engine', engine);
    expect(run.stdout).toBe('IRQ 0 waits; halting\n');
    expect(run.stderr).toMatch(/guest halted with interrupts disabled at 0000:/);
    expect(run.status).toBe(0);
  });

  it('interrupts and NMIs are taken exactly at their windows: after STI\'s shadow, right after POPF, right after the IRET that unblocks NMIs', () => {
    const run = boot('eventwindows.elf');
    expect(run.stdout).toBe(
      "sti; nop; cli: 20 of 20 interrupts taken after the instruction in STI's shadow\n" +
        'popf; cli: 20 of 20 interrupts taken right after POPF\n' +
        "nmi: 2 delivered; the second after the first handler's IRET, at its return address\n" +
        'eventwindows ok\n',
    );
    expect(run.status).toBe(1);
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
    // Its own file name first, as GRUB and QEMU pass it (argv[0]).
    expect(run.stdout).toContain(`cmdline: ${guestPath('multiboot.elf')} exit=21 hello\n`);
    expect(run.stdout).toContain('modules: 0\n');
    // QEMU's fw_cfg, as guests written for QEMU read it.
    expect(run.stdout).toContain('fw_cfg: QEMU cpus=1 ram=32M\n');
    expect(run.stdout).toContain('mem_lower=639K mem_upper=31744K\n');
    expect(run.stdout).toContain('mmap 0x00000000 0x0009fc00 1\n');
    expect(run.stdout).toContain('mmap 0x00100000 0x01f00000 1\n');
    expect(run.stdout.endsWith('bye\n')).toBe(true);
    expect(run.status).toBe(43);
    expect(exitCounts(run.stderr).stop).toBe(1);
  });

  it('multiboot kernel gets its modules from --initrd, with their strings, as QEMU passes them', () => {
    const dir = mkdtempSync(join(tmpdir(), 'vmm-modules-'));
    try {
      const first = Buffer.from('hello module\n');
      const second = Buffer.from(Array.from({ length: 5000 }, (_, i) => (i * 31 + 7) & 0xff));
      writeFileSync(join(dir, 'one.txt'), first);
      writeFileSync(join(dir, 'two,bin'), second);
      const sum = (b: Buffer) => b.reduce((a, x) => a + x, 0);
      // QEMU's vocabulary: entries split at commas (",," is a comma), arguments after a space.
      const spec = `${join(dir, 'one.txt')} first arg,${join(dir, 'two,,bin')}`;
      const run = boot('multiboot.elf', '-m', '32', '--initrd', spec, '-a', 'exit=3');
      expect(run.stdout).toContain('modules: 2\n');
      expect(run.stdout).toContain(`module 0: '${join(dir, 'one.txt')} first arg' size=13 page-aligned sum=${sum(first)}\n`);
      expect(run.stdout).toContain(`module 1: '${join(dir, 'two,bin')}' size=5000 page-aligned sum=${sum(second)}\n`);
      expect(run.status).toBe(7);
      const missing = boot('multiboot.elf', '--initrd', `${join(dir, 'one.txt')},${join(dir, 'none')}`);
      expect(missing.status).toBe(2);
      expect(missing.stderr).toMatch(new RegExp(`^vmm: error: cannot read module 2 '${join(dir, 'none')}': no such file$`, 'm'));
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
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
