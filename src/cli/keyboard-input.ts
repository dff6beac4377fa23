// Standard input to the guest's PS/2 keyboard (`--display curses`), as QEMU's curses display
// sends the keys typed in its terminal: each character becomes its key's scan codes
// (key-scancodes.ts), pressed on the keyboard behind the 8042, which interrupts the guest on IRQ 1.
// On a terminal, raw mode and Ctrl-A as the escape key, as for the serial console
// (terminal-input.ts).
import type { Machine } from '../vmm/machine.js';
import { scanCodes } from './key-scancodes.js';
import type { RunStopper } from './run-stop.js';
import { attachTerminalInput } from './terminal-input.js';

/** `help` shows the escape key's help; `typed` hears of every key the guest gets (the help goes away). */
export function attachKeyboardInput(machine: Machine, stopper: RunStopper, help: () => void, typed: () => void = () => {}): () => void {
  machine.mayReceiveKeys = true;
  const toGuest = (bytes: Uint8Array) => {
    typed();
    machine.keyboard.pressKey(scanCodes(bytes));
  };
  const detach = attachTerminalInput({ toGuest, help }, stopper);
  return () => {
    detach();
    machine.mayReceiveKeys = false;
  };
}
