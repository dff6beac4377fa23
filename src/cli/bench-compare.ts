// `vmm bench compare`: runs the comparison (or reads a recorded one with --from), prints the
// Markdown tables, and writes the three reports into the output folder.
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { engineNames, paravirtualEngines } from '../engines/index.js';
import { runCompare } from '../bench/compare/compare-bench.js';
import { DEFAULT_MACRO_SIZES, QUICK_MACRO_SIZES } from '../bench/compare/macro-workloads.js';
import { htmlReport } from '../bench/compare/report/html-report.js';
import { jsonReport } from '../bench/compare/report/json-report.js';
import { markdownReport } from '../bench/compare/report/markdown-report.js';
import { parseResults } from '../bench/compare/report/parse-results.js';
import type { CompareResults } from '../bench/compare/results.js';
import { shown } from '../bench/run-facts.js';
import { describeErrno } from '../util/errno.js';
import { UserError } from './user-error.js';

export interface CompareCommandOptions {
  runs: number;
  quick: boolean;
  /** Folder the reports are written to. */
  output: string;
  /** A recorded result set to re-render instead of running. */
  from?: string;
  qemu: boolean;
  log: (line: string) => void;
}

/** File names of the three reports inside the output folder. */
export const REPORT_FILES = { markdown: 'compare.md', json: 'compare.json', html: 'compare.html' } as const;

export async function compareCommand(options: CompareCommandOptions): Promise<void> {
  const results = options.from === undefined ? await measure(options) : recorded(options.from);
  const markdown = markdownReport(results);
  options.log(markdown.trimEnd());
  try {
    mkdirSync(options.output, { recursive: true });
    writeFileSync(join(options.output, REPORT_FILES.markdown), markdown);
    // (Re-rendering from the folder's own JSON rewrites it unchanged.)
    writeFileSync(join(options.output, REPORT_FILES.json), jsonReport(results));
    writeFileSync(join(options.output, REPORT_FILES.html), htmlReport(results));
  } catch (error) {
    throw new UserError(`cannot write the reports to ${options.output}: ${describeErrno(error)}`);
  }
  options.log('');
  options.log(`reports: ${Object.values(REPORT_FILES).map((file) => shown(join(options.output, file))).join(', ')}`);
}

function recorded(file: string): CompareResults {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (error) {
    throw new UserError(`cannot read ${file}: ${describeErrno(error)}`);
  }
  try {
    return parseResults(text, file);
  } catch (error) {
    throw new UserError((error as Error).message);
  }
}

async function measure(options: CompareCommandOptions): Promise<CompareResults> {
  // A progress line on a terminal, rewritten in place; elsewhere (a log file) silent, since the
  // tables say what ran.
  const tty = process.stderr.isTTY === true;
  const progress = (text: string) => {
    if (tty) process.stderr.write(`\r\x1b[Kvmm bench compare: ${text}`);
  };
  try {
    return await runCompare({
      runs: options.runs,
      engines: engineNames,
      paravirtualEngines,
      qemu: options.qemu,
      macroSizes: options.quick ? QUICK_MACRO_SIZES : DEFAULT_MACRO_SIZES,
      nanoInOneBoot: options.quick,
      progress,
    });
  } finally {
    if (tty) process.stderr.write('\r\x1b[K');
  }
}
