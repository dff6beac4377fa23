// The HTML report of `vmm bench compare`: one self-contained page (inline CSS and SVG, no script,
// nothing fetched, so it opens offline and can be mailed or attached as it is) with the heading
// facts, a chart per kind of benchmark in the style of Adams and Agesen's Figure 4 (log-scale
// bars, one group per benchmark, one colour per column) and the Markdown report's tables. Every
// text from the result set is escaped. A pure function of the result set.
import { escapeHtml } from '../../../util/escape-html.js';
import type { BenchmarkKind, CompareResults } from '../results.js';
import { barChartSvg, type BarChart } from './bar-chart-svg.js';
import { Footnotes } from './footnotes.js';
import { headingFacts } from './heading-facts.js';
import { cellSummary, TABLE_TITLES, tableView, type CellView, type TableView } from './table-view.js';

/** Colours by column position (the Tableau 10 palette: distinct, and readable in grey print). */
const PALETTE = ['#4e79a7', '#f28e2b', '#e15759', '#76b7b2', '#59a14f', '#edc948', '#b07aa1', '#ff9da7', '#9c755f', '#bab0ac'];

const AXIS_TITLES: Record<BenchmarkKind, string> = {
  nano: 'ns per operation (log scale)',
  macro: 'seconds per workload (log scale)',
};

const STYLE = `
body { font: 14px/1.45 system-ui, sans-serif; color: #222; max-width: 1140px; margin: 0 auto; padding: 16px; }
h1 { font-size: 22px; margin: 0 0 8px; }
h2 { font-size: 18px; margin: 28px 0 8px; }
dl.facts { display: grid; grid-template-columns: max-content 1fr; gap: 2px 12px; margin: 0; }
dl.facts dt { color: #666; }
dl.facts dd { margin: 0; }
code { font: 13px ui-monospace, monospace; background: #f3f3f3; padding: 1px 4px; }
figure { margin: 8px 0; }
figcaption { color: #555; font-size: 13px; }
svg.chart { max-width: 100%; height: auto; font: 12px system-ui, sans-serif; }
svg .grid { stroke: #ccc; }
svg .minor { stroke: #eee; }
svg .axis { stroke: #444; }
svg .tick, svg .axis-title { fill: #444; }
svg .group { fill: #222; font-weight: 600; }
svg .marker { fill: #a33; font-size: 11px; font-style: italic; dominant-baseline: middle; }
table { border-collapse: collapse; margin: 12px 0; }
th, td { border: 1px solid #ddd; padding: 4px 8px; vertical-align: top; }
th { background: #f6f6f6; text-align: left; }
td.cell { text-align: right; white-space: nowrap; }
td.cell .spread, td.cell .details { color: #666; font-size: 12px; }
td.unmeasured { color: #a33; font-style: italic; text-align: center; }
ol.notes { font-size: 13px; color: #444; }
dl.operations dt { font-weight: 600; }
dl.operations dd { margin: 0 0 4px 16px; }
`;

function cell(view: CellView): string {
  if (view.status !== 'ok') {
    return `<td class="unmeasured">${escapeHtml(view.status)}<sup><a href="#note-${view.note}">${view.note}</a></sup></td>`;
  }
  const details = view.details.length ? `<br><span class="details">${escapeHtml(view.details.join(' · '))}</span>` : '';
  return `<td class="cell"><span class="value">${escapeHtml(view.value)}</span> <span class="spread">(${escapeHtml(view.spread)})</span>${details}</td>`;
}

function table(view: TableView): string[] {
  return [
    '<table>',
    `<thead><tr><th>benchmark</th>${view.columns.map((c) => `<th>${escapeHtml(c)}</th>`).join('')}</tr></thead>`,
    '<tbody>',
    ...view.rows.map((r) => `<tr><th>${escapeHtml(r.benchmark)}</th>${r.cells.map(cell).join('')}</tr>`),
    '</tbody>',
    '</table>',
  ];
}

function notes(view: TableView): string[] {
  if (!view.notes.length) return [];
  return [
    `<ol class="notes" start="${view.notes[0].number}">`,
    ...view.notes.map((n) => `<li id="note-${n.number}">${escapeHtml(n.text)}</li>`),
    '</ol>',
  ];
}

function operations(view: TableView): string[] {
  return [
    '<dl class="operations">',
    ...view.rows.map((r) => `<dt>${escapeHtml(r.benchmark)}</dt><dd>${escapeHtml(r.description)}</dd>`),
    '</dl>',
  ];
}

/** The chart of one table; a column none of whose cells applies to this kind is left out (and said). */
function chart(results: CompareResults, view: TableView): { svg: string; caption: string } {
  const benchmarks = results.benchmarks.filter((b) => b.kind === view.kind);
  const absent = results.columns.filter((c) => benchmarks.every((b) => b.cells[c].status === 'not-applicable'));
  const shown = results.columns.filter((c) => !absent.includes(c));
  const spec: BarChart = {
    label: TABLE_TITLES[view.kind],
    unit: view.kind === 'nano' ? 'ns' : 's',
    axisTitle: AXIS_TITLES[view.kind],
    series: shown.map((column) => ({ column, colour: PALETTE[results.columns.indexOf(column) % PALETTE.length] })),
    groups: view.rows.map((row, i) => ({
      name: row.benchmark,
      bars: shown.map((column) => {
        const raw = benchmarks[i].cells[column];
        const cellView = row.cells[results.columns.indexOf(column)];
        return {
          column,
          value: raw.status === 'ok' ? raw.median : undefined,
          marker: raw.status,
          title: cellSummary(cellView, row.benchmark, column),
        };
      }),
    })),
  };
  const left = absent.length ? ` Not shown, as no ${view.kind === 'nano' ? 'nanobenchmark' : 'workload'} applies to it: ${absent.join(', ')}.` : '';
  const caption = `Medians of ${results.repetitions} repetitions on a logarithmic axis; hover over a bar for its min–max, ` +
    `exits and ratio. A cell without a number is marked at the axis with its status.${left}`;
  return { svg: barChartSvg(spec), caption };
}

function section(results: CompareResults, view: TableView): string[] {
  const title = `<h2>${escapeHtml(TABLE_TITLES[view.kind])}</h2>`;
  if (!view.rows.length) return [title, '<p>None in this run.</p>'];
  const { svg, caption } = chart(results, view);
  return [title, '<figure>', svg, `<figcaption>${escapeHtml(caption)}</figcaption>`, '</figure>', ...table(view), ...notes(view), ...operations(view)];
}

export function htmlReport(results: CompareResults): string {
  const heading = headingFacts(results);
  const footnotes = new Footnotes();
  return [
    '<!DOCTYPE html>',
    '<html lang="en">',
    '<head>',
    '<meta charset="utf-8">',
    `<title>${escapeHtml(heading.title)}</title>`,
    `<style>${STYLE}</style>`,
    '</head>',
    '<body>',
    `<h1>${escapeHtml(heading.title)}</h1>`,
    '<dl class="facts">',
    ...heading.facts.map(([label, value]) => `<dt>${escapeHtml(label)}</dt><dd>${escapeHtml(value)}</dd>`),
    `<dt>command</dt><dd><code>${escapeHtml(heading.command)}</code></dd>`,
    '</dl>',
    ...section(results, tableView(results, 'nano', footnotes)),
    ...section(results, tableView(results, 'macro', footnotes)),
    '</body>',
    '</html>',
    '',
  ].join('\n');
}
