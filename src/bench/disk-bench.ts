// Disk boot benchmark: PC firmware (SeaBIOS) booting from an IDE disk, under qemu-system-i386
// (TCG) and under vmm with each engine, interleaved in one invocation. Two measurements: the
// firmware's start-up until the boot sector's first line (a classic int 0x10 sector), and
// Debian's Linux booted by syslinux from a FAT partition to the userspace marker. Both sides
// boot the same image with the same firmware build (Debian's seabios), their serial consoles
// carrying what SeaBIOS's serial console and Linux print; each run gets a fresh copy of the image,
// since a Linux boot writes to it.
import { copyFileSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { EngineName } from '../vmm/engine.js';
import { BenchError } from './bench-error.js';
import { diskImages, vmmScript } from './bench-guest.js';
import { summaryIn } from './summary-line.js';
import { median } from './stats.js';
import { timeToMarker } from './time-to-marker.js';

export const BIOS_HELLO_MARKER = 'Hello from the BIOS';
const LINUX_MARKER = 'VMM-USERSPACE-READY';
const TIMEOUT_SECONDS = 300;

export interface DiskBenchOptions {
  runs: number;
  engines: readonly EngineName[];
  log: (line: string) => void;
}

interface Workload {
  what: string;
  image: string;
  marker: string;
}

export async function diskBench({ runs, engines, log }: DiskBenchOptions): Promise<void> {
  const images = diskImages();
  const workloads: Workload[] = [
    { what: `firmware start-up to the boot sector's first line ("${BIOS_HELLO_MARKER}")`, image: images.biosHello, marker: BIOS_HELLO_MARKER },
    { what: `Linux from the disk (syslinux, FAT) to "${LINUX_MARKER}"`, image: images.linuxDisk, marker: LINUX_MARKER },
  ];
  const scratch = mkdtempSync(join(tmpdir(), 'vmm-bench-disk-'));
  try {
    for (const workload of workloads) await measure(workload, scratch, runs, engines, log);
  } finally {
    rmSync(scratch, { recursive: true, force: true });
  }
}

async function measure(workload: Workload, scratch: string, runs: number, engines: readonly EngineName[], log: (line: string) => void): Promise<void> {
  const copy = join(scratch, 'disk.img');
  const drive = `file=${copy},format=raw`;
  const qemu = ['-M', 'pc', '-accel', 'tcg', '-m', '128', '-nographic', '-no-reboot', '-drive', `${drive},if=ide`];
  const vmm = (engine: EngineName) => [vmmScript(), 'boot', '--bios', '--drive', drive, '-m', '128', '--no-stdin', '--no-reboot', '--time-limit', String(TIMEOUT_SECONDS), '-e', engine];
  const qemuTimes: number[] = [];
  const vmmTimes = new Map<EngineName, number[]>(engines.map((engine) => [engine, []]));
  const summaries = new Map<EngineName, string>();
  log(`${workload.what}: 128 MiB, ${runs} round${runs === 1 ? '' : 's'} of ${engines.length + 1} boots, interleaved`);
  // A round boots each once: a change in the machine's load weighs on all of them alike.
  for (let i = 0; i < runs; i++) {
    try {
      copyFileSync(workload.image, copy);
      qemuTimes.push((await timeToMarker('qemu-system-i386', qemu, workload.marker, TIMEOUT_SECONDS, { endAtMarker: true })).seconds);
      for (const engine of engines) {
        copyFileSync(workload.image, copy);
        const run = await timeToMarker(process.execPath, vmm(engine), workload.marker, TIMEOUT_SECONDS, { endAtMarker: true });
        vmmTimes.get(engine)!.push(run.seconds);
        summaries.set(engine, summaryIn(run.stderr) ?? '(no summary line)');
      }
    } catch (error) {
      throw new BenchError((error as Error).message);
    }
  }
  const labels = ['qemu-system-i386 (TCG)', ...engines.map((engine) => `vmm --engine ${engine}`)];
  const width = Math.max(...labels.map((label) => label.length)) + 1;
  const times = (samples: readonly number[]) => `median ${median(samples).toFixed(3)} s  [${samples.map((t) => t.toFixed(3)).join(' ')}]`;
  log(`  ${`${labels[0]}:`.padEnd(width)} ${times(qemuTimes)}`);
  engines.forEach((engine, i) => log(`  ${`${labels[i + 1]}:`.padEnd(width)} ${times(vmmTimes.get(engine)!)}`));
  const q = median(qemuTimes);
  log(`  ratio vmm/qemu: ${engines.map((engine) => `${engine} ${(median(vmmTimes.get(engine)!) / q).toFixed(3)}`).join(', ')}`);
  for (const engine of engines) log(`    ${engine}: ${summaries.get(engine)}`);
}
