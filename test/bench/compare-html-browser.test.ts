// The HTML compare report in a real browser: Debian's headless Chromium (which the setup script
// installs) opens the fixture's report from a file, offline, takes a screenshot and dumps the DOM
// it built. The chart must be drawn (each engine's bar colour covers a good part of the picture,
// which no page without the chart does) and hold exactly one bar per measured cell, with the data
// attributes of that cell.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { htmlReport } from '../../src/bench/compare/report/html-report.js';
import { fixture, measuredCells } from './compare-fixture.js';
import { countColour, decodePng, pngSize } from './png.js';

const CHROMIUM = '/usr/bin/chromium';
const WIDTH = 1200;
const HEIGHT = 1600;
/** Starting a browser takes seconds; a slow machine may take many. */
const BROWSER_TIMEOUT_MS = 180_000;

let dir = '';
let page = '';

function chromium(...args: string[]): string {
  const run = spawnSync(CHROMIUM, ['--headless', '--no-sandbox', '--disable-gpu', `--user-data-dir=${join(dir, 'profile')}`, ...args], {
    encoding: 'utf8',
    maxBuffer: 64 * 2 ** 20,
  });
  if (run.status !== 0) throw new Error(`chromium ended with status ${run.status}: ${run.stderr}`);
  return run.stdout;
}

/** The attributes of every `<rect>` in serialized HTML, with the text of its `<title>` child. */
function rects(dom: string): { attributes: Record<string, string>; title: string }[] {
  return [...dom.matchAll(/<rect\b([^>]*)>(?:\s*<title>([^<]*)<\/title>)?/g)].map(([, list, title]) => ({
    attributes: Object.fromEntries([...list.matchAll(/([\w-]+)="([^"]*)"/g)].map(([, name, value]) => [name, value])),
    title: title ?? '',
  }));
}

describe('the HTML compare report in headless Chromium', () => {
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'compare-report-'));
    page = join(dir, 'report.html');
    writeFileSync(page, htmlReport(fixture()));
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('uses Debian\'s Chromium, which the setup script installs', () => {
    expect(existsSync(CHROMIUM), `${CHROMIUM} is missing: run scripts/setup.sh`).toBe(true);
  });

  it('draws the charts: a screenshot of the window size with every column\'s bar colour in it', () => {
    const png = join(dir, 'report.png');
    chromium(`--screenshot=${png}`, `--window-size=${WIDTH},${HEIGHT}`, '--hide-scrollbars', pathToFileURL(page).href);
    const file = readFileSync(png);
    expect(pngSize(file)).toEqual({ width: WIDTH, height: HEIGHT });
    const image = decodePng(file);
    const bars = rects(readFileSync(page, 'utf8')).filter((r) => r.attributes.class === 'bar');
    const fill = new Map(bars.map((b) => [b.attributes['data-column'], b.attributes.fill]));
    expect(new Set(fill.values()).size).toBe(fixture().columns.length);
    // The nanobenchmark chart is on the first screen: the columns with a number there have their colour in it.
    const results = fixture();
    const nano = new Set(measuredCells({ ...results, benchmarks: results.benchmarks.filter((b) => b.kind === 'nano') }).map(([, column]) => column));
    expect([...nano]).toEqual(['direct', 'trap', 'bt']);
    for (const column of nano) expect(countColour(image, fill.get(column) ?? ''), `pixels of ${column}'s colour`).toBeGreaterThan(5000);
  }, BROWSER_TIMEOUT_MS);

  it('has one bar per measured cell in the DOM, each with its cell\'s data and a tooltip', () => {
    const dom = chromium('--dump-dom', pathToFileURL(page).href);
    const bars = rects(dom).filter((r) => r.attributes.class === 'bar');
    const expected = measuredCells(fixture());
    expect(bars).toHaveLength(expected.length);
    expect(bars.map((b) => [b.attributes['data-benchmark'], b.attributes['data-column'], Number(b.attributes['data-value'])])).toEqual(expected);
    for (const bar of bars) expect(bar.title).toContain(`${bar.attributes['data-column']}, ${bar.attributes['data-benchmark']}: `);
    expect(dom).toMatch(/<text class="marker"[^>]*data-benchmark="popf" data-column="trap" data-status="unfaithful"/);
  }, BROWSER_TIMEOUT_MS);
});
