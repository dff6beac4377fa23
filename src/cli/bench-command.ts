// `vmm bench`: the measured comparisons (never timed tests).
import { BOOT_CONFIGURATIONS, bootBench, pickBootConfigurations } from '../bench/boot-bench.js';
import { BenchError } from '../bench/bench-error.js';
import { foundationBench } from '../bench/foundation-bench.js';
import { MAX_TRAPBENCH_PAGES, trapBench } from '../bench/trap-bench.js';
import { parsePositiveInteger } from './options.js';
import { BROKEN_PIPE_STATUS } from './run-stop.js';
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
}

const SUITES = ['foundation', 'boot', 'trap'] as const;
const DEFAULT_RUNS: Record<(typeof SUITES)[number], string> = { foundation: '5', boot: '5', trap: '3' };

export async function benchCommand(suite: string, options: BenchOptions): Promise<number> {
  const log = (line: string) => process.stdout.write(`${line}\n`);
  const warn = (line: string) => process.stderr.write(`vmm: warning: ${line}\n`);
  // A reader that went away (`vmm bench | head`): stop quietly, as SIGPIPE stops other tools.
  process.stdout.on('error', (error: NodeJS.ErrnoException) => {
    if (error.code === 'EPIPE') process.exit(BROKEN_PIPE_STATUS);
  });
  const known = (SUITES as readonly string[]).includes(suite);
  const runs = parsePositiveInteger('run count', options.runs ?? (known ? DEFAULT_RUNS[suite as (typeof SUITES)[number]] : '1'));
  // Refused rather than ignored: a user who names configurations expects them to be what ran.
  if (options.engines !== undefined && known && suite !== 'boot') throw new UserError(`--engines applies to the boot benchmark only`);
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
