import { beforeEach, describe, expect, it } from 'vitest';
import { I8042 } from '../../src/devices/i8042.js';
import { SystemControlPort } from '../../src/devices/system-control-port.js';
import { Pit8254 } from '../../src/devices/pit8254.js';
import { ManualClock } from '../../src/devices/clock.js';
import { ports, RecordingIrq, type Ports } from './helpers.js';

const DATA = 0x60;
const STATUS = 0x64;
const OBF = 0x01;
const AUX = 0x20;
const TIMEOUT = 0x40;

describe('8042 keyboard controller', () => {
  let irq1: RecordingIrq;
  let irq12: RecordingIrq;
  let resets: number;
  let a20: boolean[];
  let kbc: I8042;
  let io: Ports;

  beforeEach(() => {
    irq1 = new RecordingIrq();
    irq12 = new RecordingIrq();
    resets = 0;
    a20 = [];
    kbc = new I8042(irq1, irq12, { onReset: () => resets++, onA20: (on) => a20.push(on) });
    // Attached as on a PC, with port B of the system control logic in between.
    const portB = new SystemControlPort(new Pit8254(new ManualClock()));
    io = ports([0x60, 1, kbc], [0x61, 1, portB], [0x64, 1, kbc.commandPort]);
  });

  /** drivers/input/serio/i8042.c __i8042_command: write command, parameters, read replies. */
  const command = (cmd: number, params: number[] = [], replies = 0) => {
    io.outb(STATUS, cmd);
    for (const p of params) io.outb(DATA, p);
    const out: number[] = [];
    for (let i = 0; i < replies; i++) {
      expect(io.inb(STATUS) & OBF).toBe(OBF);
      out.push(io.inb(DATA));
    }
    return out;
  };
  const drain = () => {
    const out: number[] = [];
    while (io.inb(STATUS) & OBF) out.push(io.inb(DATA));
    return out;
  };
  const keyboard = (byte: number) => (io.outb(DATA, byte), drain());

  it("survives Linux's probe: controller check, flush, self test, CTR read and write", () => {
    // i8042_controller_check: a status of 0xFF would mean no controller.
    expect(io.inb(STATUS)).not.toBe(0xff);
    expect(drain()).toEqual([]); // i8042_flush
    expect(command(0xaa, [], 1)).toEqual([0x55]); // i8042_controller_selftest
    expect(io.inb(STATUS) & 0x04).toBe(0x04); // SYS flag
    // i8042_controller_init: two identical CTR reads, then KBDDIS set and KBDINT cleared.
    const [ctr] = command(0x20, [], 1);
    expect(command(0x20, [], 1)).toEqual([ctr]);
    expect(ctr & 0x40).toBe(0x40); // translation on, as a BIOS leaves it
    command(0x60, [(ctr | 0x10) & ~0x01]);
    expect(command(0x20, [], 1)).toEqual([(ctr | 0x10) & ~0x01]);
    expect(drain()).toEqual([]);
    expect(io.inb(STATUS) & 0x10).toBe(0x10); // keylock off: no "Keylock active" warning
  });

  it('finds an aux port with nothing attached, the way i8042_check_aux looks', () => {
    expect(command(0xd3, [0x5a], 0).length).toBe(0);
    expect(io.inb(STATUS) & (OBF | AUX)).toBe(OBF | AUX);
    expect(io.inb(DATA)).toBe(0x5a);
    // i8042_toggle_aux: the AUXDIS bit follows 0xA7/0xA8 and CTR writes.
    command(0xa8);
    expect(command(0x20, [], 1)[0] & 0x20).toBe(0);
    command(0xa7);
    expect(command(0x20, [], 1)[0] & 0x20).toBe(0x20);
    // The aux IRQ test: with AUXINT on, a looped byte raises IRQ 12.
    const [ctr] = command(0x20, [], 1);
    command(0x60, [(ctr & ~0x20) | 0x02]);
    command(0xd3, [0xa5]);
    expect(irq12.level).toBe(true);
    expect(irq1.level).toBe(false);
    expect(io.inb(DATA)).toBe(0xa5);
    expect(irq12.level).toBe(false);
    // A mouse command gets the controller's time-out at once.
    command(0xd4, [0xf2]);
    expect(io.inb(STATUS) & (OBF | AUX | TIMEOUT)).toBe(OBF | AUX | TIMEOUT);
    expect(io.inb(DATA)).toBe(0xfe);
    expect(command(0xa9, [], 1)).toEqual([0x00]);
  });

  it('answers the interface tests and the password check', () => {
    expect(command(0xab, [], 1)).toEqual([0x00]);
    expect(command(0xa4, [], 1)).toEqual([0xf1]);
  });

  it('resets the keyboard: 0xFA then 0xAA, each raising IRQ 1', () => {
    expect(keyboard(0xff)).toEqual([0xfa, 0xaa]);
    expect(irq1.rises).toBe(2);
    expect(irq1.level).toBe(false);
  });

  it('identifies an MF II keyboard, translated while XLATE is on', () => {
    expect(keyboard(0xf2)).toEqual([0xfa, 0xab, 0x41]);
    const [ctr] = command(0x20, [], 1);
    command(0x60, [ctr & ~0x40]);
    expect(keyboard(0xf2)).toEqual([0xfa, 0xab, 0x83]);
    expect(keyboard(0xf0)).toEqual([0xfa]);
    expect(keyboard(0x00)).toEqual([0xfa, 0x02]);
  });

  it('acknowledges LEDs, typematic and scanning commands, and asks to resend unknown ones', () => {
    expect(keyboard(0xed)).toEqual([0xfa]);
    expect(keyboard(0x07)).toEqual([0xfa]);
    expect(keyboard(0xf3)).toEqual([0xfa]);
    expect(keyboard(0x20)).toEqual([0xfa]);
    expect(keyboard(0xf5)).toEqual([0xfa]);
    expect(keyboard(0xf4)).toEqual([0xfa]);
    expect(keyboard(0xee)).toEqual([0xee]);
    expect(keyboard(0x01)).toEqual([0xfe]);
  });

  it('pulses the reset line for 0xFE (and any even 0xFx), not for 0xFF', () => {
    command(0xff);
    expect(resets).toBe(0);
    command(0xfe);
    expect(resets).toBe(1);
    command(0xf0);
    expect(resets).toBe(2);
  });

  it('drives A20 and reset through the output port', () => {
    expect(kbc.a20Enabled).toBe(true);
    expect(command(0xd0, [], 1)[0] & 0x03).toBe(0x03);
    command(0xd1, [0xdd]); // arch/x86/boot/a20.c writes 0xDF; 0xDD turns A20 off
    expect(a20).toEqual([false]);
    expect(kbc.a20Enabled).toBe(false);
    command(0xd1, [0xdf]);
    expect(a20).toEqual([false, true]);
    expect(resets).toBe(0);
    command(0xd1, [0xde]);
    expect(resets).toBe(1);
  });

  it('translates key codes to set 1 and raises IRQ 1 per byte', () => {
    kbc.pressKey([0x1c, 0xf0, 0x1c]); // 'A' down and up in set 2
    expect(irq1.level).toBe(true);
    expect(io.inb(DATA)).toBe(0x1e);
    expect(irq1.level).toBe(true); // the next byte is there at once
    expect(io.inb(DATA)).toBe(0x9e);
    expect(irq1.rises).toBe(2);
    expect(irq1.level).toBe(false);
    expect(io.inb(DATA)).toBe(0x9e); // an empty buffer reads its last byte
  });

  it('holds keyboard data while the keyboard interface is disabled', () => {
    command(0xad);
    kbc.pressKey([0x1c]);
    expect(io.inb(STATUS) & OBF).toBe(0);
    command(0xae);
    expect(io.inb(STATUS) & OBF).toBe(OBF);
    expect(io.inb(DATA)).toBe(0x1e);
  });

  it('shows in A2 whether the last write went to the command port', () => {
    io.outb(STATUS, 0xa8);
    expect(io.inb(STATUS) & 0x08).toBe(0x08);
    io.outb(DATA, 0xf4);
    expect(io.inb(STATUS) & 0x08).toBe(0);
  });

  it('restores a snapshot with a byte waiting', () => {
    kbc.pressKey([0x1c, 0x32]);
    const snapshot = JSON.parse(JSON.stringify(kbc.snapshot()));
    const line = new RecordingIrq();
    const other = new I8042(line);
    other.restore(snapshot);
    expect(line.level).toBe(true);
    expect(other.read(0, 1)).toBe(0x1e);
    expect(other.read(0, 1)).toBe(0x30);
    expect(other.commandPort.read(0, 1) & OBF).toBe(0);
  });
});
