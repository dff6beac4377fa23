// `vmm bench`: the measured comparisons (never timed tests).
import { BenchError, foundationBench } from '../bench/foundation-bench.js';
import { parsePositiveInteger } from './options.js';
import { UserError } from './user-error.js';

export interface BenchOptions {
  runs: string;
  iterations: string;
  portWrites: string;
}

export async function benchCommand(options: BenchOptions): Promise<number> {
  const run = foundationBench({
    runs: parsePositiveInteger('run count', options.runs),
    iterations: parsePositiveInteger('iteration count', options.iterations),
    portWrites: parsePositiveInteger('port write count', options.portWrites),
    log: (line) => process.stdout.write(`${line}\n`),
  });
  try {
    await run;
  } catch (error) {
    if (error instanceof BenchError) throw new UserError(error.message);
    throw error;
  }
  return 0;
}
