// A grouped bar chart as inline SVG, in the style of Adams and Agesen's Figure 4: one group per
// benchmark, one bar per column in that column's colour, a logarithmic value axis with a grid line
// and label per decade. A cell with no number is a labelled marker at the axis instead of a bar,
// so a missing bar is never mistaken for a cheap operation. Static markup: it needs no script
// and draws offline.
import { escapeHtml } from '../../../util/escape-html.js';
import { decadeLabel, decadeValue, logScale, type LogScale } from './log-scale.js';

export interface ChartBar {
  column: string;
  /** The height; absent (or not positive, which a log axis cannot show) for a marker. */
  value?: number;
  /** What stands at the axis instead of a bar: "unfaithful", "failed". */
  marker: string;
  /** Tooltip, one line. */
  title: string;
}

export interface ChartGroup {
  name: string;
  bars: ChartBar[];
}

export interface BarChart {
  /** Read by screen readers. */
  label: string;
  unit: 'ns' | 's';
  /** The value axis' title: "ns per operation (log scale)". */
  axisTitle: string;
  /** Columns in bar order, each with its colour. */
  series: { column: string; colour: string }[];
  groups: ChartGroup[];
}

const WIDTH = 1100;
const LEFT = 80;
const RIGHT = 16;
const TOP = 44;
const PLOT_HEIGHT = 320;
const BOTTOM = TOP + PLOT_HEIGHT;
const HEIGHT = BOTTOM + 40;
/** The share of a group's width its bars take; the rest separates the groups. */
const GROUP_FILL = 0.72;

/** A coordinate with one decimal at most, so the markup is the same on every run. */
function px(n: number): string {
  return String(Math.round(n * 10) / 10);
}

function attrs(values: Record<string, string>): string {
  return Object.entries(values)
    .map(([name, value]) => ` ${name}="${escapeHtml(value)}"`)
    .join('');
}

function legend(chart: BarChart): string[] {
  return chart.series.map(({ column, colour }, i) => {
    const x = LEFT + i * 120;
    return `<g class="legend"><rect x="${px(x)}" y="12" width="14" height="14"${attrs({ fill: colour })}/>` +
      `<text x="${px(x + 20)}" y="24">${escapeHtml(column)}</text></g>`;
  });
}

function axis(chart: BarChart, { decades }: LogScale, y: (value: number) => number): string[] {
  const lines: string[] = [];
  decades.forEach((exponent, i) => {
    const at = y(decadeValue(exponent));
    lines.push(`<line class="grid" x1="${LEFT}" x2="${WIDTH - RIGHT}" y1="${px(at)}" y2="${px(at)}"/>`);
    lines.push(`<text class="tick" x="${LEFT - 8}" y="${px(at + 4)}" text-anchor="end">${escapeHtml(decadeLabel(exponent, chart.unit))}</text>`);
    if (i + 1 === decades.length) return;
    for (let m = 2; m <= 9; m++) {
      const minor = y(m * decadeValue(exponent));
      lines.push(`<line class="minor" x1="${LEFT}" x2="${WIDTH - RIGHT}" y1="${px(minor)}" y2="${px(minor)}"/>`);
    }
  });
  const middle = TOP + PLOT_HEIGHT / 2;
  lines.push(`<text class="axis-title" x="18" y="${px(middle)}" text-anchor="middle" transform="rotate(-90 18 ${px(middle)})">${escapeHtml(chart.axisTitle)}</text>`);
  lines.push(`<line class="axis" x1="${LEFT}" x2="${WIDTH - RIGHT}" y1="${BOTTOM}" y2="${BOTTOM}"/>`);
  lines.push(`<line class="axis" x1="${LEFT}" x2="${LEFT}" y1="${TOP}" y2="${BOTTOM}"/>`);
  return lines;
}

function values(chart: BarChart): number[] {
  return chart.groups.flatMap((g) => g.bars.flatMap((b) => (b.value !== undefined && b.value > 0 ? [b.value] : [])));
}

function bar(group: string, b: ChartBar, x: number, width: number, colour: string, y: (value: number) => number): string {
  const data = { 'data-benchmark': group, 'data-column': b.column };
  const title = `<title>${escapeHtml(b.title)}</title>`;
  if (b.value === undefined || b.value <= 0) {
    const cx = px(x + width / 2);
    const marker = b.value === undefined ? b.marker : '≤ 0';
    return `<text class="marker" x="${cx}" y="${BOTTOM - 6}" transform="rotate(-90 ${cx} ${BOTTOM - 6})"` +
      `${attrs({ ...data, 'data-status': marker })}>${title}${escapeHtml(marker)}</text>`;
  }
  const top = Math.min(y(b.value), BOTTOM - 1);
  return `<rect class="bar" x="${px(x)}" y="${px(top)}" width="${px(width)}" height="${px(BOTTOM - top)}"` +
    `${attrs({ fill: colour, ...data, 'data-value': String(b.value) })}>${title}</rect>`;
}

function groups(chart: BarChart, y: (value: number) => number): string[] {
  const groupWidth = (WIDTH - RIGHT - LEFT) / Math.max(1, chart.groups.length);
  const barWidth = (groupWidth * GROUP_FILL) / Math.max(1, chart.series.length);
  const colours = new Map(chart.series.map((s) => [s.column, s.colour]));
  return chart.groups.map((g, gi) => {
    const start = LEFT + gi * groupWidth + (groupWidth * (1 - GROUP_FILL)) / 2;
    const bars = g.bars.map((b) => {
      const slot = chart.series.findIndex((s) => s.column === b.column);
      return bar(g.name, b, start + slot * barWidth, barWidth, colours.get(b.column) ?? 'grey', y);
    });
    const label = `<text class="group" x="${px(LEFT + (gi + 0.5) * groupWidth)}" y="${BOTTOM + 20}" text-anchor="middle">${escapeHtml(g.name)}</text>`;
    return `<g class="benchmark">${bars.join('')}${label}</g>`;
  });
}

export function barChartSvg(chart: BarChart): string {
  const scale = logScale(values(chart));
  const y = (value: number) => BOTTOM - scale.fraction(value) * PLOT_HEIGHT;
  return [
    `<svg xmlns="http://www.w3.org/2000/svg" class="chart" viewBox="0 0 ${WIDTH} ${HEIGHT}" width="${WIDTH}" height="${HEIGHT}" role="img"${attrs({ 'aria-label': chart.label })}>`,
    ...legend(chart),
    ...axis(chart, scale, y),
    ...groups(chart, y),
    '</svg>',
  ].join('\n');
}
