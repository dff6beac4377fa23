// The Markdown report of `vmm bench compare`: the heading facts, then a table per kind of
// benchmark (rows: benchmarks; columns: the run's columns in order), each cell the median with
// its min–max and the exits, VMM calls and ratio to direct, an unmeasured cell its status with a
// footnote saying why. Plain text that reads in a terminal and renders as tables where Markdown
// does (a README, a pull request), and a pure function of the result set: the same results give
// the same bytes.
import type { CompareResults } from '../results.js';
import { Footnotes, superscript } from './footnotes.js';
import { headingFacts } from './heading-facts.js';
import { TABLE_TITLES, tableView, type CellView, type TableView } from './table-view.js';

/** Backslash-escapes what Markdown would read as markup, and folds line breaks. */
function text(value: string): string {
  return value.replace(/\s*\n\s*/g, ' ').replace(/[\\`*_[\]<>|]/g, (c) => `\\${c}`);
}

/** A code span that holds any text: a fence longer than the longest run of backticks inside. */
function code(value: string): string {
  const line = value.replace(/\s*\n\s*/g, ' ');
  const longest = Math.max(0, ...(line.match(/`+/g) ?? []).map((run) => run.length));
  const fence = '`'.repeat(longest + 1);
  const pad = line.startsWith('`') || line.endsWith('`') ? ' ' : '';
  return `${fence}${pad}${line}${pad}${fence}`;
}

function cell(view: CellView): string {
  if (view.status !== 'ok') return `${view.status}${superscript(view.note)}`;
  return [`${view.value} (${view.spread})`, ...view.details].join(' · ');
}

function table(view: TableView): string[] {
  if (view.rows.length === 0) return [`## ${TABLE_TITLES[view.kind]}`, '', 'None in this run.'];
  const row = (cells: string[]) => `| ${cells.join(' | ')} |`;
  return [
    `## ${TABLE_TITLES[view.kind]}`,
    '',
    row(['benchmark', ...view.columns.map(text)]),
    row(['---', ...view.columns.map(() => '--:')]),
    ...view.rows.map((r) => row([text(r.benchmark), ...r.cells.map(cell)])),
    // A blank line after each note, so that each renders as a paragraph of its own.
    ...view.notes.flatMap((n) => ['', `${superscript(n.number)} ${text(n.text)}`]),
    '',
    ...view.rows.map((r) => `- **${text(r.benchmark)}**: ${text(r.description)}`),
  ];
}

export function markdownReport(results: CompareResults): string {
  const heading = headingFacts(results);
  const notes = new Footnotes();
  const lines = [
    `# ${text(heading.title)}`,
    '',
    ...heading.facts.map(([label, value]) => `- ${label}: ${text(value)}`),
    `- command: ${code(heading.command)}`,
    '',
    ...table(tableView(results, 'nano', notes)),
    '',
    ...table(tableView(results, 'macro', notes)),
  ];
  return `${lines.join('\n')}\n`;
}
