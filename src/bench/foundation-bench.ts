// The foundation benchmark: a compute-bound guest under vmm and under qemu-system-i386 (the same
// TCG translator Unicorn embeds), each timed as a whole process with its fixed start-up cost
// (measured with the empty guest) subtracted; and the cost of one port-I/O exit round trip into
// TypeScript, measured in-process on a guest that does nothing but OUT.
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { planImage } from '../boot/detect.js';
import { DirectEngine } from '../engines/direct.js';
import { Machine } from '../vmm/machine.js';
import { runMachine } from '../vmm/run-loop.js';
import { projectRoot } from '../util/project-root.js';
import { median } from './stats.js';
import { timedRun } from './timed-process.js';

export interface FoundationBenchOptions {
  runs: number;
  iterations: number;
  portWrites: number;
  log: (line: string) => void;
}

const QEMU = 'qemu-system-i386';

/** A benchmark that cannot produce a fair figure says why, in one line. */
export class BenchError extends Error {}

function guest(name: string): string {
  const path = join(projectRoot(), 'guests', 'build', name);
  if (!existsSync(path)) throw new BenchError(`guest ${name} is not built: run scripts/setup.sh`);
  return path;
}

function qemuArgs(kernel: string, append: string): string[] {
  return [
    '-M', 'pc', '-accel', 'tcg', '-m', '64', '-display', 'none', '-nodefaults', '-no-reboot',
    '-serial', 'stdio', '-device', 'isa-debug-exit,iobase=0xf4,iosize=0x04',
    '-kernel', kernel, '-append', append,
  ];
}

function vmmArgs(kernel: string, append: string): string[] {
  return [join(projectRoot(), 'dist', 'src', 'cli', 'vmm.js'), 'boot', kernel, '--no-stdin', '-m', '64', '-a', append];
}

function checksumOf(output: string): string {
  return /checksum (\S+)/.exec(output)?.[1] ?? '(none)';
}

export async function foundationBench(options: FoundationBenchOptions): Promise<void> {
  const { log, runs } = options;
  const compute = guest('compute.elf');
  const empty = guest('empty.elf');
  const append = `iterations=${options.iterations}`;
  const timeout = 600;

  log(`compute guest: ${options.iterations} iterations, ${runs} runs each, median wall time`);
  const samples = { qemu: [] as number[], qemuEmpty: [] as number[], vmm: [] as number[], vmmEmpty: [] as number[] };
  let qemuChecksum = '';
  let vmmChecksum = '';
  for (let i = 0; i < runs; i++) {
    samples.qemuEmpty.push(timedRun(QEMU, qemuArgs(empty, ''), timeout).seconds);
    const q = timedRun(QEMU, qemuArgs(compute, append), timeout);
    samples.qemu.push(q.seconds);
    qemuChecksum = checksumOf(q.stdout);
    samples.vmmEmpty.push(timedRun(process.execPath, vmmArgs(empty, ''), timeout).seconds);
    const v = timedRun(process.execPath, vmmArgs(compute, append), timeout);
    if (v.status !== 1) throw new BenchError(`vmm compute run ended with status ${v.status}: ${v.stderr.trim()}`);
    samples.vmm.push(v.seconds);
    vmmChecksum = checksumOf(v.stdout);
  }
  if (qemuChecksum !== vmmChecksum) throw new BenchError(`checksums differ: qemu ${qemuChecksum}, vmm ${vmmChecksum}`);
  const qemuWork = median(samples.qemu) - median(samples.qemuEmpty);
  const vmmWork = median(samples.vmm) - median(samples.vmmEmpty);
  log(`  qemu-system-i386 (TCG): ${median(samples.qemu).toFixed(3)} s total, start-up and firmware ${median(samples.qemuEmpty).toFixed(3)} s, workload ${qemuWork.toFixed(3)} s`);
  log(`  vmm --engine direct:    ${median(samples.vmm).toFixed(3)} s total, start-up ${median(samples.vmmEmpty).toFixed(3)} s, workload ${vmmWork.toFixed(3)} s`);
  log(`  checksum ${vmmChecksum} under both`);
  log(`  ratio vmm/qemu (workload): ${(vmmWork / qemuWork).toFixed(3)}`);

  log(`port I/O: ${options.portWrites} OUTs to port 0x80, in-process, ${runs} runs`);
  const perExit: number[] = [];
  for (let i = 0; i < runs; i++) {
    const machine = new Machine({ ramBytes: 64 << 20, consoleOutput: () => {} });
    try {
      machine.load(planImage(new Uint8Array(readFileSync(guest('portio.elf'))), { ramSize: 64 << 20, cmdline: `writes=${options.portWrites}` }));
      const result = await runMachine(machine, new DirectEngine(), { timeLimitSeconds: timeout, maxExits: Infinity });
      perExit.push((result.guestSeconds * 1e6) / result.exits['io-out']);
    } finally {
      machine.close();
    }
  }
  log(`  one port-I/O exit round trip into TypeScript: ${median(perExit).toFixed(3)} µs (median)`);
}
