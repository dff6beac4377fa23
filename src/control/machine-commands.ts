// The control socket's commands on a running machine (QMP's names where QEMU has one):
// query-status, stop, cont, snapshot, migrate, migrate-status, query-counters, screendump, quit.
import type { Engine } from '../vmm/engine.js';
import type { Machine } from '../vmm/machine.js';
import type { RunControl } from '../vmm/run-control.js';
import { captureAtBoundary, whyStateCannotBeSaved } from '../snapshot/machine-state.js';
import { writeSnapshot } from '../snapshot/snapshot-file.js';
import { writeFileSync } from 'node:fs';
import { screenText } from '../devices/vga/text-dump.js';
import { describeErrno } from '../util/errno.js';
import { parseTcpAddress } from '../util/tcp-address.js';
import { DEFAULT_DOWNTIME_LIMIT_MS, DEFAULT_MAX_ROUNDS, MigrationSource } from '../migration/migration-source.js';
import { ControlError, type CommandHandler } from './control-server.js';

/** The run the commands act on (its machine changes when the guest resets and boots again). */
export interface ControlledRun {
  machine(): Machine;
  engine(): Engine;
  readonly control: RunControl;
  /** Ends the run at the host's request (the quit command). */
  quit(): void;
}

export function machineCommands(run: ControlledRun): Map<string, CommandHandler> {
  let migration: MigrationSource | undefined;
  const migrating = () => migration?.report.status === 'active';
  const commands = new Map<string, CommandHandler>();

  commands.set('query-status', () => ({
    status: migrating() ? 'migrating' : run.control.status,
    running: run.control.status === 'running',
    engine: run.engine().name,
  }));
  commands.set('stop', async () => {
    await run.control.pause();
    return {};
  });
  commands.set('cont', () => {
    if (migrating()) throw new ControlError('a migration is running: the guest goes on when it ends');
    run.control.resume();
    return {};
  });
  commands.set('snapshot', async (args) => {
    const file = args.file;
    if (typeof file !== 'string' || file === '') throw new ControlError('snapshot needs a "file" argument');
    if (migrating()) throw new ControlError('a migration is running');
    const machine = run.machine();
    const why = whyStateCannotBeSaved(machine, run.engine());
    if (why) throw new ControlError(`cannot save this machine: ${why}`);
    // State is taken only while paused; a running guest is paused for it and goes on after.
    const wasRunning = run.control.status === 'running';
    await run.control.pause();
    try {
      const state = await captureAtBoundary(machine, run.engine(), run.control);
      const written = writeSnapshot(file, machine, run.engine(), state);
      return { file, bytes: written.bytes, pages: written.pages, seconds: written.seconds };
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code;
      throw new ControlError(code ? `cannot write '${file}': ${describeErrno(error)}` : (error as Error).message);
    } finally {
      if (wasRunning) run.control.resume();
    }
  });
  commands.set('migrate', (args) => {
    if (typeof args.uri !== 'string') throw new ControlError('migrate needs a "uri" argument: tcp:HOST:PORT');
    if (migrating()) throw new ControlError('a migration is running already');
    if (run.control.status !== 'running') throw new ControlError('the guest is paused: continue it first (pre-copy runs beside the guest)');
    const address = parseTcpAddress(args.uri, 'migration address');
    const downtimeLimitMs = numberArgument(args, 'downtime-limit', DEFAULT_DOWNTIME_LIMIT_MS);
    const maxRounds = numberArgument(args, 'max-rounds', DEFAULT_MAX_ROUNDS);
    const onNoConvergence = args['on-no-convergence'] ?? 'stop-and-copy';
    if (onNoConvergence !== 'stop-and-copy' && onNoConvergence !== 'abort') {
      throw new ControlError('"on-no-convergence" is stop-and-copy or abort');
    }
    const postcopy = args.postcopy ?? false;
    if (typeof postcopy !== 'boolean') throw new ControlError('"postcopy" is true or false');
    migration = new MigrationSource(run.machine(), run.engine(), run.control, { address, downtimeLimitMs, maxRounds, onNoConvergence, postcopy });
    void migration.run();
    return {};
  });
  commands.set('migrate-status', () => migration?.report ?? { status: 'none' });
  commands.set('query-counters', () => run.control.exitCounts?.() ?? {});
  // QMP's screendump, with the text screen as plain text (rows, trailing spaces trimmed) where
  // QEMU writes an image. A blank screen or a graphics mode writes an empty file; `mode` says which.
  commands.set('screendump', (args) => {
    const filename = args.filename;
    if (typeof filename !== 'string' || filename === '') throw new ControlError('screendump needs a "filename" argument');
    const vga = run.machine().vga;
    if (!vga) throw new ControlError('this machine has no VGA (boot it with --vga std)');
    const screen = vga.screen();
    try {
      writeFileSync(filename, screenText(screen));
    } catch (error) {
      throw new ControlError(`cannot write '${filename}': ${describeErrno(error)}`);
    }
    return { mode: screen.kind };
  });
  commands.set('quit', () => {
    // After the answer has gone out: the run's end closes the socket.
    setImmediate(() => run.quit());
    return {};
  });
  return commands;
}

function numberArgument(args: Record<string, unknown>, name: string, fallback: number): number {
  const value = args[name];
  if (value === undefined) return fallback;
  if (typeof value !== 'number' || !(value > 0)) throw new ControlError(`"${name}" must be a positive number`);
  return value;
}
