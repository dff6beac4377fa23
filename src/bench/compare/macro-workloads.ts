// The comparison's macro workloads: Debian's Linux with the initramfs's `compare` workload
// (guests/initramfs/workload-compare), booted once per column and repetition. The boot is timed
// from the start of the process to the first userspace line, and each workload from its
// VMM-BENCH-BEGIN line to its VMM-BENCH-END line, by when the lines reach the host: the same
// clock under every engine and under QEMU.
import { BenchError } from '../bench-error.js';
import { linuxImages, vmmScript } from '../bench-guest.js';
import { runWithLineTimes, type LineTimedRun } from '../line-times.js';
import { summaryCounters } from '../summary-line.js';

/** The workload's sizes (its vmm.* command-line settings). */
export interface MacroSizes {
  forks: number;
  loops: number;
  pages: number;
  passes: number;
}

export const DEFAULT_MACRO_SIZES: MacroSizes = { forks: 400, loops: 100000, pages: 4096, passes: 8 };
export const QUICK_MACRO_SIZES: MacroSizes = { forks: 50, loops: 10000, pages: 2048, passes: 1 };

export interface MacroWorkload {
  name: string;
  description: (sizes: MacroSizes) => string;
}

const thousands = (n: number) => n.toLocaleString('en-GB');

export const MACRO_WORKLOADS: readonly MacroWorkload[] = [
  { name: 'boot', description: () => 'Debian’s Linux from the start of the process to its first userspace line' },
  { name: 'forkwait', description: (s) => `${thousands(s.forks)} subshells forked, exited and waited for (the paper’s forkwait)` },
  { name: 'compute', description: (s) => `${thousands(s.loops)} rounds of shell arithmetic in user mode` },
  {
    name: 'pagefault',
    description: (s) =>
      `${s.passes === 1 ? 'a process' : `${s.passes} processes each`} filling a fresh ${(s.pages * 4) / 1024} MiB buffer: ${thousands(s.pages * s.passes)} page faults`,
  },
];

/** The column that runs the workloads under qemu-system-i386 (TCG) rather than a vmm engine. */
export const QEMU_COLUMN = 'qemu';

const READY = 'VMM-USERSPACE-READY';
const MEMORY_MIB = 128;
const TIMEOUT_SECONDS = 900;

function appendLine(sizes: MacroSizes): string {
  return `console=ttyS0 quiet panic=-1 vmm.workload=compare vmm.forks=${sizes.forks} vmm.loops=${sizes.loops} vmm.pages=${sizes.pages} vmm.passes=${sizes.passes}`;
}

/** The command that boots the workload under a column: a vmm engine, or QEMU_COLUMN. */
export function macroCommand(column: string, sizes: MacroSizes): { command: string; args: string[] } {
  const { kernel, initrd } = linuxImages();
  const append = appendLine(sizes);
  if (column === QEMU_COLUMN) {
    return {
      command: 'qemu-system-i386',
      args: ['-M', 'pc', '-accel', 'tcg', '-m', String(MEMORY_MIB), '-display', 'none', '-serial', 'stdio', '-no-reboot',
        '-kernel', kernel, '-initrd', initrd, '-append', append],
    };
  }
  return {
    command: process.execPath,
    args: [vmmScript(), 'boot', '--kernel', kernel, '--initrd', initrd, '-a', append, '-m', String(MEMORY_MIB), '--no-stdin', '--no-reboot', '-e', column],
  };
}

/** Seconds per workload name, and the VMM's exits over the whole run (absent under QEMU). */
export interface MacroSample {
  seconds: Record<string, number>;
  exits?: number;
}

/** The times of one run, from what it printed; a failed check or a missing line is a BenchError. */
export function macroSample(column: string, run: LineTimedRun): MacroSample {
  const at = (text: string) => run.lines.find((line) => line.text === text || line.text.startsWith(`${text} `))?.seconds;
  const failure = run.lines.find((line) => line.text.startsWith('VMM-WORKLOAD-FAIL'));
  if (failure) throw new BenchError(`the compare workload under ${column} failed: ${failure.text}`);
  const seconds: Record<string, number> = {};
  const ready = at(READY);
  if (ready === undefined) throw new BenchError(`Linux under ${column} never reached userspace (${READY}); status ${run.status}`);
  seconds.boot = ready;
  for (const { name } of MACRO_WORKLOADS.slice(1)) {
    const begin = at(`VMM-BENCH-BEGIN ${name}`);
    const end = at(`VMM-BENCH-END ${name}`);
    if (begin === undefined || end === undefined) throw new BenchError(`the ${name} workload under ${column} did not complete (status ${run.status})`);
    seconds[name] = end - begin;
  }
  if (!run.lines.some((line) => line.text === 'VMM-WORKLOAD-OK compare')) throw new BenchError(`the compare workload under ${column} did not report success`);
  return column === QEMU_COLUMN ? { seconds } : { seconds, exits: summaryCounters(run.stderr).exits };
}

export async function runMacro(column: string, sizes: MacroSizes): Promise<MacroSample> {
  const { command, args } = macroCommand(column, sizes);
  return macroSample(column, await runWithLineTimes(command, args, TIMEOUT_SECONDS));
}
