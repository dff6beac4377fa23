// The JSON report of `vmm bench compare`: the result set itself, pretty-printed with its keys in
// the order the runner built them, so that `--from` can re-render every other report from it and
// two runs' files diff line by line.
import type { CompareResults } from '../results.js';

export function jsonReport(results: CompareResults): string {
  return `${JSON.stringify(results, null, 2)}\n`;
}
