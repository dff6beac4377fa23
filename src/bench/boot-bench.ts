// Boot benchmark: Debian's Linux kernel with the busybox initramfs, to the userspace marker,
// under vmm and under qemu-system-i386 -kernel (TCG, the translator Unicorn embeds) in the same
// invocation. QEMU's time includes its firmware (SeaBIOS and the linuxboot option ROM); vmm
// boots the kernel directly, as Firecracker does.
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { projectRoot } from '../util/project-root.js';
import { BenchError } from './foundation-bench.js';
import { median } from './stats.js';
import { timeToMarker } from './time-to-marker.js';

const MARKER = 'VMM-USERSPACE-READY';

export interface BootBenchOptions {
  runs: number;
  log: (line: string) => void;
}

export async function bootBench({ runs, log }: BootBenchOptions): Promise<void> {
  const images = join(projectRoot(), 'guests', 'images');
  const kernel = join(images, 'vmlinuz');
  const initrd = join(images, 'initrd.gz');
  if (!existsSync(kernel) || !existsSync(initrd)) throw new BenchError('the Linux guest images are missing: run scripts/setup.sh');
  const vmm = [join(projectRoot(), 'dist', 'src', 'cli', 'vmm.js'), 'boot', '--kernel', kernel, '--initrd', initrd,
    '-a', 'console=ttyS0 panic=-1', '-m', '128', '--no-stdin', '--time-limit', '300'];
  const qemu = ['-M', 'pc', '-accel', 'tcg', '-m', '128', '-display', 'none', '-serial', 'stdio', '-no-reboot',
    '-kernel', kernel, '-initrd', initrd, '-append', 'console=ttyS0 panic=-1'];
  const vmmTimes: number[] = [];
  const qemuTimes: number[] = [];
  let summary = '';
  log(`Linux boot to "${MARKER}": Debian ${kernelVersion(images)}, 128 MiB, ${runs} runs each`);
  for (let i = 0; i < runs; i++) {
    try {
      const q = await timeToMarker('qemu-system-i386', qemu, MARKER, 300);
      qemuTimes.push(q.seconds);
      const v = await timeToMarker(process.execPath, vmm, MARKER, 300);
      vmmTimes.push(v.seconds);
      summary = v.stderr.split('\n').find((line) => line.startsWith('vmm: engine=')) ?? summary;
    } catch (error) {
      throw new BenchError((error as Error).message);
    }
  }
  const q = median(qemuTimes);
  const v = median(vmmTimes);
  log(`  qemu-system-i386 -kernel (TCG, with firmware): median ${q.toFixed(2)} s  [${qemuTimes.map((t) => t.toFixed(2)).join(' ')}]`);
  log(`  vmm --engine direct:                         median ${v.toFixed(2)} s  [${vmmTimes.map((t) => t.toFixed(2)).join(' ')}]`);
  log(`  ratio vmm/qemu: ${(v / q).toFixed(3)}`);
  log(`  exits of the last vmm run (to poweroff): ${summary.replace(/^vmm: /, '')}`);
}

function kernelVersion(images: string): string {
  try {
    const versions = readFileSync(join(images, 'VERSIONS'), 'utf8');
    return /vmlinuz (\S+ \S+)/.exec(versions)?.[1] ?? 'kernel';
  } catch {
    return 'kernel';
  }
}
