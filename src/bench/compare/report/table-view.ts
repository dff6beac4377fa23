// The compare reports' tables as text pieces, before any markup: which rows and columns, what
// each cell says. The Markdown and the HTML report lay out the same view, so the two always
// show the same numbers in the same words.
import type { BenchmarkKind, BenchmarkResult, Cell, Column, CompareResults, MeasuredCell } from '../results.js';
import { Footnotes, type Footnote } from './footnotes.js';
import { formatPerOp, formatRatio, formatTotal, formatValue } from './number-format.js';

export type CellView =
  | {
      status: 'ok';
      /** Median with its unit: "452 ns". */
      value: string;
      /** "441–470" */
      spread: string;
      /** "1.00 exits", "2.00 VMM calls", "868×", those present, in that order. */
      details: string[];
    }
  | { status: 'unfaithful' | 'not-applicable' | 'failed'; note: number };

export interface RowView {
  benchmark: string;
  description: string;
  cells: CellView[];
}

export interface TableView {
  kind: BenchmarkKind;
  columns: Column[];
  rows: RowView[];
  /** The notes this table's cells introduced (earlier tables' notes are not repeated). */
  notes: Footnote[];
}

function measuredView(cell: MeasuredCell, benchmark: BenchmarkResult): CellView {
  // A nanobenchmark's counts are averages per operation, a workload's are totals.
  const count = benchmark.kind === 'nano' ? formatPerOp : formatTotal;
  const details: string[] = [];
  if (cell.exitsPerOp !== undefined) details.push(`${count(cell.exitsPerOp)} exits`);
  if (cell.vmmCallsPerOp !== undefined) details.push(`${count(cell.vmmCallsPerOp)} VMM calls`);
  if (cell.ratio !== undefined) details.push(formatRatio(cell.ratio));
  return {
    status: 'ok',
    value: `${formatValue(cell.median)} ${benchmark.unit}`,
    spread: `${formatValue(cell.min)}–${formatValue(cell.max)}`,
    details,
  };
}

function cellView(cell: Cell, column: Column, benchmark: BenchmarkResult, notes: Footnotes): CellView {
  if (cell.status === 'ok') return measuredView(cell, benchmark);
  return { status: cell.status, note: notes.number(`${column}: ${cell.reason}`) };
}

/** The table of one kind of benchmark; `notes` numbers the reasons across the whole report. */
export function tableView(results: CompareResults, kind: BenchmarkKind, notes: Footnotes): TableView {
  const before = notes.count;
  const rows = results.benchmarks
    .filter((b) => b.kind === kind)
    .map((b) => ({
      benchmark: b.name,
      description: b.description,
      cells: results.columns.map((column) => cellView(b.cells[column], column, b, notes)),
    }));
  return { kind, columns: results.columns, rows, notes: notes.since(before) };
}

/** One line for a tooltip or a screen reader: "trap, cli-sti: 452 ns (441–470), 1.00 exits, 868×". */
export function cellSummary(view: CellView, benchmark: string, column: Column): string {
  const head = `${column}, ${benchmark}`;
  if (view.status !== 'ok') return `${head}: ${view.status}`;
  return [`${head}: ${view.value} (${view.spread})`, ...view.details].join(', ');
}

export const TABLE_TITLES: Record<BenchmarkKind, string> = {
  nano: 'Nanobenchmarks (ns per operation)',
  macro: 'Macro workloads (seconds per workload)',
};
