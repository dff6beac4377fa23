// Bad input gets one clear line and a non-zero status; a misbehaving guest gets a report.
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { exitCounts, guestPath, runVmm } from './run-vmm.js';
import { createEngine, engineNames } from '../../src/engines/index.js';

const dir = mkdtempSync(join(tmpdir(), 'vmm-bad-input-'));

function file(name: string, bytes: Uint8Array | number[]): string {
  const path = join(dir, name);
  writeFileSync(path, Uint8Array.from(bytes));
  return path;
}

function expectOneLineError(run: { status: number | null; stderr: string; stdout: string }, message: RegExp) {
  expect(run.status).toBe(2);
  expect(run.stdout).toBe('');
  const lines = run.stderr.trimEnd().split('\n');
  expect(lines).toHaveLength(1);
  expect(lines[0]).toMatch(/^vmm: error: /);
  expect(lines[0]).toMatch(message);
}

describe('bad input', () => {
  it('missing image', () => {
    expectOneLineError(runVmm(['boot', join(dir, 'nope.bin'), '--no-stdin']), /cannot read image '.*nope\.bin': no such file$/);
  });

  it('a directory instead of an image', () => {
    expectOneLineError(runVmm(['boot', dir, '--no-stdin']), /it is a directory$/);
  });

  it('empty image', () => {
    expectOneLineError(runVmm(['boot', file('empty.bin', []), '--no-stdin']), /image is empty/);
  });

  it('truncated multiboot ELF', () => {
    const whole = readFileSync(guestPath('multiboot.elf'));
    const cut = file('cut.elf', whole.subarray(0, 300));
    expectOneLineError(runVmm(['boot', cut, '--no-stdin']), /truncated/i);
  });

  it('a 300-byte boot sector without its signature is an unknown format', () => {
    expectOneLineError(runVmm(['boot', file('junk.bin', new Array(300).fill(0x90)), '--no-stdin']), /unknown|format/i);
  });

  it('image larger than RAM', () => {
    expectOneLineError(runVmm(['boot', guestPath('multiboot.elf'), '-m', '1', '--no-stdin']), /RAM/);
  });

  it('RAM size that is not a number', () => {
    expectOneLineError(runVmm(['boot', guestPath('bootsector.bin'), '-m', 'lots']), /invalid RAM size 'lots'/);
  });

  it('RAM size that is too large', () => {
    expectOneLineError(runVmm(['boot', guestPath('bootsector.bin'), '-m', '64G']), /larger than the 3584 MiB maximum/);
  });

  it('unknown engine', () => {
    expectOneLineError(runVmm(['boot', guestPath('bootsector.bin'), '-e', 'warp']), /unknown engine 'warp'; available: direct/);
  });

  it('unknown CPU model', () => {
    expectOneLineError(runVmm(['boot', guestPath('bootsector.bin'), '--cpu', 'pentium9']), /unknown CPU model 'pentium9'; choose one of qemu32, max, host/);
  });

  it('unknown device', () => {
    expectOneLineError(runVmm(['boot', guestPath('bootsector.bin'), '--device', 'sb16']), /unknown device 'sb16'; choose one of pc-testdev/);
  });

  it('an unknown engine, and a kernel the paravirtual engine cannot run', () => {
    expectOneLineError(runVmm(['boot', guestPath('bootsector.bin'), '-e', 'xen']), /unknown engine 'xen'; available: direct, trap, bt, paravirt/);
    expectOneLineError(runVmm(['boot', guestPath('bootsector.bin'), '-e', 'paravirt']), /bootsector\.bin: the paravirt engine runs paravirtual kernels only, and this one names no hypercall page/);
  });

  it('a debugger under an engine that cannot take one', () => {
    for (const name of engineNames.filter((e) => createEngine(e).debuggerUnsupported)) {
      expectOneLineError(runVmm(['boot', guestPath('bootsector.bin'), '-e', name, '--gdb', 'tcp::0']), /does not support a debugger/);
    }
  });

  it('a translation cache size for an engine without one, or out of bounds', () => {
    expectOneLineError(runVmm(['boot', guestPath('bootsector.bin'), '--translation-cache', '1024']), /--translation-cache applies to an engine with a translation cache \(bt\) only/);
    expectOneLineError(runVmm(['boot', guestPath('bootsector.bin'), '-e', 'bt', '--translation-cache', '100']), /invalid translation cache size '100': give KiB from 384 to 3968/);
    expectOneLineError(runVmm(['boot', guestPath('bootsector.bin'), '-e', 'bt', '--translation-cache', '2M']), /invalid translation cache size '2M'/);
  });

  it('a shadow pool size for an engine without shadow page tables, or out of bounds', () => {
    expectOneLineError(runVmm(['boot', guestPath('bootsector.bin'), '--shadow-pool', '1024']), /--shadow-pool applies to an engine with shadow page tables \(trap, bt, paravirt\) only/);
    expectOneLineError(runVmm(['boot', guestPath('bootsector.bin'), '-e', 'trap', '--shadow-pool', '16']), /invalid shadow pool size '16': give KiB from 64 to 16256/);
    expectOneLineError(runVmm(['boot', guestPath('bootsector.bin'), '-e', 'bt', '--shadow-pool', '1x']), /invalid shadow pool size '1x'/);
  });

  it('invalid time limit', () => {
    expectOneLineError(runVmm(['boot', guestPath('bootsector.bin'), '--time-limit', '-3']), /invalid time limit '-3'/);
  });

  it('unknown option', () => {
    expectOneLineError(runVmm(['boot', '--frobnicate']), /unknown option '--frobnicate'/);
  });

  it('flat image without a load address', () => {
    expectOneLineError(runVmm(['boot', file('flat.bin', [0xf4]), '--format', 'flat']), /--format flat needs --load-address/);
  });

  it('an unknown display or VGA, and a screen asked of a machine told to have no VGA', () => {
    expectOneLineError(runVmm(['boot', guestPath('vgatext.bin'), '--display', 'sdl']), /unknown display 'sdl'; choose one of none, curses$/);
    expectOneLineError(runVmm(['boot', guestPath('vgatext.bin'), '--vga', 'cirrus']), /unknown VGA 'cirrus'; choose one of std, none$/);
    expectOneLineError(
      runVmm(['boot', guestPath('vgatext.bin'), '--vga', 'none', '--screen-dump', join(dir, 'screen.txt')]),
      /--screen-dump shows the VGA's screen, and --vga none leaves the machine without one$/,
    );
  });

  it('--display curses when standard output is not a terminal', () => {
    // runVmm gives vmm a pipe for standard output.
    expectOneLineError(runVmm(['boot', guestPath('vgatext.bin'), '--display', 'curses']), /--display curses needs a terminal, and standard output is not one$/);
  });

  it('a screen dump to a path that cannot be written, before the guest runs', () => {
    const run = runVmm(['boot', guestPath('vgatext.bin'), '--screen-dump', join(dir, 'no-such-dir', 'screen.txt')]);
    expectOneLineError(run, /cannot write the screen dump to '.*no-such-dir\/screen\.txt': ENOENT \(no such file or directory\)$/);
    expectOneLineError(runVmm(['boot', guestPath('vgatext.bin'), '--screen-dump', dir]), /cannot write the screen dump to '.*': EISDIR \(illegal operation on a directory\)$/);
  });
});

describe('bad drives', () => {
  const disk = () => file('disk.img', new Array(4096).fill(0));
  const boot = (...drive: string[]) => runVmm(['boot', guestPath('bootsector.bin'), '--no-stdin', ...drive]);

  it('an unknown key, a format other than raw, an interface other than IDE', () => {
    expectOneLineError(boot('--drive', `file=${disk()},cache=none`), /--drive '.*disk\.img,cache=none': unknown key 'cache'; the keys are file, format, readonly, if, index, media$/);
    expectOneLineError(boot('--drive', `file=${disk()},format=qcow2`), /format 'qcow2' is not supported; only raw images are/);
    expectOneLineError(boot('--drive', `file=${disk()},if=virtio`), /if=virtio is not supported; drives are IDE disks/);
    expectOneLineError(boot('--drive', `file=${disk()},readonly=maybe`), /readonly takes on or off, not 'maybe'/);
    expectOneLineError(boot('--drive', `file=${disk()},file=${disk()}`), /file is given twice/);
  });

  it('no file, a missing file, a directory, a file smaller than a sector', () => {
    expectOneLineError(boot('--drive', 'format=raw'), /--drive 'format=raw': no file=PATH$/);
    expectOneLineError(boot('--drive', `file=${join(dir, 'nope.img')},format=raw`), /cannot open drive image '.*nope\.img': no such file$/);
    expectOneLineError(boot('--drive', `file=${dir}`), /cannot open drive image '.*': it is a directory$/);
    expectOneLineError(boot('-hda', file('tiny.img', [1, 2, 3])), /cannot open drive image '.*tiny\.img': it is 3 bytes, smaller than one sector/);
  });

  it('a CD-ROM', () => {
    expectOneLineError(boot('--drive', `file=${disk()},media=cdrom`), /media=cdrom is not supported yet/);
  });

  it('more than four drives, an index taken twice or off the controller, one file behind two writable drives', () => {
    const drives = [0, 1, 2, 3, 4].flatMap((i) => ['--drive', `file=${file(`d${i}.img`, new Array(512).fill(i))}`]);
    expectOneLineError(boot(...drives), /5 drives given; the IDE controller takes at most 4/);
    expectOneLineError(
      boot('--drive', `file=${file('a.img', new Array(512).fill(0))},index=1`, '--drive', `file=${file('b.img', new Array(512).fill(0))},index=1`),
      /drive index 1 is taken by '.*a\.img' already \('.*b\.img' asks for it too\)$/,
    );
    expectOneLineError(boot('-hda', disk(), '--drive', `file=${file('c.img', new Array(512).fill(0))},index=0`), /drive index 0 is taken/);
    expectOneLineError(boot('--drive', `file=${disk()},index=4`), /index 4 is not a place on the IDE controller: give 0 to 3/);
    expectOneLineError(boot('--drive', `file=${disk()}`, '--drive', `file=${disk()}`), /is behind two drives, and a drive may write it/);
  });

  it('takes good drives: the guest runs', () => {
    const image = disk();
    const run = boot('--drive', `file=${image},format=raw,if=ide,index=2,media=disk,readonly=on`, '--drive', `file=${image},readonly`, '-hdb', file('e.img', new Array(1024).fill(0)));
    expect(run.stderr).not.toMatch(/error/);
    expect(run.stdout).toMatch(/Hello from a real-mode boot sector/);
  });
});

describe('misbehaving guests end with a report', () => {
  const flat = (name: string, code: number[]) => [
    'boot', file(name, code), '--format', 'flat', '--load-address', '0x100000', '--bits', '32', '--no-stdin',
  ];

  it('a wild jump outside RAM', () => {
    // mov eax, 0x7fff0000 ; jmp eax
    const run = runVmm([...flat('wild.bin', [0xb8, 0x00, 0x00, 0xff, 0x7f, 0xff, 0xe0]), '-m', '16']);
    expect(run.status).toBe(4);
    expect(run.stderr).toMatch(/guest stopped at 0008:7fff0000: instruction fetch from physical address 0x7fff0000, where there is no RAM \(a wild jump/);
    expect(run.stderr).not.toMatch(/\n\s+at /);
  });

  it('a runaway loop stops at the wall-clock limit', () => {
    const run = runVmm([...flat('spin.bin', [0xeb, 0xfe]), '--time-limit', '0.3']);
    expect(run.status).toBe(6);
    expect(run.stderr).toMatch(/wall-clock limit of 0.3 s reached; guest was running at 0008:00100000/);
    expect(exitCounts(run.stderr).timeslice).toBeGreaterThan(0);
  });

  it('a guest that never stops doing I/O stops at the exit limit', () => {
    // out 0x80, al ; jmp back
    const run = runVmm([...flat('io.bin', [0xe6, 0x80, 0xeb, 0xfc]), '--max-exits', '1000']);
    expect(run.status).toBe(6);
    expect(run.stderr).toMatch(/stopped after 1000 exits \(--max-exits\)/);
  });

  it('a guest without an IDT that faults triple-faults, and the report names the first exception', () => {
    // mov ax, 0x1234 ; mov ds, ax  -> #GP(0x1234) with no IDT: #GP -> #DF -> shutdown
    const run = runVmm(flat('gp.bin', [0x66, 0xb8, 0x34, 0x12, 0x8e, 0xd8]));
    expect(run.status).toBe(4);
    expect(run.stderr).toMatch(/guest triple-faulted at 0008:00100004: .*\(while delivering #GP\(0x1234\)\)/);
  });
});
