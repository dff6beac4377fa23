// The compare reports against golden files: the recorded result set (fixtures/compare-results.json)
// rendered as Markdown and HTML must equal fixtures/compare-report.md and .html byte for byte, and
// survive the JSON round trip unchanged. After an intended change to a report, rewrite the goldens
//   UPDATE_GOLDEN=1 npx vitest run test/bench/compare-report.test.ts
// and review their diff like code.
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { htmlReport } from '../../src/bench/compare/report/html-report.js';
import { jsonReport } from '../../src/bench/compare/report/json-report.js';
import { markdownReport } from '../../src/bench/compare/report/markdown-report.js';
import { parseResults, ResultsFileError } from '../../src/bench/compare/report/parse-results.js';
import type { CompareResults } from '../../src/bench/compare/results.js';
import { expectGolden } from './golden.js';
import { FIXTURES, fixture, fixtureText, measuredCells } from './compare-fixture.js';

describe('vmm bench compare reports', () => {
  it('renders the recorded results as the golden Markdown', () => {
    expectGolden(markdownReport(fixture()), join(FIXTURES, 'compare-report.md'));
  });

  it('renders the recorded results as the golden HTML', () => {
    expectGolden(htmlReport(fixture()), join(FIXTURES, 'compare-report.html'));
  });

  it('writes JSON that reads back as the same result set, in the recorded layout', () => {
    const results = fixture();
    expect(parseResults(jsonReport(results), 'round-trip.json')).toEqual(results);
    expect(jsonReport(results)).toBe(fixtureText());
  });

  it('shows the status word and a footnote for every unmeasured cell', () => {
    const markdown = markdownReport(fixture());
    expect(markdown).toContain('| popf | 0.892 ns (0.874–0.922) · 0 exits · 1.00× | unfaithful² |');
    expect(markdown).toContain('\n² trap: popf left IF=1');
    expect(markdown.match(/not-applicable¹/g)).toHaveLength(11);
    expect(markdown.match(/^¹ qemu: /gm)).toHaveLength(1);
  });

  it('draws one bar per measured cell and a marker for trap\'s unfaithful popf', () => {
    const results = fixture();
    const html = htmlReport(results);
    const bars = [...html.matchAll(/<rect class="bar"[^>]*data-benchmark="([^"]*)" data-column="([^"]*)" data-value="([^"]*)"/g)];
    expect(bars.map(([, b, c, v]) => [b, c, Number(v)])).toEqual(measuredCells(results));
    expect(html.match(/<title>/g)?.length).toBeGreaterThanOrEqual(bars.length);
    expect([...html.matchAll(/<text class="marker"[^>]*>/g)].map(([tag]) => tag)).toEqual([
      expect.stringContaining('data-benchmark="popf" data-column="trap" data-status="unfaithful"'),
    ]);
    expect(html).not.toMatch(/<script|https?:\/\/(?!www\.w3\.org\/2000\/svg)/);
  });

  it('escapes text from the result set in both formats', () => {
    const results: CompareResults = fixture();
    results.machine.cpu = 'Evil & Co <script>alert(1)</script>';
    results.benchmarks[0].description = 'a | b <img src=x onerror=alert(1)>';
    results.benchmarks[1].name = 'in"<b>';
    results.command = 'vmm bench compare --note "`x`"';
    const html = htmlReport(results);
    expect(html).not.toContain('<script>');
    expect(html).not.toContain('<img');
    expect(html).not.toContain('in"<b>');
    expect(html).toContain('Evil &#38; Co &#60;script&#62;');
    const markdown = markdownReport(results);
    expect(markdown).toContain('a \\| b \\<img src=x onerror=alert(1)\\>');
    expect(markdown).toContain('- command: ``vmm bench compare --note "`x`"``');
  });

  it('is the same text on every call', () => {
    expect(htmlReport(fixture())).toBe(htmlReport(fixture()));
    expect(markdownReport(fixture())).toBe(markdownReport(fixture()));
  });
});

describe('parseResults', () => {
  const errorOf = (text: string): Error => {
    try {
      parseResults(text, 'results.json');
    } catch (error) {
      expect(error).toBeInstanceOf(ResultsFileError);
      expect((error as Error).message).not.toContain('\n');
      return error as Error;
    }
    throw new Error('parseResults accepted it');
  };
  const edited = (edit: (json: Record<string, any>) => void): string => {
    const json = JSON.parse(fixtureText()) as Record<string, any>;
    edit(json);
    return JSON.stringify(json);
  };

  it('refuses text that is not JSON', () => {
    expect(errorOf('{"schema": "vmm-bench-compare/1",').message).toMatch(/^results\.json: not JSON \(.+\)$/);
    expect(errorOf('').message).toMatch(/^results\.json: not JSON/);
  });

  it('refuses JSON that is not a result set, or of another schema version', () => {
    expect(errorOf('[1, 2]').message).toBe('results.json: the file is an array, expected an object');
    expect(errorOf('{"traceEvents": []}').message).toMatch(/^results\.json: no schema field: not a vmm bench compare result set/);
    expect(errorOf(edited((j) => (j.schema = 'vmm-bench-compare/2'))).message)
      .toBe('results.json: schema is "vmm-bench-compare/2", this vmm reads "vmm-bench-compare/1"');
  });

  it('names a missing or mistyped field', () => {
    expect(errorOf(edited((j) => delete j.machine.cpu)).message).toBe('results.json: machine: cpu is missing');
    expect(errorOf(edited((j) => (j.repetitions = '5'))).message).toBe('results.json: repetitions is a string, expected a number');
    expect(errorOf(edited((j) => j.machine.loadAfter.pop())).message).toBe('results.json: machine: loadAfter has 2 numbers, expected 3');
    expect(errorOf(edited((j) => (j.benchmarks[3].kind = 'micro'))).message)
      .toBe('results.json: benchmark cli-sti (benchmarks[3]): kind is "micro", expected one of nano, macro');
  });

  it('names a missing cell and a cell field', () => {
    expect(errorOf(edited((j) => delete j.benchmarks[4].cells.qemu)).message)
      .toBe('results.json: benchmark popf (benchmarks[4]).cells: qemu is missing');
    expect(errorOf(edited((j) => delete j.benchmarks[4].cells.trap.reason)).message)
      .toBe('results.json: benchmark popf (benchmarks[4]).cells.trap: reason is missing');
    expect(errorOf(edited((j) => (j.benchmarks[0].cells.bt.samples = [1, null]))).message)
      .toBe('results.json: benchmark syscall (benchmarks[0]).cells.bt: samples[1] is null, expected a number');
    expect(errorOf(edited((j) => (j.benchmarks[12].cells.vmware = j.benchmarks[12].cells.bt))).message)
      .toBe('results.json: benchmark forkwait (benchmarks[12]).cells: a cell for "vmware", which is not one of the columns (direct, trap, bt, qemu)');
  });
});
