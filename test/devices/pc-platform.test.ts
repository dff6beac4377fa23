// The timers and the interrupt controller together, as the VMM wires them.
import { describe, expect, it } from 'vitest';
import { ManualClock } from '../../src/devices/clock.js';
import { CmosRtc } from '../../src/devices/cmos-rtc.js';
import { PicPair } from '../../src/devices/pic8259.js';
import { Pit8254 } from '../../src/devices/pit8254.js';
import { ports } from './helpers.js';

function platform() {
  const clock = new ManualClock();
  const pics = new PicPair();
  const pit = new Pit8254(clock, pics.irqLine(0));
  const rtc = new CmosRtc(clock, pics.irqLine(8), { startTime: 0, ramBytes: 64 << 20 });
  const io = ports([0x20, 2, pics.master], [0xa0, 2, pics.slave], [0x40, 4, pit], [0x70, 2, rtc]);
  // init_8259A with Linux's vectors: IRQ 0-7 at 0x30, IRQ 8-15 at 0x38.
  const master = [0x11, 0x30, 0x04, 0x01];
  const slave = [0x11, 0x38, 0x02, 0x01];
  master.forEach((icw, i) => io.outb(i === 0 ? 0x20 : 0x21, icw));
  slave.forEach((icw, i) => io.outb(i === 0 ? 0xa0 : 0xa1, icw));
  /** What the VMM does at a deadline: bring every timer up to date. */
  const updateTimers = () => {
    pit.update();
    rtc.update();
  };
  return { clock, pics, pit, rtc, io, updateTimers };
}

describe('PC platform timers through the 8259 pair', () => {
  it('takes one IRQ 0 per PIT period, even when the VMM is late', () => {
    const { clock, pics, pit, io, updateTimers } = platform();
    io.outb(0x43, 0x34);
    io.outb(0x40, 11932 & 0xff);
    io.outb(0x40, 11932 >> 8);
    for (let tick = 0; tick < 20; tick++) {
      // Run up to 3 ms past the deadline (a 10 ms time slice can overrun), then service.
      clock.set(pit.nextEventNs()! + 3_000_000);
      updateTimers();
      expect(pics.hasInterrupt()).toBe(true);
      expect(pics.acknowledge()).toBe(0x30);
      expect(pics.hasInterrupt()).toBe(false);
      io.outb(0x20, 0x20);
    }
  });

  it('delivers the RTC periodic interrupt as IRQ 8 through the cascade', () => {
    const { clock, pics, rtc, io, updateTimers } = platform();
    io.outb(0x21, 0x01); // mask the PIT
    io.outb(0x70, 0x0b);
    io.outb(0x71, 0x42); // PIE, 24-hour, BCD
    for (let i = 0; i < 4; i++) {
      clock.set(rtc.nextEventNs()!);
      updateTimers();
      expect(pics.acknowledge()).toBe(0x38);
      io.outb(0x70, 0x0c);
      expect(io.inb(0x71) & 0xc0).toBe(0xc0); // the handler reads C, which lowers IRQ 8
      io.outb(0xa0, 0x20);
      io.outb(0x20, 0x20);
    }
  });
});
