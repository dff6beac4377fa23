// Boots through SeaBIOS, Debian's build (the firmware QEMU's PC machine runs): what the firmware
// prints on the serial console (its sercon, as under `qemu-system-i386 -nographic`) and how the
// run ends.
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { unmodifiedGuestEngines } from '../../src/engines/index.js';
import { runVmm, runVmmAsync } from './run-vmm.js';

const dir = mkdtempSync(join(tmpdir(), 'vmm-firmware-'));
/** The engines that run unmodified guests (the paravirt engine runs only kernels written for it). */
const engines = unmodifiedGuestEngines;

function expectOneLineError(run: { status: number | null; stderr: string }, message: RegExp) {
  expect(run.status).toBe(2);
  const lines = run.stderr.trimEnd().split('\n');
  expect(lines).toHaveLength(1);
  expect(lines[0]).toMatch(message);
}

describe('SeaBIOS with nothing to boot', () => {
  it.each(engines)('under %s: the firmware says so and the run ends with status 8', async (engine) => {
    const log = join(dir, `firmware-${engine}.log`);
    const run = await runVmmAsync(['boot', '--bios', '-e', engine, '--no-stdin', '--firmware-log', log, '--time-limit', '60'], 90);
    expect(run.stdout).toContain('SeaBIOS (version 1.16');
    expect(run.stdout).toContain('Booting from Hard Disk...');
    expect(run.stdout).toContain('No bootable device.');
    expect(run.stderr).toMatch(/^vmm: the firmware found no bootable device \(it tried: Floppy, Hard Disk\) \(status 8\)$/m);
    expect(run.status).toBe(8);
  });
});

describe('bad firmware input', () => {
  it('a missing firmware file', () => {
    expectOneLineError(runVmm(['boot', '--firmware', join(dir, 'none.bin'), '--no-stdin']), /cannot read firmware '.*none\.bin': no such file$/);
  });

  it('a file that is no firmware image', () => {
    const odd = join(dir, 'odd.bin');
    writeFileSync(odd, new Uint8Array(1000));
    expectOneLineError(runVmm(['boot', '--firmware', odd, '--no-stdin']), /a firmware image is a whole number of 64 KiB blocks/);
    const blank = join(dir, 'blank.bin');
    writeFileSync(blank, new Uint8Array(65536));
    expectOneLineError(runVmm(['boot', '--firmware', blank, '--no-stdin']), /not a firmware image: nothing at its reset vector/);
  });

  it('kernel options with firmware, and firmware options without it', () => {
    expectOneLineError(runVmm(['boot', '--bios', '--kernel', 'x', '--append', 'y', '--no-stdin']), /--kernel, --append: the firmware loads what it boots/);
    expectOneLineError(runVmm(['boot', '--boot', 'c', '--no-stdin']), /--boot applies to a boot through firmware/);
    expectOneLineError(runVmm(['boot', '--firmware-log', join(dir, 'l'), '--no-stdin']), /--firmware-log applies to a boot through firmware/);
  });

  it('a boot order that names no device, or one twice', () => {
    expectOneLineError(runVmm(['boot', '--bios', '--boot', 'order=cx', '--no-stdin']), /--boot: boot order 'cx': 'x' is not a boot device/);
    expectOneLineError(runVmm(['boot', '--bios', '--boot', 'cc', '--no-stdin']), /'c' is given twice/);
    expectOneLineError(runVmm(['boot', '--bios', '--boot', 'order=cadn', '--no-stdin']), /give one to 3 of the letters/);
  });
});
