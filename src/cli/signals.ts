// SIGINT, SIGTERM and SIGHUP while a guest runs: the first ends the run cleanly (see RunStopper);
// a second, while vmm is still stopping, ends the process at once with the same status.
import { RunStopper, SIGNAL_STATUS, type StopSignal } from './run-stop.js';

export function handleStopSignals(stopper: RunStopper): () => void {
  const handlers = new Map<StopSignal, () => void>();
  for (const signal of Object.keys(SIGNAL_STATUS) as StopSignal[]) {
    const handler = () => {
      const pending = stopper.request;
      if (pending) {
        process.stderr.write(`vmm: ${signal} while stopping: ending at once\n`);
        // process.exit runs the 'exit' handlers, which give the terminal back its modes.
        process.exit(pending.status);
      }
      stopper.stop({ status: SIGNAL_STATUS[signal], kind: 'report', message: `stopped by ${signal}` });
    };
    handlers.set(signal, handler);
    process.on(signal, handler);
  }
  return () => {
    for (const [signal, handler] of handlers) process.off(signal, handler);
  };
}
