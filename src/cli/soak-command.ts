// `vmm soak`: options checked up front, SIGINT turned into a clean stop with the partial report.
import type { Command } from 'commander';
import { engineNames, paravirtualEngines, unmodifiedGuestEngines } from '../engines/index.js';
import { missingFile, soakGuests, type SoakGuest } from '../soak/soak-guests.js';
import { soak } from '../soak/soak.js';
import { parsePositiveInteger } from './options.js';
import { UserError } from './user-error.js';

export interface SoakOptions {
  /** Unset: DEFAULT_RUNS, or QUICK_RUNS with --quick. */
  runs?: string;
  parallel: string;
  /** Comma-separated; unset: every registered engine. */
  engines?: string;
  /** Comma-separated; unset: the guests booted by default. */
  guests?: string;
  quick: boolean;
  logDir?: string;
}

/** Enough for a failure that comes once in twenty runs to show: 8 Linux boots, 40 paging runs. */
export const DEFAULT_RUNS = 48;
/**
 * For CI: each engine boots Linux once and runs the paging guest four times, each paravirtual
 * engine runs the paravirtual kernel four times (a few minutes).
 */
export const QUICK_RUNS = 5 * unmodifiedGuestEngines.length + 4 * paravirtualEngines.length;

function pickList<T>(what: string, text: string | undefined, all: readonly T[], name: (item: T) => string, fallback: readonly T[]): T[] {
  if (text === undefined) return [...fallback];
  const names = text.split(',').map((item) => item.trim()).filter((item) => item !== '');
  if (names.length === 0) throw new UserError(`no ${what} given`);
  return names.map((wanted) => {
    const found = all.find((item) => name(item) === wanted);
    if (found === undefined) throw new UserError(`unknown ${what.replace(/s$/, '')} '${wanted}'; choose from ${all.map(name).join(', ')}`);
    return found;
  });
}

export async function soakCommand(options: SoakOptions): Promise<number> {
  const runs = parsePositiveInteger('run count', options.runs ?? String(options.quick ? QUICK_RUNS : DEFAULT_RUNS));
  const parallel = parsePositiveInteger('parallel run count', options.parallel);
  // Every registered engine unless told otherwise: a new engine is soaked as soon as it exists.
  const engines = pickList('engines', options.engines, engineNames, (name) => name, engineNames);
  const guests = pickList<SoakGuest>('guests', options.guests, soakGuests, (guest) => guest.name, soakGuests.filter((g) => g.byDefault));
  for (const guest of guests) {
    const missing = missingFile(guest);
    if (missing !== undefined) throw new UserError(`guest ${guest.name} needs ${missing}: run scripts/setup.sh`);
  }

  const controller = new AbortController();
  // Once: a second Ctrl-C falls back to Node's default and ends the soak at once.
  const onInterrupt = () => {
    process.stdout.write('soak: interrupted, ending the runs in progress\n');
    controller.abort();
  };
  process.once('SIGINT', onInterrupt);
  try {
    return await soak({
      guests,
      engines,
      paravirtualEngine: (engine) => paravirtualEngines.includes(engine),
      runs,
      parallel,
      logDir: options.logDir,
      log: (line) => process.stdout.write(`${line}\n`),
      interrupt: controller.signal,
    });
  } finally {
    process.removeListener('SIGINT', onInterrupt);
  }
}

/** Adds `vmm soak` to the command line; `done` receives the soak's exit status. */
export function registerSoakCommand(program: Command, done: (status: number) => void): void {
  program
    .command('soak')
    .description('boot guests many times, several at once, under every engine, and count the runs that fail')
    .option('--runs <n>', `guest runs in all, shared out by guest and engine (default ${DEFAULT_RUNS}, --quick: ${QUICK_RUNS})`)
    .option('--parallel <n>', 'runs at the same time', '2')
    .option('--engines <list>', `comma-separated engines (default: every registered one: ${engineNames.join(', ')})`)
    .option(
      '--guests <list>',
      `comma-separated guests from ${soakGuests.map((g) => g.name).join(', ')} (default: ${soakGuests.filter((g) => g.byDefault).map((g) => g.name).join(', ')})`,
    )
    .option('--quick', 'a short soak for CI', false)
    .option('--log-dir <dir>', "write each failed run's whole output to a file there")
    .action(async (options: SoakOptions) => {
      done(await soakCommand(options));
    });
}
