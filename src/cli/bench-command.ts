// `vmm bench`: the measured comparisons (never timed tests).
import { BOOT_CONFIGURATIONS, bootBench, pickBootConfigurations } from '../bench/boot-bench.js';
import { BenchError } from '../bench/bench-error.js';
import { foundationBench } from '../bench/foundation-bench.js';
import { migrateBench } from '../bench/migrate-bench.js';
import { diskBench } from '../bench/disk-bench.js';
import { unmodifiedGuestEngines } from '../engines/index.js';
import type { EngineName } from '../vmm/engine.js';
import { MAX_TRAPBENCH_PAGES, trapBench } from '../bench/trap-bench.js';
import { compareCommand } from './bench-compare.js';
import { parsePositiveInteger } from './options.js';
import { endRunningChildren } from '../bench/running-children.js';
import { BROKEN_PIPE_STATUS, SIGNAL_STATUS, type StopSignal } from './run-stop.js';
import { UserError } from './user-error.js';

export interface BenchOptions {
  /** Unset: the suite's own default. */
  runs?: string;
  iterations: string;
  portWrites: string;
  pages: string;
  pairs: string;
  /** boot: comma-separated configurations (BOOT_CONFIGURATIONS' names); unset: all of them. */
  engines?: string;
  /** compare: fewer repetitions and smaller workloads. */
  quick?: boolean;
  /** compare: where the reports go. */
  output: string;
  /** compare: a recorded result set to re-render. */
  from?: string;
  /** compare: false with --no-qemu. */
  qemu: boolean;
}

const SUITES = ['foundation', 'boot', 'trap', 'compare', 'migrate', 'disk'] as const;
const DEFAULT_RUNS: Record<(typeof SUITES)[number], string> = { foundation: '5', boot: '5', trap: '3', compare: '3', migrate: '5', disk: '5' };

export async function benchCommand(suite: string, options: BenchOptions): Promise<number> {
  const log = (line: string) => process.stdout.write(`${line}\n`);
  const warn = (line: string) => process.stderr.write(`vmm: warning: ${line}\n`);
  // A reader that went away (`vmm bench | head`): stop quietly, as SIGPIPE stops other tools.
  process.stdout.on('error', (error: NodeJS.ErrnoException) => {
    if (error.code === 'EPIPE') process.exit(BROKEN_PIPE_STATUS);
  });
  // A signal ends the benchmark and the guest or QEMU it was waiting for, with one line.
  for (const signal of Object.keys(SIGNAL_STATUS) as StopSignal[]) {
    process.once(signal, () => {
      endRunningChildren();
      process.stderr.write(`\nvmm: benchmark stopped by ${signal}\n`);
      process.exit(SIGNAL_STATUS[signal]);
    });
  }
  const known = (SUITES as readonly string[]).includes(suite);
  const defaultRuns = suite === 'compare' && options.quick ? '1' : known ? DEFAULT_RUNS[suite as (typeof SUITES)[number]] : '1';
  const runs = parsePositiveInteger('run count', options.runs ?? defaultRuns);
  // Refused rather than ignored: a user who names configurations expects them to be what ran.
  if (options.engines !== undefined && known && suite !== 'boot' && suite !== 'disk') throw new UserError(`--engines applies to the boot and disk benchmarks only`);
  if ((options.quick || options.from !== undefined) && known && suite !== 'compare') {
    throw new UserError(`--${options.quick ? 'quick' : 'from'} applies to the compare benchmark only`);
  }
  if (options.from !== undefined && (options.quick || options.runs !== undefined)) {
    throw new UserError('--from re-renders a recorded result set; --quick and --runs apply to a new run');
  }
  let run: Promise<void>;
  switch (suite) {
    case 'foundation':
      run = foundationBench({
        runs,
        iterations: parsePositiveInteger('iteration count', options.iterations),
        portWrites: parsePositiveInteger('port write count', options.portWrites),
        log,
        warn,
      });
      break;
    case 'boot': {
      let configurations = BOOT_CONFIGURATIONS;
      try {
        if (options.engines !== undefined) configurations = pickBootConfigurations(options.engines);
      } catch (error) {
        if (error instanceof BenchError) throw new UserError(error.message);
        throw error;
      }
      run = bootBench({ runs, configurations, log });
      break;
    }
    case 'trap': {
      const pages = parsePositiveInteger('page count', options.pages);
      if (pages > MAX_TRAPBENCH_PAGES) throw new UserError(`invalid page count '${options.pages}': at most ${MAX_TRAPBENCH_PAGES}`);
      run = trapBench({ runs, pages, pairs: parsePositiveInteger('pair count', options.pairs), log });
      break;
    }
    case 'compare':
      run = compareCommand({ runs, quick: options.quick === true, output: options.output, from: options.from, qemu: options.qemu, log });
      break;
    case 'migrate':
      run = migrateBench({ runs, log });
      break;
    case 'disk':
      run = diskBench({ runs, engines: diskBenchEngines(options.engines), log });
      break;
    default:
      throw new UserError(`unknown benchmark '${suite}'; choose one of ${SUITES.join(', ')}`);
  }
  try {
    await run;
  } catch (error) {
    if (error instanceof BenchError) throw new UserError(error.message);
    throw error;
  }
  return 0;
}

/** disk: the engines named (those that run unmodified guests), direct and trap by default. */
function diskBenchEngines(list: string | undefined): EngineName[] {
  const usable = unmodifiedGuestEngines as EngineName[];
  if (list === undefined) return ['direct', 'trap'];
  const names = list.split(',').map((name) => name.trim()).filter((name) => name !== '');
  for (const name of names) {
    if (!usable.includes(name as EngineName)) throw new UserError(`unknown engine '${name}' in --engines for the disk benchmark; choose from ${usable.join(', ')}`);
  }
  if (names.length === 0) throw new UserError(`no engine given to --engines; choose from ${usable.join(', ')}`);
  return usable.filter((name) => names.includes(name));
}
