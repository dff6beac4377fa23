// The 8042 keyboard controller of a PC/AT with PS/2 ports (IBM PS/2 Hardware Interface Technical
// Reference, "Keyboard/Auxiliary Device Controller"): data port 0x60, status/command port 0x64,
// the command byte, the controller commands, the output port (system reset, A20), and a PS/2
// keyboard behind it (ps2-keyboard.ts) whose set 2 codes are translated to set 1 when the
// command byte's XLATE bit is on. Keyboard data raises IRQ 1, auxiliary data IRQ 12.
//
// The auxiliary port exists but nothing is plugged into it: the controller's own aux commands
// work (enable/disable, the 0xA9 interface test passes, 0xD3 loops a byte back as aux data), and
// every byte sent to the device with 0xD4 is answered by the controller's time-out (0xFE with
// the status TIMEOUT bit), so a driver probing for a mouse is told at once that none answers
// instead of waiting out its own time-out.
//
// The controller works instantly: the input buffer is never full (IBF always reads 0).
import { readBytes, writeBytes } from './byte-io.js';
import { checkSnapshotVersion, noIrq, type Device, type DeviceSnapshot, type IrqLine } from './device.js';
import { Ps2Keyboard, type Ps2KeyboardState } from './ps2-keyboard.js';

const SNAPSHOT_VERSION = 1;
/** Offsets: the controller is attached at 0x60 and its commandPort view at 0x64. */
const DATA = 0;
const STATUS = 4;

const ST_OBF = 0x01;
const ST_SYS = 0x04;
const ST_COMMAND = 0x08; // A2: the last write went to port 0x64
const ST_UNLOCKED = 0x10; // keylock switch off
const ST_AUX = 0x20;
const ST_TIMEOUT = 0x40;

const CTR_KBD_INT = 0x01;
const CTR_AUX_INT = 0x02;
const CTR_SYS = 0x04;
const CTR_KBD_DISABLE = 0x10;
const CTR_AUX_DISABLE = 0x20;
const CTR_XLATE = 0x40;
/** What a PC BIOS typically hands over: keyboard interrupt on, translation on, aux off. */
const CTR_DEFAULT = CTR_XLATE | CTR_AUX_DISABLE | CTR_SYS | CTR_KBD_INT;

const OUT_RESET = 0x01; // active low: driving it to 0 resets the CPU
const OUT_A20 = 0x02;
const OUT_KBD_FULL = 0x10;
const OUT_AUX_FULL = 0x20;
const OUT_DEFAULT = 0xcf;

const NO_DEVICE = 0xfe;

interface OutputByte {
  value: number;
  aux: boolean;
  timeout: boolean;
}

export interface I8042Options {
  /** The CPU reset line was pulsed (command 0xFE and friends, or output port bit 0 cleared). */
  onReset?: () => void;
  /** The A20 gate changed through the output port. */
  onA20?: (enabled: boolean) => void;
}

export class I8042 implements Device {
  readonly name = 'i8042';
  /** The status/command register as its own device, for port 0x64 (0x61 between is not ours). */
  readonly commandPort: Device;
  /** The controller's 32 bytes of RAM; byte 0 is the command byte. */
  private readonly ram = new Uint8Array(32);
  private outputPort = OUT_DEFAULT;
  private lastWriteWasCommand = false;
  /** A controller command waiting for its data byte on port 0x60, or 0. */
  private pendingCommand = 0;
  private output: OutputByte | undefined;
  private lastRead = 0;
  /** Replies of the controller itself, delivered before anything from the keyboard. */
  private controllerQueue: OutputByte[] = [];
  private readonly keyboard = new Ps2Keyboard();
  /** Translation saw a set 2 break prefix (0xF0): the next code gets bit 7. */
  private breakPrefix = false;
  private irq1Level = false;
  private irq12Level = false;

  constructor(
    private readonly irq1: IrqLine = noIrq,
    private readonly irq12: IrqLine = noIrq,
    private readonly options: I8042Options = {},
  ) {
    this.ram[0] = CTR_DEFAULT;
    const controller = this;
    this.commandPort = {
      name: 'i8042-command',
      read: (offset, size) => controller.read(offset + STATUS, size),
      write: (offset, size, value) => controller.write(offset + STATUS, size, value),
      snapshot: () => ({ version: 1 }), // the controller's snapshot holds everything
      restore: (s) => checkSnapshotVersion('i8042-command', 1, s),
    };
  }

  get a20Enabled(): boolean {
    return (this.outputPort & OUT_A20) !== 0;
  }

  /** Host key events, as set 2 make/break codes. */
  pressKey(scanCodes: Iterable<number>): void {
    this.keyboard.press(scanCodes);
    this.refill();
  }

  private get ctr(): number {
    return this.ram[0];
  }

  private set ctr(value: number) {
    this.ram[0] = value;
  }

  read(offset: number, size: number): number {
    return readBytes(offset, size, STATUS + 1, (o) => {
      if (o === STATUS) return this.status();
      if (o !== DATA) return 0xff;
      // An empty output buffer still reads as its last byte.
      if (this.output) this.lastRead = this.output.value;
      this.output = undefined;
      this.updateIrqs();
      this.refill();
      return this.lastRead;
    });
  }

  write(offset: number, size: number, value: number): void {
    writeBytes(offset, size, value, STATUS + 1, (o, v) => {
      if (o === STATUS) this.command(v);
      else if (o === DATA) this.data(v);
      this.refill();
    });
  }

  private status(): number {
    const out = this.output;
    return (
      (out ? ST_OBF : 0) |
      (this.ctr & CTR_SYS ? ST_SYS : 0) |
      (this.lastWriteWasCommand ? ST_COMMAND : 0) |
      ST_UNLOCKED |
      (out?.aux ? ST_AUX : 0) |
      (out?.timeout ? ST_TIMEOUT : 0)
    );
  }

  private reply(value: number, aux = false, timeout = false): void {
    this.controllerQueue.push({ value, aux, timeout });
  }

  private command(command: number): void {
    this.lastWriteWasCommand = true;
    this.pendingCommand = 0;
    if (command >= 0x20 && command <= 0x3f) return this.reply(this.ram[command & 0x1f]); // read RAM
    if ((command >= 0x60 && command <= 0x7f) || (command >= 0xd1 && command <= 0xd4)) {
      this.pendingCommand = command; // write RAM / output port / output buffer / to aux
      return;
    }
    if (command >= 0xf0) {
      // Pulse output port bits 0-3 low where the command's low bits are 0: bit 0 is reset.
      if (!(command & OUT_RESET)) this.options.onReset?.();
      return;
    }
    switch (command) {
      case 0xa4: // is a password installed?
        return this.reply(0xf1);
      case 0xa7:
        this.ctr |= CTR_AUX_DISABLE;
        return;
      case 0xa8:
        this.ctr &= ~CTR_AUX_DISABLE;
        return;
      case 0xa9: // aux interface test: the lines are fine, nothing is attached
      case 0xab: // keyboard interface test
        return this.reply(0x00);
      case 0xaa: // controller self test
        this.ctr |= CTR_SYS;
        return this.reply(0x55);
      case 0xad:
        this.ctr |= CTR_KBD_DISABLE;
        return;
      case 0xae:
        this.ctr &= ~CTR_KBD_DISABLE;
        return;
      case 0xc0: // input port: keyboard not inhibited
        return this.reply(0x80);
      case 0xd0:
        return this.reply(this.outputPortValue());
      case 0xdd:
        return this.writeOutputPort(this.outputPort & ~OUT_A20);
      case 0xdf:
        return this.writeOutputPort(this.outputPort | OUT_A20);
      case 0xe0: // test inputs
        return this.reply(0x00);
      default:
        return; // unknown commands are ignored
    }
  }

  private data(value: number): void {
    this.lastWriteWasCommand = false;
    const command = this.pendingCommand;
    this.pendingCommand = 0;
    if (command >= 0x60 && command <= 0x7f) {
      this.ram[command & 0x1f] = value;
      this.updateIrqs(); // the interrupt enables may have changed
    } else if (command === 0xd1) {
      this.writeOutputPort(value);
    } else if (command === 0xd2) {
      this.reply(value); // as if from the keyboard
    } else if (command === 0xd3) {
      this.reply(value, true); // as if from the aux device
    } else if (command === 0xd4) {
      this.reply(NO_DEVICE, true, true); // no aux device answers: time-out
    } else {
      // A byte for the keyboard. Sending to it re-enables the keyboard interface, as QEMU's
      // controller and common 8042 firmware do.
      this.ctr &= ~CTR_KBD_DISABLE;
      this.keyboard.write(value);
    }
  }

  private outputPortValue(): number {
    const out = this.output;
    const full = (out && !out.aux ? OUT_KBD_FULL : 0) | (out?.aux ? OUT_AUX_FULL : 0);
    return (this.outputPort & ~(OUT_KBD_FULL | OUT_AUX_FULL)) | full;
  }

  private writeOutputPort(value: number): void {
    const a20Changed = ((value ^ this.outputPort) & OUT_A20) !== 0;
    this.outputPort = value | OUT_RESET; // the reset line is a pulse: it does not stay low
    if (a20Changed) this.options.onA20?.((value & OUT_A20) !== 0);
    if (!(value & OUT_RESET)) this.options.onReset?.();
  }

  /** Move the next byte into an empty output buffer: the controller's own first, then the keyboard's. */
  private refill(): void {
    if (!this.output) {
      this.output = this.controllerQueue.shift();
      if (!this.output && !(this.ctr & CTR_KBD_DISABLE)) {
        const value = this.nextKeyboardByte();
        if (value !== undefined) this.output = { value, aux: false, timeout: false };
      }
    }
    this.updateIrqs();
  }

  private nextKeyboardByte(): number | undefined {
    for (;;) {
      const byte = this.keyboard.shift();
      if (byte === undefined || !(this.ctr & CTR_XLATE)) return byte;
      if (byte === 0xf0) {
        this.breakPrefix = true;
        continue;
      }
      const translated = translateSet2(byte) | (this.breakPrefix ? 0x80 : 0);
      this.breakPrefix = false;
      return translated;
    }
  }

  /** IRQ 1 and 12 follow a full output buffer from their side, when the command byte enables them. */
  private updateIrqs(force = false): void {
    const out = this.output;
    const kbd = !!out && !out.aux && (this.ctr & CTR_KBD_INT) !== 0;
    const aux = !!out && out.aux && (this.ctr & CTR_AUX_INT) !== 0;
    if (force || kbd !== this.irq1Level) this.irq1.set((this.irq1Level = kbd));
    if (force || aux !== this.irq12Level) this.irq12.set((this.irq12Level = aux));
  }

  snapshot(): DeviceSnapshot {
    return {
      version: SNAPSHOT_VERSION,
      ram: Array.from(this.ram),
      outputPort: this.outputPort,
      lastWriteWasCommand: this.lastWriteWasCommand,
      pendingCommand: this.pendingCommand,
      output: this.output ? { ...this.output } : null,
      lastRead: this.lastRead,
      controllerQueue: this.controllerQueue.map((b) => ({ ...b })),
      keyboard: this.keyboard.saveState(),
      breakPrefix: this.breakPrefix,
    };
  }

  restore(s: DeviceSnapshot): void {
    checkSnapshotVersion(this.name, SNAPSHOT_VERSION, s);
    this.ram.set(s.ram as number[]);
    this.outputPort = s.outputPort as number;
    this.lastWriteWasCommand = s.lastWriteWasCommand as boolean;
    this.pendingCommand = s.pendingCommand as number;
    const output = s.output as OutputByte | null;
    this.output = output ? { ...output } : undefined;
    this.lastRead = s.lastRead as number;
    this.controllerQueue = (s.controllerQueue as OutputByte[]).map((b) => ({ ...b }));
    this.keyboard.restoreState(s.keyboard as Ps2KeyboardState);
    this.breakPrefix = s.breakPrefix as boolean;
    this.updateIrqs(true);
  }
}

/**
 * The 8042's set 2 to set 1 translation (the table every PC controller carries; e.g. Bochs'
 * TRANSLATION_8042). Codes from 0x80 translate to themselves except 0x83 (F7) and 0x84 (SysRq).
 */
const SET2_TO_SET1 = [
  0xff, 0x43, 0x41, 0x3f, 0x3d, 0x3b, 0x3c, 0x58, 0x64, 0x44, 0x42, 0x40, 0x3e, 0x0f, 0x29, 0x59,
  0x65, 0x38, 0x2a, 0x70, 0x1d, 0x10, 0x02, 0x5a, 0x66, 0x71, 0x2c, 0x1f, 0x1e, 0x11, 0x03, 0x5b,
  0x67, 0x2e, 0x2d, 0x20, 0x12, 0x05, 0x04, 0x5c, 0x68, 0x39, 0x2f, 0x21, 0x14, 0x13, 0x06, 0x5d,
  0x69, 0x31, 0x30, 0x23, 0x22, 0x15, 0x07, 0x5e, 0x6a, 0x72, 0x32, 0x24, 0x16, 0x08, 0x09, 0x5f,
  0x6b, 0x33, 0x25, 0x17, 0x18, 0x0b, 0x0a, 0x60, 0x6c, 0x34, 0x35, 0x26, 0x27, 0x19, 0x0c, 0x61,
  0x6d, 0x73, 0x28, 0x74, 0x1a, 0x0d, 0x62, 0x6e, 0x3a, 0x36, 0x1c, 0x1b, 0x75, 0x2b, 0x63, 0x76,
  0x55, 0x56, 0x77, 0x78, 0x79, 0x7a, 0x0e, 0x7b, 0x7c, 0x4f, 0x7d, 0x4b, 0x47, 0x7e, 0x7f, 0x6f,
  0x52, 0x53, 0x50, 0x4c, 0x4d, 0x48, 0x01, 0x45, 0x57, 0x4e, 0x51, 0x4a, 0x37, 0x49, 0x46, 0x54,
];

function translateSet2(code: number): number {
  if (code < 0x80) return SET2_TO_SET1[code];
  if (code === 0x83) return 0x41;
  if (code === 0x84) return 0x54;
  return code;
}
