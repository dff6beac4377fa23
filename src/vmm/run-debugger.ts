// What the run loop needs from a debugger attached to the guest (the GDB stub, src/debug): when
// the guest may run, and where it stopped for the debugger. The loop knows nothing of the
// protocol; the debugger knows nothing of exits other than its own.
import type { Exit } from './exit-record.js';
import type { RunOutcome } from './run-loop.js';

/** How the next run goes: freely, one guest instruction (no interrupt delivered), or not at all. */
export type DebugRunMode = 'run' | 'step' | 'kill';

/** A stop the debugger asked for: its hook fired, or the stepped instruction completed. */
export type DebuggerStop = Extract<Exit, { kind: 'debug' }> | { kind: 'step-complete' };

export interface RunDebugger {
  /**
   * Before each run(): resolves when the guest may run, and how. While the guest is stopped for
   * the debugger the machine's clock stands still (time in the debugger is not guest time).
   */
  nextRun(): DebugRunMode | Promise<DebugRunMode>;
  /** The guest stopped for the debugger; the next nextRun() waits for it to resume. */
  stopped(stop: DebuggerStop): void;
  /** The run is over: the debugger is told how (the guest exited, crashed or was ended). */
  runEnded(outcome: RunOutcome): void;
  /** Seconds the guest spent stopped for the debugger, which are not guest time. */
  readonly stoppedSeconds: number;
  /** The exit counts so far, for the debugger's `monitor` commands. */
  exitCounts?: () => Record<string, number>;
}
