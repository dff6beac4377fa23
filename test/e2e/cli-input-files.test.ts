// Images and initrds that are not regular files, or are too large for the guest, are refused
// before they are read; a cut or damaged kernel is refused with a message that says so.
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { guestPath, ROOT, runVmm, type VmmRun } from './run-vmm.js';

const dir = mkdtempSync(join(tmpdir(), 'vmm-cli-input-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const vmlinuz = join(ROOT, 'guests', 'images', 'vmlinuz');

function expectOneLineError(run: VmmRun, message: RegExp): void {
  expect(run.status).toBe(2);
  expect(run.stdout).toBe('');
  const lines = run.stderr.trimEnd().split('\n');
  expect(lines).toEqual([expect.stringMatching(/^vmm: error: /)]);
  expect(lines[0]).toMatch(message);
}

describe('input files', () => {
  it('/dev/zero as the image is refused at once', () => {
    expectOneLineError(runVmm(['boot', '/dev/zero', '--no-stdin'], 15), /cannot read image '\/dev\/zero': it is a character device, not a regular file$/);
  });

  it('/dev/zero as the initrd (a multiboot kernel\'s first module) is refused at once', () => {
    expectOneLineError(
      runVmm(['boot', guestPath('multiboot.elf'), '--initrd', '/dev/zero', '--no-stdin'], 15),
      /cannot read module 1 '\/dev\/zero': it is a character device, not a regular file$/,
    );
  });

  it('a FIFO is refused without waiting for a writer', () => {
    const fifo = join(dir, 'fifo');
    execFileSync('mkfifo', [fifo]);
    expectOneLineError(runVmm(['boot', fifo, '--no-stdin'], 15), /cannot read image '.*fifo': it is a pipe \(FIFO\), not a regular file$/);
  });

  it('a 3 GiB file is refused by its size, not read', () => {
    const big = join(dir, 'big.img');
    execFileSync('truncate', ['-s', '3G', big]);
    try {
      expectOneLineError(
        runVmm(['boot', big, '--no-stdin'], 15),
        /image '.*big\.img' is 3221225472 bytes, more than the guest's 64 MiB of RAM could hold \(-m sets the RAM size\)$/,
      );
      expectOneLineError(
        runVmm(['boot', guestPath('multiboot.elf'), '--initrd', big, '-m', '512', '--no-stdin'], 15),
        /module 1 '.*big\.img' is 3221225472 bytes, more than the guest's 512 MiB of RAM could hold/,
      );
    } finally {
      rmSync(big);
    }
  });
});

describe.skipIf(!existsSync(vmlinuz))('damaged kernels', () => {
  it('a bzImage cut at 1 MiB is refused as truncated', () => {
    const cut = join(dir, 'vmlinuz-1m');
    writeFileSync(cut, readFileSync(vmlinuz).subarray(0, 1 << 20));
    expectOneLineError(
      runVmm(['boot', '--kernel', cut, '-m', '128', '--no-stdin', '--time-limit', '20']),
      /truncated bzImage: the protected-mode kernel is \d+ bytes \(syssize 0x[0-9a-f]+ at 0x1f4, in 16-byte units\) but the file has only \d+ after the \d+ setup sectors$/,
    );
  });

  it('a bzImage with a damaged "HdrS" is named a Linux kernel, not a disk image', () => {
    const damaged = readFileSync(vmlinuz);
    damaged[0x203] = 0x44; // "HDrS"
    const path = join(dir, 'vmlinuz-hdrs');
    writeFileSync(path, damaged);
    const message = /Linux kernel with a bad or missing setup header: the signature at 0x202 is "HDrS", not "HdrS"/;
    expectOneLineError(runVmm(['boot', path, '-m', '128', '--no-stdin']), message);
    expectOneLineError(runVmm(['boot', path, '--format', 'linux', '-m', '128', '--no-stdin']), message);
  });
});
