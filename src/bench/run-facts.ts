// Facts a benchmark report records about its own run: the machine, the versions, and the
// command as the user typed it, so that a figure can be reproduced and judged.
import { readFileSync } from 'node:fs';
import { cpus } from 'node:os';
import { isAbsolute, relative } from 'node:path';
import { nativeCore } from '../vmm/native.js';

/** A path as the user would type it from the current directory. */
export function shown(path: string): string {
  const rel = relative(process.cwd(), path);
  return rel && !rel.startsWith('..') && !isAbsolute(rel) ? rel : path;
}

export function quote(arg: string): string {
  return /^[\w./=:@%+,-]+$/.test(arg) ? arg : `'${arg.replace(/'/g, `'\\''`)}'`;
}

function commandLine(args: string[]): string {
  return args.map(quote).join(' ');
}

/** The command that started this benchmark, as typed (the script path made relative). */
export function ownCommandLine(): string {
  const [, script, ...rest] = process.argv;
  return commandLine([process.argv0, shown(script ?? ''), ...rest]);
}

/** The host CPU's model name, as /proc/cpuinfo gives it. */
export function cpuModel(): string {
  try {
    const model = /^model name\s*:\s*(.*)$/m.exec(readFileSync('/proc/cpuinfo', 'utf8'))?.[1]?.trim();
    if (model) return model;
  } catch {
    // Not Linux, or no /proc: Node's view below.
  }
  return cpus()[0]?.model ?? 'unknown CPU';
}

export function machineLine(): string {
  const hz = nativeCore().hostTscHz();
  return `${cpuModel()}, ${cpus().length} cores, host TSC ${(hz / 1e9).toFixed(3)} GHz, Unicorn ${nativeCore().unicornVersion}, Node ${process.version}`;
}

