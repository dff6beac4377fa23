// Standard input to the guest's serial port.
import type { Machine } from '../vmm/machine.js';
import type { RunStopper } from './run-stop.js';

export function attachSerialInput(machine: Machine, _stopper: RunStopper): () => void {
  const stdin = process.stdin;
  const onData = (data: Buffer) => machine.uart.receive(data);
  stdin.on('data', onData);
  stdin.on('error', () => {});
  return () => {
    stdin.off('data', onData);
    stdin.pause();
    stdin.unref?.();
  };
}
