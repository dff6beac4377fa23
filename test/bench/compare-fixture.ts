// The recorded result set of `vmm bench compare` the report tests render: direct, trap, bt and
// qemu on the eleven nanobenchmarks (qemu not applicable, trap's popf unfaithful) and the four
// macro workloads.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseResults } from '../../src/bench/compare/report/parse-results.js';
import type { CompareResults } from '../../src/bench/compare/results.js';

export const FIXTURES = fileURLToPath(new URL('fixtures', import.meta.url));
export const RESULTS_PATH = join(FIXTURES, 'compare-results.json');

export function fixtureText(): string {
  return readFileSync(RESULTS_PATH, 'utf8');
}

export function fixture(): CompareResults {
  return parseResults(fixtureText(), RESULTS_PATH);
}

/** [benchmark, column, median] of every cell with a number. */
export function measuredCells(results: CompareResults): [string, string, number][] {
  return results.benchmarks.flatMap((b) =>
    results.columns.flatMap((column): [string, string, number][] => {
      const cell = b.cells[column];
      return cell.status === 'ok' ? [[b.name, column, cell.median]] : [];
    }),
  );
}
