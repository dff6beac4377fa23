// Standard input to the guest, through a device the caller names (the serial port, the PS/2
// keyboard). From a terminal, the terminal is put in raw mode for the run: keys reach the guest
// as typed (Ctrl-C included, no echo but the guest's own, no line editing), the replies a
// terminal sends to the guest's queries (cursor position) go to the guest instead of the screen,
// and Ctrl-A is the escape key (console-escape.ts). The terminal's modes are given back on every
// way out, a second signal and process.exit included.
import { ConsoleEscape } from './console-escape.js';
import { type RunStopper, USER_QUIT_STATUS } from './run-stop.js';

export interface TerminalInputActions {
  /** Bytes for the guest, in the order typed. */
  toGuest(bytes: Uint8Array): void;
  /** Shows the escape key's help (Ctrl-A h). */
  help(): void;
}

export function attachTerminalInput(actions: TerminalInputActions, stopper: RunStopper): () => void {
  const stdin = process.stdin;
  let receive = (data: Uint8Array) => actions.toGuest(data);
  let restoreTerminal = () => {};
  if (stdin.isTTY) {
    stdin.setRawMode(true);
    restoreTerminal = () => {
      if (stdin.isRaw) stdin.setRawMode(false);
    };
    process.on('exit', restoreTerminal);
    const escape = new ConsoleEscape({
      toGuest: (bytes) => actions.toGuest(bytes),
      quit: () => stopper.stop({ status: USER_QUIT_STATUS, kind: 'report', message: 'the user quit (Ctrl-A x)' }),
      help: () => actions.help(),
    });
    receive = (data) => escape.feed(data);
  }
  const onData = (data: Buffer) => receive(data);
  const onError = () => {};
  stdin.on('data', onData);
  stdin.on('error', onError);
  return () => {
    stdin.off('data', onData);
    stdin.pause();
    stdin.unref?.();
    restoreTerminal();
    process.off('exit', restoreTerminal);
  };
}
