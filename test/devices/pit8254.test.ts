import { beforeEach, describe, expect, it } from 'vitest';
import { ManualClock, nsAtTick } from '../../src/devices/clock.js';
import { PIT_HZ, Pit8254 } from '../../src/devices/pit8254.js';
import { SystemControlPort } from '../../src/devices/system-control-port.js';
import { ports, RecordingIrq, type Ports } from './helpers.js';

const CH0 = 0x40;
const CH2 = 0x42;
const MODE = 0x43;
const PORT_B = 0x61;

/** Guest time of `ticks` PIT input clocks after `from`. */
const at = (ticks: number, from = 0) => nsAtTick(from, ticks, PIT_HZ);

describe('8254 PIT', () => {
  let clock: ManualClock;
  let irq0: RecordingIrq;
  let pit: Pit8254;
  let io: Ports;
  beforeEach(() => {
    clock = new ManualClock();
    irq0 = new RecordingIrq();
    pit = new Pit8254(clock, irq0);
    io = ports([0x40, 4, pit], [PORT_B, 1, new SystemControlPort(pit)]);
  });

  const program = (counter: number, control: number, count: number) => {
    io.outb(MODE, control);
    io.outb(CH0 + counter, count & 0xff);
    io.outb(CH0 + counter, count >> 8);
  };
  const readBackStatus = (counter: number) => {
    io.outb(MODE, 0xe0 | (2 << counter));
    return io.inb(CH0 + counter);
  };
  const latchedCount = (counter: number) => {
    io.outb(MODE, counter << 6);
    return io.inb(CH0 + counter) | (io.inb(CH0 + counter) << 8);
  };

  it('comes up as a BIOS leaves it: counter 0 in mode 3 at 18.2 Hz', () => {
    expect(readBackStatus(0) & 0x3f).toBe(0x36);
    expect(pit.nextEventNs()).toBe(at(65536));
  });

  it('reports one IRQ 0 edge per period in mode 2 (Linux periodic tick, 100 Hz)', () => {
    program(0, 0x34, 11932);
    const period = (11932 / PIT_HZ) * 1e9;
    let previous = 0;
    for (let i = 1; i <= 50; i++) {
      const next = pit.nextEventNs()!;
      expect(Math.abs(next - previous - period)).toBeLessThanOrEqual(1);
      expect(next).toBe(at(11932 * i));
      clock.set(next - 1);
      pit.update();
      expect(irq0.rises).toBe(i - 1);
      clock.set(next);
      pit.update();
      expect(irq0.rises).toBe(i);
      expect(irq0.level).toBe(true);
      previous = next;
    }
    // Periods passed without update() reach the line as one edge; the other four are owed, and
    // so is that one: the last tick was never taken here, and the two merge.
    clock.advance(period * 5.5);
    pit.update();
    expect(irq0.rises).toBe(51);
    expect(pit.missedTicks).toBe(5);
    expect(pit.nextEventNs()).toBe(at(11932 * 56));
  });

  it('raises the ticks a late update() merged one at a time, each when the CPU takes the last', () => {
    program(0, 0x34, 4773); // 250 Hz
    clock.set(at(4773 * 10)); // ten periods with no update(): the VMM did not run
    pit.update();
    expect(irq0.rises).toBe(1);
    expect(pit.missedTicks).toBe(9);
    for (let taken = 1; taken <= 9; taken++) {
      pit.interruptTaken();
      expect(irq0.rises).toBe(1 + taken);
      expect(irq0.level).toBe(true);
    }
    expect(pit.missedTicks).toBe(0);
    pit.interruptTaken(); // nothing more is owed
    expect(irq0.rises).toBe(10);
    // The next period comes on time, and a tick the guest misses itself (IRQ 0 not taken) is
    // not owed: update() was on time.
    clock.set(at(4773 * 11));
    pit.update();
    clock.set(at(4773 * 12));
    pit.update();
    expect(irq0.rises).toBe(12);
    expect(pit.missedTicks).toBe(0);
  });

  it('owes every late period when the last tick was still waiting to be taken (they would merge)', () => {
    program(0, 0x34, 4773);
    clock.set(at(4773));
    pit.update(); // on time, not taken yet
    clock.set(at(4773 * 5)); // four periods late, the first tick still waiting
    pit.update();
    expect(pit.missedTicks).toBe(4);
  });

  it('forgets owed ticks when counter 0 is programmed again, and keeps them in a snapshot', () => {
    program(0, 0x34, 4773);
    clock.set(at(4773 * 6));
    pit.update();
    expect(pit.missedTicks).toBe(5);
    const copy = new Pit8254(clock, new RecordingIrq());
    copy.restore(pit.snapshot());
    expect(copy.missedTicks).toBe(5);
    latchedCount(0); // a latch is not a new programming
    expect(pit.missedTicks).toBe(5);
    program(0, 0x34, 1193);
    expect(pit.missedTicks).toBe(0);
    pit.interruptTaken();
    expect(irq0.rises).toBe(1);
  });

  it('owes a one-shot count nothing', () => {
    io.outb(MODE, 0x38); // mode 4, as Linux's one-shot clockevent
    io.outb(CH0, 100);
    io.outb(CH0, 0);
    clock.set(at(100_000));
    pit.update();
    expect(pit.missedTicks).toBe(0);
  });

  it('counts down in mode 2 and reloads at the period', () => {
    program(0, 0x34, 1000);
    clock.set(at(1));
    expect(latchedCount(0)).toBe(999);
    clock.set(at(999));
    expect(latchedCount(0)).toBe(1);
    expect(readBackStatus(0) & 0x80).toBe(0); // OUT low for the last tick
    clock.set(at(1000));
    expect(latchedCount(0)).toBe(1000);
    expect(readBackStatus(0) & 0x80).toBe(0x80);
  });

  it('in mode 0 holds OUT low until the count expires, then raises IRQ 0 once', () => {
    program(0, 0x30, 1000);
    expect(irq0.level).toBe(false);
    expect(readBackStatus(0) & 0x80).toBe(0);
    expect(pit.nextEventNs()).toBe(at(1000));
    clock.set(at(999));
    pit.update();
    expect(irq0.rises).toBe(0);
    expect(latchedCount(0)).toBe(1);
    clock.set(at(1000));
    pit.update();
    expect(irq0.rises).toBe(1);
    expect(readBackStatus(0) & 0x80).toBe(0x80);
    expect(pit.nextEventNs()).toBeUndefined();
    clock.set(at(1010));
    expect(latchedCount(0)).toBe(0x10000 - 10); // keeps counting, wrapped
    expect(readBackStatus(0) & 0x80).toBe(0x80);
    // Rewriting the count drops OUT at once and starts over.
    program(0, 0x30, 5);
    expect(irq0.level).toBe(false);
    expect(pit.nextEventNs()).toBe(at(5, at(1010)));
  });

  it('in mode 0 stops counting after the first byte of a new count', () => {
    program(0, 0x30, 100);
    clock.set(at(10));
    io.outb(CH0, 50);
    clock.set(at(200));
    expect(readBackStatus(0) & 0x80).toBe(0);
    expect(pit.nextEventNs()).toBeUndefined();
    io.outb(CH0, 0);
    expect(pit.nextEventNs()).toBe(at(50, at(200))); // counting restarts at the write
  });

  it('in mode 3 produces a square wave with a rising edge each period', () => {
    program(0, 0x36, 100);
    clock.set(at(10));
    expect(readBackStatus(0) & 0x80).toBe(0x80);
    expect(latchedCount(0)).toBe(80); // decrements by two
    clock.set(at(60));
    expect(readBackStatus(0) & 0x80).toBe(0);
    expect(pit.nextEventNs()).toBe(at(100));
    clock.set(at(100));
    pit.update();
    expect(irq0.rises).toBe(1);
    expect(readBackStatus(0) & 0x80).toBe(0x80);
    expect(pit.nextEventNs()).toBe(at(200));
  });

  it('in mode 4 strobes once (Linux one-shot clockevent: 0x38)', () => {
    program(0, 0x38, 100);
    expect(readBackStatus(0) & 0x80).toBe(0x80);
    expect(pit.nextEventNs()).toBe(at(101));
    clock.set(at(100));
    expect(readBackStatus(0) & 0x80).toBe(0);
    clock.set(at(101));
    pit.update();
    expect(irq0.rises).toBe(1);
    expect(pit.nextEventNs()).toBeUndefined();
    // Linux's next event: just a new count, no control word.
    io.outb(CH0, 50);
    io.outb(CH0, 0);
    expect(pit.nextEventNs()).toBe(at(51, at(101)));
  });

  it('in modes 1 and 5 waits for a GATE trigger', () => {
    program(2, 0xb2, 100); // counter 2, mode 1; GATE 2 is low
    expect(pit.out(2)).toBe(true);
    io.outb(PORT_B, 0x01);
    expect(pit.out(2)).toBe(false);
    clock.set(at(100));
    expect(pit.out(2)).toBe(true);
    program(2, 0xba, 10); // mode 5
    io.outb(PORT_B, 0x00);
    io.outb(PORT_B, 0x01); // the trigger: counting starts here
    const trigger = clock.nowNs();
    clock.set(at(9, trigger));
    expect(pit.out(2)).toBe(true);
    clock.set(at(10, trigger));
    expect(pit.out(2)).toBe(false); // the strobe
    clock.set(at(11, trigger));
    expect(pit.out(2)).toBe(true);
  });

  it('latches the count: later reads return the latched value, a second latch is ignored', () => {
    program(0, 0x34, 10000);
    clock.set(at(1000));
    io.outb(MODE, 0x00);
    clock.set(at(3000));
    io.outb(MODE, 0x00);
    expect(io.inb(CH0)).toBe(9000 & 0xff);
    expect(io.inb(CH0)).toBe(9000 >> 8);
    expect(latchedCount(0)).toBe(7000);
  });

  it('reads back status then count, with null count until a count is loaded', () => {
    io.outb(MODE, 0x34);
    expect(readBackStatus(0)).toBe(0x40 | 0x34 | 0x80);
    io.outb(CH0, 0x10);
    io.outb(CH0, 0x27); // 10000
    clock.set(at(5));
    io.outb(MODE, 0xc2); // latch count and status of counter 0
    expect(io.inb(CH0)).toBe(0xb4); // OUT high, count loaded, LSB/MSB, mode 2, binary
    expect(io.inb(CH0) | (io.inb(CH0) << 8)).toBe(9995);
    // A new count in mode 2 waits for the end of the period, with null count set meanwhile.
    io.outb(CH0, 100);
    io.outb(CH0, 0);
    expect(readBackStatus(0) & 0x40).toBe(0x40);
    expect(pit.nextEventNs()).toBe(at(10000));
    clock.set(at(10000));
    pit.update();
    expect(readBackStatus(0) & 0x40).toBe(0);
    expect(pit.nextEventNs()).toBe(at(10100));
  });

  it('counts in BCD', () => {
    program(0, 0x31, 0x1000); // mode 0, BCD 1000
    clock.set(at(1));
    expect(latchedCount(0)).toBe(0x0999);
  });

  it('reads an unlatched count LSB then MSB, as quick_pit_calibrate does', () => {
    io.outb(PORT_B, (io.inb(PORT_B) & ~0x02) | 0x01);
    io.outb(MODE, 0xb0);
    io.outb(CH2, 0xff);
    io.outb(CH2, 0xff);
    const verifyMsb = (value: number) => {
      clock.advance(1000);
      io.inb(CH2);
      clock.advance(1000);
      return io.inb(CH2) === value;
    };
    verifyMsb(0);
    // pit_expect_msb: the MSB holds each value for 256 ticks (214.6 us) then moves on.
    for (let msb = 0xff; msb > 0xf0; msb--) {
      let count = 0;
      while (count < 50000 && verifyMsb(msb)) count++;
      expect(count).toBeGreaterThan(5);
      expect(count).toBeLessThan(200);
    }
  });

  it("passes Linux's pit_calibrate_tsc on counter 2 gated through port 0x61", () => {
    const CAL_LATCH = Math.floor(PIT_HZ / (1000 / 10));
    const start = clock.nowNs();
    // Set the gate high, disable the speaker.
    io.outb(PORT_B, (io.inb(PORT_B) & ~0x02) | 0x01);
    // Counter 2, mode 0, LSB then MSB.
    io.outb(MODE, 0xb0);
    io.outb(CH2, CAL_LATCH & 0xff);
    io.outb(CH2, CAL_LATCH >> 8);
    let pitcnt = 0;
    for (;;) {
      clock.advance(1000); // each poll takes 1 us of guest time
      if (io.inb(PORT_B) & 0x20) break;
      pitcnt++;
    }
    expect(pitcnt).toBeGreaterThanOrEqual(1000); // loopmin
    const elapsed = clock.nowNs() - start;
    expect(Math.abs(elapsed - (CAL_LATCH / PIT_HZ) * 1e9)).toBeLessThan(2000);
    expect(irq0.rises).toBe(0); // counter 2 has no interrupt
  });

  it('holds counter 2 while its GATE is low', () => {
    program(2, 0xb0, 100);
    clock.set(at(500));
    expect(pit.out(2)).toBe(false);
    io.outb(PORT_B, 0x01);
    clock.set(at(599));
    expect(pit.out(2)).toBe(false);
    clock.set(at(600));
    expect(pit.out(2)).toBe(true);
  });

  it('restores a snapshot mid-period', () => {
    program(0, 0x34, 11932);
    clock.set(at(5000));
    const snapshot = JSON.parse(JSON.stringify(pit.snapshot()));
    const other = new Pit8254(clock, new RecordingIrq());
    other.restore(snapshot);
    expect(other.nextEventNs()).toBe(at(11932));
    other.write(3, 1, 0x00);
    expect(other.read(0, 1) | (other.read(0, 1) << 8)).toBe(11932 - 5000);
  });
});

describe('system control port B (0x61)', () => {
  it('keeps bits 0-3, toggles the refresh bit on each read and shows OUT 2', () => {
    const clock = new ManualClock();
    const pit = new Pit8254(clock);
    const port = new SystemControlPort(pit);
    port.write(0, 1, 0xff);
    const first = port.read(0, 1);
    const second = port.read(0, 1);
    expect(first & 0x0f).toBe(0x0f);
    expect((first ^ second) & 0x10).toBe(0x10);
    expect(first & 0xc0).toBe(0);
    expect(port.speakerData).toBe(true);
    // Counter 2 in mode 3 at reset: OUT high while gated on.
    expect(first & 0x20).toBe(0x20);
    const restored = new SystemControlPort(pit);
    restored.restore(port.snapshot());
    expect(restored.read(0, 1) & 0x1f).toBe(second & 0x1f ^ 0x10);
  });
});
