// `vmm bench`: the measured comparisons (never timed tests).
import { bootBench } from '../bench/boot-bench.js';
import { BenchError, foundationBench } from '../bench/foundation-bench.js';
import { parsePositiveInteger } from './options.js';
import { UserError } from './user-error.js';

export interface BenchOptions {
  runs: string;
  iterations: string;
  portWrites: string;
}

const SUITES = ['foundation', 'boot'] as const;

export async function benchCommand(suite: string, options: BenchOptions): Promise<number> {
  const log = (line: string) => process.stdout.write(`${line}\n`);
  const runs = parsePositiveInteger('run count', options.runs);
  let run: Promise<void>;
  switch (suite) {
    case 'foundation':
      run = foundationBench({
        runs,
        iterations: parsePositiveInteger('iteration count', options.iterations),
        portWrites: parsePositiveInteger('port write count', options.portWrites),
        log,
      });
      break;
    case 'boot':
      run = bootBench({ runs, log });
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
