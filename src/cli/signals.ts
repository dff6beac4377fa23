// SIGINT, SIGTERM and SIGHUP while a guest runs: the first ends the run cleanly (see RunStopper);
// a second, while vmm is still stopping, ends the process at once with the same status.
//
// A handler only runs when the event loop does. While vmm waits in a write for the reader of its
// trace (a pipe nobody reads: `vmm trace | less`), it does not, so for that wait the signals get
// their default action back: they end vmm at once, the trace cut where it was.
import { RunStopper, SIGNAL_STATUS, type StopSignal } from './run-stop.js';

const SIGNALS = Object.keys(SIGNAL_STATUS) as StopSignal[];

export class StopSignals {
  private readonly handlers = new Map<StopSignal, () => void>();
  private installed = false;

  constructor(stopper: RunStopper) {
    for (const signal of SIGNALS) {
      this.handlers.set(signal, () => {
        const pending = stopper.request;
        if (pending) {
          process.stderr.write(`vmm: ${signal} while stopping: ending at once\n`);
          // process.exit runs the 'exit' handlers, which give the terminal back its modes.
          process.exit(pending.status);
        }
        stopper.stop({ status: SIGNAL_STATUS[signal], kind: 'report', message: `stopped by ${signal}` });
      });
    }
  }

  install(): void {
    if (this.installed) return;
    this.installed = true;
    for (const [signal, handler] of this.handlers) process.on(signal, handler);
  }

  /** Gives the signals their default action (see above) until install() again. */
  uninstall(): void {
    if (!this.installed) return;
    this.installed = false;
    for (const [signal, handler] of this.handlers) process.off(signal, handler);
  }
}
