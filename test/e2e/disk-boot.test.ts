// PC firmware booting from IDE disks, images nobody here wrote (scripts/build-disk-image.sh):
// a classic boot sector that prints through INT 10h and writes the VGA text buffer, and Debian's
// Linux loaded by syslinux from a FAT partition, which then finds the disk through ata_piix,
// reads a file from it and writes one that the host finds in the image afterwards.
import { execFileSync } from 'node:child_process';
import { copyFileSync, mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { unmodifiedGuestEngines } from '../../src/engines/index.js';
import { ROOT, runVmmAsync } from './run-vmm.js';

const dir = mkdtempSync(join(tmpdir(), 'vmm-disk-boot-'));
/** The engines that run unmodified guests (the paravirt engine runs only kernels written for it). */
const engines = unmodifiedGuestEngines;
const BIOS_HELLO = join(ROOT, 'guests', 'build', 'bios-hello.img');
const LINUX_DISK = join(ROOT, 'guests', 'images', 'linux-disk.img');
/** The FAT partition starts at 1 MiB (guests/README.md). */
const PARTITION = '@@1M';

/** A copy of an image: a boot may write to its disk. */
function copyOf(image: string, name: string): string {
  const copy = join(dir, name);
  copyFileSync(image, copy);
  return copy;
}

describe('a boot sector through SeaBIOS', () => {
  it.each(engines)('under %s: INT 10h prints on the serial console and the screen holds its text', async (engine) => {
    const screen = join(dir, `screen-${engine}.txt`);
    const disk = copyOf(BIOS_HELLO, `hello-${engine}.img`);
    const run = await runVmmAsync(['boot', '--bios', '--drive', `file=${disk},format=raw`, '-e', engine, '--no-stdin', '--screen-dump', screen, '--time-limit', '60'], 90);
    expect(run.stdout).toContain('Booting from Hard Disk...');
    expect(run.stdout).toContain('Hello from the BIOS');
    expect(run.stdout).toContain('boot drive 0x80');
    expect(run.stderr).toMatch(/^vmm: guest halted with interrupts disabled at 0000:00007c/m);
    expect(run.status).toBe(0);
    const lines = readFileSync(screen, 'utf8').split('\n');
    expect(lines[5]).toBe('VGA TEXT OK');
    expect(lines.some((line) => line.includes('Hello from the BIOS'))).toBe(true);
  });
});

describe('Linux from a disk: syslinux, then ata_piix', () => {
  it.each(engines)('under %s: boots, reads the FAT partition and writes a file the host finds', async (engine) => {
    const disk = copyOf(LINUX_DISK, `linux-${engine}.img`);
    const run = await runVmmAsync(['boot', '--bios', '--drive', `file=${disk},format=raw`, '-e', engine, '-m', '128', '--no-stdin', '--time-limit', '240'], 300);
    expect(run.stdout).toContain('SYSLINUX 6.04');
    expect(run.stdout).toContain('VMM-USERSPACE-READY');
    expect(run.stdout).toMatch(/^\s+8\s+1\s+31744 sda1\r?$/m);
    expect(run.stdout).toContain('VMM-DISK-READ Hello from the FAT partition of linux-disk.img');
    const wrote = /VMM-DISK-WROTE (written by boot [0-9a-f-]{36})/.exec(run.stdout);
    expect(wrote).not.toBeNull();
    expect(run.stdout).toContain('VMM-DISK-DONE');
    expect(run.stdout).not.toContain('VMM-WORKLOAD-FAIL');
    expect(run.stderr).toMatch(/^vmm: guest powered off \(ACPI S5\)$/m);
    expect(run.status).toBe(0);
    const onDisk = execFileSync('mtype', ['-i', `${disk}${PARTITION}`, '::WROTE.TXT'], { encoding: 'utf8' });
    expect(onDisk.trim()).toBe(wrote![1]);
  }, 320_000);
});
