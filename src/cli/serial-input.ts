// Standard input to the guest's serial port (terminal-input.ts: raw mode on a terminal, Ctrl-A
// the escape key).
import type { Machine } from '../vmm/machine.js';
import { ESCAPE_HELP } from './console-escape.js';
import type { RunStopper } from './run-stop.js';
import { attachTerminalInput } from './terminal-input.js';

export function attachSerialInput(machine: Machine, stopper: RunStopper): () => void {
  return attachTerminalInput(
    { toGuest: (bytes) => machine.uart.receive(bytes), help: () => process.stderr.write(`\nvmm: ${ESCAPE_HELP}\n`) },
    stopper,
  );
}
