// Whether a soak run passed, and if not, the one line that tells its failure apart from others.
// Pure: works on what a `vmm boot` child printed, so it is tested without booting anything.
import type { GuestRun } from './guest-run.js';

/** What a passing run of a guest looks like. */
export interface Expectation {
  /** vmm's exit status for a run that ended as it should (see the README's exit status table). */
  status: number;
  /** Undefined when the console output is right; otherwise what is wrong with it, in one line. */
  checkConsole(lines: readonly string[]): string | undefined;
}

/**
 * Console lines that mean trouble whatever the guest, most telling first: the kernel's own
 * reports (they name the address and the instruction), then what the guest's checks and its
 * shell saw.
 */
const KERNEL_TROUBLE = [
  /segfault at /,
  /\btraps: /,
  /general protection fault/,
  /invalid opcode/,
  /Unable to handle kernel/,
  /double fault/,
  /\bBUG: /,
  /\bOops\b/,
  /Kernel panic/,
];
const GUEST_TROUBLE = [/^FAILED: /, /^VMM-WORKLOAD-FAIL\b/, /Segmentation fault/, /Illegal instruction/, /Bus error/];

/** The guest's console as lines: the Linux serial console's CRLF folded, kernel timestamps dropped. */
export function consoleLines(stdout: string): string[] {
  const lines = stdout.replaceAll('\r\n', '\n').replaceAll('\r', '\n').split('\n');
  if (lines.at(-1) === '') lines.pop();
  // "[   12.345678] " differs in every run; without it, equal failures read as equal.
  return lines.map((line) => line.replace(/^\[\s*\d+\.\d+\] /, ''));
}

/** The first line of the most telling kind of trouble, if any. */
export function firstTroubleLine(lines: readonly string[]): string | undefined {
  for (const kind of [KERNEL_TROUBLE, GUEST_TROUBLE]) {
    const found = lines.find((line) => kind.some((pattern) => pattern.test(line)));
    if (found !== undefined) return found;
  }
  return undefined;
}

/**
 * What two failures must share to count as the same: the line without what differs from run to
 * run for the same fault (process ids, the randomised user stack pointer).
 */
export function failureKind(line: string): string {
  return line.replace(/\[\d+\]/g, '[…]').replace(/\bsp([: ])[0-9a-f]+/g, 'sp$1…');
}

/**
 * Why vmm says the run ended: its line just before the summary (`vmm: engine=...`); the trap
 * engine's equivalence report follows the summary and is never the reason. Without a summary
 * (vmm itself failed) its error line, or the last line it wrote.
 */
export function vmmEndLine(stderr: string): string | undefined {
  const lines = stderr.split('\n').filter((line) => line.trim() !== '');
  const summary = lines.findIndex((line) => line.startsWith('vmm: engine='));
  if (summary > 0) return lines[summary - 1];
  return lines.find((line) => /^vmm: (internal )?error/.test(line)) ?? lines.at(-1);
}

function statusText(run: GuestRun): string {
  return run.status !== null ? `exit status ${run.status}` : `ended by ${run.signal ?? 'an unknown cause'}`;
}

/** Undefined when the run passed; otherwise its first distinguishing line. */
export function failureLine(run: GuestRun, expected: Expectation): string | undefined {
  const lines = consoleLines(run.stdout);
  // The guest's complaint comes before everything that follows from it (a panic that reboots ends
  // with status 0, so the status alone would miss it).
  const trouble = firstTroubleLine(lines);
  if (trouble !== undefined) return trouble;
  if (run.killed) return `no exit ${Math.round(run.seconds)} s after start: killed (last console line: ${JSON.stringify(lines.at(-1) ?? '')})`;
  if (run.status !== expected.status) {
    const end = vmmEndLine(run.stderr);
    return end !== undefined ? `${end} [${statusText(run)}]` : statusText(run);
  }
  return expected.checkConsole(lines);
}

/** A console check for guests whose output is fixed: the first line that differs. */
export function exactLines(want: readonly string[]): (lines: readonly string[]) => string | undefined {
  return (lines) => {
    for (let i = 0; i < Math.max(want.length, lines.length); i++) {
      if (lines[i] === want[i]) continue;
      if (lines[i] === undefined) return `output ends before line ${i + 1} (${JSON.stringify(want[i])})`;
      if (want[i] === undefined) return `extra line ${i + 1}: ${JSON.stringify(lines[i])}`;
      return `line ${i + 1}: ${JSON.stringify(lines[i])}, want ${JSON.stringify(want[i])}`;
    }
    return undefined;
  };
}

/** A console check for guests that print one pass line among others (a kernel's log). */
export function passLine(want: string): (lines: readonly string[]) => string | undefined {
  return (lines) =>
    lines.includes(want) ? undefined : `no ${JSON.stringify(want)} line; last console line: ${JSON.stringify(lines.at(-1) ?? '')}`;
}

/** A console check for guests that check themselves and end with a pass line. */
export function lastLine(want: string): (lines: readonly string[]) => string | undefined {
  return (lines) => {
    const last = lines.at(-1);
    if (last === want) return undefined;
    return last === undefined ? `no output (want ${JSON.stringify(want)})` : `last line ${JSON.stringify(last)}, want ${JSON.stringify(want)}`;
  };
}
