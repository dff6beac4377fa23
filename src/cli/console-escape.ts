// The interactive console's escape key, as QEMU's -serial stdio has it: Ctrl-A, then a command
// key. Everything else, Ctrl-C included, goes to the guest as typed.
//   Ctrl-A x        quit (vmm ends the run and prints its summary)
//   Ctrl-A h or ?   print the keys
//   Ctrl-A Ctrl-A   send one Ctrl-A to the guest
// Other keys after Ctrl-A are ignored, as in QEMU.

export const ESCAPE_KEY = 0x01; // Ctrl-A

export const ESCAPE_HELP =
  'Ctrl-A x: quit (summary printed, status 130); Ctrl-A Ctrl-A: send Ctrl-A to the guest; Ctrl-A h: this help';

export interface EscapeActions {
  /** Bytes for the guest, in the order typed. */
  toGuest(bytes: Uint8Array): void;
  quit(): void;
  help(): void;
}

export class ConsoleEscape {
  /** Ctrl-A was the last key: the next one is a command. It may come in the next read. */
  private escaped = false;
  private quitting = false;

  constructor(private readonly actions: EscapeActions) {}

  feed(data: Uint8Array): void {
    if (this.quitting) return; // nothing typed after the quit key reaches the guest
    let start = 0;
    const pass = (end: number) => {
      if (end > start) this.actions.toGuest(data.subarray(start, end));
    };
    for (let i = 0; i < data.length; i++) {
      const key = data[i];
      if (!this.escaped) {
        if (key === ESCAPE_KEY) {
          pass(i);
          this.escaped = true;
          start = i + 1;
        }
        continue;
      }
      this.escaped = false;
      start = i + 1;
      switch (key) {
        case ESCAPE_KEY:
          this.actions.toGuest(Uint8Array.of(ESCAPE_KEY));
          break;
        case 0x78: // x
        case 0x58: // X
          this.quitting = true;
          this.actions.quit();
          return;
        case 0x68: // h
        case 0x3f: // ?
          this.actions.help();
          break;
        default:
          break;
      }
    }
    if (!this.escaped) pass(data.length);
  }
}
