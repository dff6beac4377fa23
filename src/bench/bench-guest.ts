// Where the benchmarks find what they boot: the sample guests built by scripts/build-guests.sh
// and the Linux images fetched by scripts/fetch-guest-images.sh.
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { projectRoot } from '../util/project-root.js';
import { BenchError } from './bench-error.js';

/** A built sample guest (guests/build/NAME), or a one-line error naming the fix. */
export function builtGuest(name: string): string {
  const path = join(projectRoot(), 'guests', 'build', name);
  if (!existsSync(path)) throw new BenchError(`guest ${name} is not built: run scripts/setup.sh`);
  return path;
}

/** Debian's kernel and the test initramfs. */
export function linuxImages(): { kernel: string; initrd: string } {
  const images = join(projectRoot(), 'guests', 'images');
  const kernel = join(images, 'vmlinuz');
  const initrd = join(images, 'initrd.gz');
  if (!existsSync(kernel) || !existsSync(initrd)) throw new BenchError('the Linux guest images are missing: run scripts/setup.sh');
  return { kernel, initrd };
}

/** The script that runs `vmm` (a benchmark runs each guest in its own process). */
export function vmmScript(): string {
  return join(projectRoot(), 'dist', 'src', 'cli', 'vmm.js');
}

/** The disk images a firmware boots (scripts/build-disk-image.sh, scripts/build-guests.sh). */
export function diskImages(): { biosHello: string; linuxDisk: string } {
  const biosHello = join(projectRoot(), 'guests', 'build', 'bios-hello.img');
  const linuxDisk = join(projectRoot(), 'guests', 'images', 'linux-disk.img');
  if (!existsSync(biosHello) || !existsSync(linuxDisk)) throw new BenchError('the disk images are missing: run scripts/setup.sh');
  return { biosHello, linuxDisk };
}
