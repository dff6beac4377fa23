// The soak's output: a line per finished run while it goes, then runs and failures per guest and
// engine, each failure's distinguishing line, and a last line a script can read:
// `soak: N runs, M failures`. Pure, so its shape is tested without booting anything.
import { median } from '../bench/stats.js';
import type { PlannedRun } from './soak-plan.js';
import { failureKind } from './verdict.js';

export interface RunResult {
  run: PlannedRun;
  seconds: number;
  /** Undefined for a passing run. */
  failure: string | undefined;
}

function cellName(run: PlannedRun): string {
  return `${run.guest}/${run.engine}`;
}

export function progressLine(result: RunResult, total: number): string {
  const width = String(total).length;
  const position = `[${String(result.run.index).padStart(width)}/${total}]`;
  const verdict = result.failure === undefined ? 'ok  ' : 'FAIL';
  const line = `${position} ${cellName(result.run).padEnd(16)} ${verdict} ${result.seconds.toFixed(1).padStart(6)} s`;
  return result.failure === undefined ? line : `${line}  ${result.failure}`;
}

export function soakSummaryLine(results: readonly RunResult[]): string {
  const failures = results.filter((result) => result.failure !== undefined).length;
  return `soak: ${results.length} runs, ${failures} failures`;
}

/** 0 only when every finished run passed (and at least one finished). */
export function soakExitStatus(results: readonly RunResult[], interrupted: boolean): number {
  if (results.some((result) => result.failure !== undefined)) return 1;
  // An interrupted soak without failures has not shown that there are none: 130, as for SIGINT.
  if (interrupted) return 130;
  return results.length > 0 ? 0 : 1;
}

/**
 * The report after the runs: a table per guest and engine (in the order given, not the order
 * they ran), the failures, the summary line.
 */
export function reportLines(
  order: { guests: readonly string[]; engines: readonly string[] },
  plan: readonly PlannedRun[],
  results: readonly RunResult[],
  interrupted: boolean,
): string[] {
  const planned = new Set(plan.map(cellName));
  const cells = order.guests.flatMap((guest) => order.engines.map((engine) => `${guest}/${engine}`)).filter((cell) => planned.has(cell));
  const byCell = (cell: string) => results.filter((result) => cellName(result.run) === cell);
  const rows = cells.map((cell) => {
    const [guest, engine] = cell.split('/');
    const done = byCell(cell);
    const failed = done.filter((result) => result.failure !== undefined).length;
    return [guest, engine, String(done.length), String(failed), done.length ? `${median(done.map((r) => r.seconds)).toFixed(1)} s` : '-'];
  });
  const header = ['guest', 'engine', 'runs', 'failures', 'median'];
  const widths = header.map((title, i) => Math.max(title.length, ...rows.map((row) => row[i].length)));
  const format = (row: string[]) =>
    row.map((cellText, i) => (i < 2 ? cellText.padEnd(widths[i]) : cellText.padStart(widths[i]))).join('  ').trimEnd();
  const lines = ['', format(header), ...rows.map(format)];

  const failed = results.filter((result) => result.failure !== undefined);
  if (failed.length > 0) {
    lines.push('', 'failures (first distinguishing line; runs that failed the same way are counted together):');
    for (const cell of cells) {
      // Failures of one kind together, in the order each kind first appeared, shown by its first line.
      const groups = new Map<string, { line: string; runs: number[] }>();
      for (const result of failed.filter((r) => cellName(r.run) === cell).sort((a, b) => a.run.index - b.run.index)) {
        const line = result.failure as string;
        const group = groups.get(failureKind(line)) ?? { line, runs: [] };
        group.runs.push(result.run.index);
        groups.set(failureKind(line), group);
      }
      for (const { line, runs } of groups.values()) {
        lines.push(`  ${cell} ×${runs.length} (run${runs.length > 1 ? 's' : ''} ${runs.join(', ')}): ${line}`);
      }
    }
  }
  if (interrupted) {
    lines.push('', `soak: interrupted; ${plan.length - results.length} of ${plan.length} planned runs not done`);
  }
  lines.push(soakSummaryLine(results));
  return lines;
}
