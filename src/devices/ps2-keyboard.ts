// A PS/2 (MF II) keyboard as seen from the 8042: the device commands it answers (IBM PS/2
// Keyboard and Auxiliary Device Controller reference, "Keyboard Commands") and the bytes it sends.
// It speaks scan code set 2; the 8042 translates to set 1 when its XLATE bit is on.

const ACK = 0xfa;
const RESEND = 0xfe;
const BAT_OK = 0xaa;
const ECHO = 0xee;
/** MF II keyboard identification. */
const ID = [0xab, 0x83];
const DEFAULT_TYPEMATIC = 0x2b; // 10.9 characters/s after 500 ms

export interface Ps2KeyboardState {
  queue: number[];
  pendingCommand: number;
  scanning: boolean;
  leds: number;
  scanCodeSet: number;
  typematic: number;
  lastSent: number;
}

export class Ps2Keyboard {
  private queue: number[] = [];
  /** A command waiting for its argument byte (0xED, 0xF0, 0xF3), or 0. */
  private pendingCommand = 0;
  private scanning = true;
  private leds = 0;
  private scanCodeSet = 2;
  private typematic = DEFAULT_TYPEMATIC;
  private lastSent = 0;

  get ledState(): number {
    return this.leds;
  }

  get hasOutput(): boolean {
    return this.queue.length > 0;
  }

  /** The next byte the keyboard sends to the controller. */
  shift(): number | undefined {
    const byte = this.queue.shift();
    if (byte !== undefined) this.lastSent = byte;
    return byte;
  }

  /** Key make/break codes from the host; a keyboard with scanning disabled drops them. */
  press(scanCodes: Iterable<number>): void {
    if (!this.scanning) return;
    for (const code of scanCodes) this.queue.push(code & 0xff);
  }

  private setDefaults(): void {
    this.typematic = DEFAULT_TYPEMATIC;
    this.scanCodeSet = 2;
  }

  /** A byte the controller sends to the keyboard. */
  write(byte: number): void {
    const send = (...bytes: number[]) => this.queue.push(...bytes);
    if (this.pendingCommand !== 0) {
      const command = this.pendingCommand;
      this.pendingCommand = 0;
      if (command === 0xed) {
        this.leds = byte & 0x07;
        send(ACK);
      } else if (command === 0xf3) {
        this.typematic = byte & 0x7f;
        send(ACK);
      } else if (byte === 0) {
        send(ACK, this.scanCodeSet); // 0xF0 0x00: report the current set
      } else if (byte <= 3) {
        this.scanCodeSet = byte;
        send(ACK);
      } else {
        send(RESEND);
      }
      return;
    }
    switch (byte) {
      case 0xed: // set LEDs
      case 0xf0: // select scan code set
      case 0xf3: // set typematic rate and delay
        this.pendingCommand = byte;
        send(ACK);
        return;
      case 0xee:
        send(ECHO);
        return;
      case 0xf2:
        send(ACK, ...ID);
        return;
      case 0xf4:
        this.scanning = true;
        send(ACK);
        return;
      case 0xf5: // disable scanning and restore defaults
        this.scanning = false;
        this.setDefaults();
        send(ACK);
        return;
      case 0xf6:
        this.setDefaults();
        send(ACK);
        return;
      case 0xf7: // set-3 key type commands: accepted, without effect on set 2
      case 0xf8:
      case 0xf9:
      case 0xfa:
      case 0xfb:
      case 0xfc:
      case 0xfd:
        send(ACK);
        return;
      case 0xfe:
        send(this.lastSent);
        return;
      case 0xff: // reset: acknowledge, then the basic assurance test passes at once
        this.queue = [];
        this.setDefaults();
        this.leds = 0;
        this.scanning = true;
        send(ACK, BAT_OK);
        return;
      default:
        send(RESEND);
    }
  }

  saveState(): Ps2KeyboardState {
    return {
      queue: [...this.queue],
      pendingCommand: this.pendingCommand,
      scanning: this.scanning,
      leds: this.leds,
      scanCodeSet: this.scanCodeSet,
      typematic: this.typematic,
      lastSent: this.lastSent,
    };
  }

  restoreState(s: Ps2KeyboardState): void {
    this.queue = [...s.queue];
    this.pendingCommand = s.pendingCommand;
    this.scanning = s.scanning;
    this.leds = s.leds;
    this.scanCodeSet = s.scanCodeSet;
    this.typematic = s.typematic;
    this.lastSent = s.lastSent;
  }
}
