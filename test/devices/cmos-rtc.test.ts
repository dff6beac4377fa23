import { beforeEach, describe, expect, it } from 'vitest';
import { ManualClock } from '../../src/devices/clock.js';
import { CmosRtc } from '../../src/devices/cmos-rtc.js';
import { ports, RecordingIrq, type Ports } from './helpers.js';

const START = Date.UTC(2024, 2, 9, 13, 45, 30); // a Saturday
const MIB = 1024 * 1024;

describe('MC146818 RTC and CMOS', () => {
  let clock: ManualClock;
  let irq8: RecordingIrq;
  let rtc: CmosRtc;
  let io: Ports;
  const cmos = (index: number) => (io.outb(0x70, index), io.inb(0x71));
  const setCmos = (index: number, value: number) => (io.outb(0x70, index), io.outb(0x71, value));
  const time = () => [0x00, 0x02, 0x04, 0x06, 0x07, 0x08, 0x09, 0x32].map(cmos);

  beforeEach(() => {
    clock = new ManualClock(5e9);
    irq8 = new RecordingIrq();
    rtc = new CmosRtc(clock, irq8, { startTime: new Date(START), ramBytes: 64 * MIB });
    io = ports([0x70, 2, rtc]);
  });

  it('presents the start time in BCD, 24-hour, with the century byte', () => {
    expect(time()).toEqual([0x30, 0x45, 0x13, 0x07, 0x09, 0x03, 0x24, 0x20]);
    expect(cmos(0x0b)).toBe(0x02);
    expect(cmos(0x0d)).toBe(0x80);
  });

  it('advances with guest time', () => {
    clock.advance(31e9 - 1);
    expect(cmos(0x00)).toBe(0x00);
    expect(cmos(0x02)).toBe(0x46);
    clock.advance(1);
    expect(cmos(0x00)).toBe(0x01);
    clock.advance(11 * 3600e9);
    expect(time().slice(0, 6)).toEqual([0x01, 0x46, 0x00, 0x01, 0x10, 0x03]); // Sunday the 10th
  });

  it('honours binary mode and 12-hour mode', () => {
    setCmos(0x0b, 0x06); // binary, 24-hour
    expect(time()).toEqual([30, 45, 13, 7, 9, 3, 24, 20]);
    setCmos(0x0b, 0x04); // binary, 12-hour: 1 PM
    expect(cmos(0x04)).toBe(0x81);
    setCmos(0x0b, 0x00); // BCD, 12-hour
    expect(cmos(0x04)).toBe(0x81);
    clock.advance((10 * 3600 + 14 * 60 + 30) * 1e9); // midnight: 12 AM
    expect(cmos(0x04)).toBe(0x12);
    clock.advance(12 * 3600e9); // noon: 12 PM
    expect(cmos(0x04)).toBe(0x92);
  });

  it('sets UIP during the last 244 us before each update', () => {
    // START is on a whole second, so the second boundaries are at 5 s + k s of guest time.
    clock.set(6e9 - 244_001);
    expect(cmos(0x0a)).toBe(0x26);
    clock.set(6e9 - 244_000);
    expect(cmos(0x0a)).toBe(0xa6);
    expect(cmos(0x00)).toBe(0x30); // the old second until the update completes
    clock.set(6e9);
    expect(cmos(0x0a)).toBe(0x26);
    expect(cmos(0x00)).toBe(0x31);
  });

  it('raises IRQ 8 for the update-ended interrupt and clears it when C is read', () => {
    setCmos(0x0a, 0x20); // no periodic flag, to see UF alone
    setCmos(0x0b, 0x12); // UIE
    expect(rtc.nextEventNs()).toBe(6e9);
    clock.set(6e9);
    rtc.update();
    expect(irq8.level).toBe(true);
    expect(rtc.nextEventNs()).toBeUndefined();
    expect(cmos(0x0c)).toBe(0x90); // IRQF | UF
    expect(irq8.level).toBe(false);
    expect(cmos(0x0c)).toBe(0x00);
    expect(rtc.nextEventNs()).toBe(7e9);
  });

  it('delivers the periodic interrupt at the rate from register A', () => {
    setCmos(0x0a, 0x26); // 1024 Hz
    setCmos(0x0b, 0x42); // PIE
    let interrupts = 0;
    for (;;) {
      const next = rtc.nextEventNs()!;
      if (next > 6e9) break;
      clock.set(next);
      rtc.update();
      expect(irq8.level).toBe(true);
      expect(cmos(0x0c) & 0xc0).toBe(0xc0);
      interrupts++;
    }
    expect(interrupts).toBe(1024);
    setCmos(0x0a, 0x2f); // 2 Hz
    expect(rtc.nextEventNs()).toBe(6.5e9);
    setCmos(0x0a, 0x20); // RS = 0: off
    expect(rtc.nextEventNs()).toBeUndefined();
  });

  it('sets flags without their enables, and raises IRQ 8 when an enable meets a set flag', () => {
    clock.advance(2e9);
    rtc.update();
    expect(irq8.level).toBe(false);
    setCmos(0x0b, 0x12); // UIE, with UF already set
    expect(irq8.level).toBe(true);
    expect(cmos(0x0c)).toBe(0xd0); // IRQF | PF (1024 Hz) | UF
  });

  it('fires the alarm, with 0xC0-0xFF as "don\'t care"', () => {
    setCmos(0x0a, 0x20);
    setCmos(0x01, 0x35); // 13:45:35
    setCmos(0x03, 0x45);
    setCmos(0x05, 0x13);
    setCmos(0x0b, 0x22); // AIE
    expect(rtc.nextEventNs()).toBe(10e9);
    clock.set(10e9);
    rtc.update();
    expect(cmos(0x0c)).toBe(0xb0); // IRQF | AF | UF
    setCmos(0x05, 0xff); // any hour: next 13:45:35 is in 24 h; any minute: next in 1 h
    expect(rtc.nextEventNs()).toBe(10e9 + 3600e9);
    setCmos(0x03, 0xc0);
    expect(rtc.nextEventNs()).toBe(70e9);
  });

  it('takes a new time written under SET, then runs on from it', () => {
    // Linux's mc146818_set_time: SET, then year, month, day, hours, minutes, seconds.
    setCmos(0x0b, 0x82);
    clock.advance(5e9); // frozen meanwhile
    expect(cmos(0x00)).toBe(0x30);
    expect(cmos(0x0a) & 0x80).toBe(0);
    const writes = [[0x09, 0x25], [0x08, 0x02], [0x07, 0x28], [0x04, 0x23], [0x02, 0x59], [0x00, 0x58]];
    for (const [index, value] of writes) setCmos(index, value);
    setCmos(0x0b, 0x02);
    expect(time()).toEqual([0x58, 0x59, 0x23, 0x06, 0x28, 0x02, 0x25, 0x20]);
    clock.advance(2e9);
    expect(time()).toEqual([0x00, 0x00, 0x00, 0x07, 0x01, 0x03, 0x25, 0x20]); // 2025 is no leap year
  });

  it('accepts a time write without SET', () => {
    setCmos(0x02, 0x10);
    expect(time().slice(0, 3)).toEqual([0x30, 0x10, 0x13]);
  });

  it('holds the divider in reset and updates 500 ms after release', () => {
    setCmos(0x0a, 0x70);
    clock.advance(10e9);
    expect(cmos(0x00)).toBe(0x30);
    setCmos(0x0a, 0x26);
    clock.advance(499_999_999);
    expect(cmos(0x00)).toBe(0x30);
    clock.advance(1);
    expect(cmos(0x00)).toBe(0x31);
  });

  it('holds the memory sizes a BIOS and Linux read', () => {
    expect([cmos(0x15), cmos(0x16)]).toEqual([0x80, 0x02]); // 640 KiB
    expect([cmos(0x17), cmos(0x18)]).toEqual([0x00, 0xfc]); // 63 MiB above 1 MiB
    expect([cmos(0x30), cmos(0x31)]).toEqual([0x00, 0xfc]);
    expect([cmos(0x34), cmos(0x35)]).toEqual([0x00, 0x03]); // 48 MiB above 16 MiB in 64 KiB
    const big = new CmosRtc(clock, irq8, { startTime: START, ramBytes: 3584 * MIB });
    const read = (i: number) => (big.write(0, 1, i), big.read(1, 1));
    expect([read(0x17), read(0x18)]).toEqual([0xff, 0xff]); // capped at 0xFFFF KiB
    expect([read(0x34), read(0x35)]).toEqual([0x00, 0xdf]); // 3568 MiB above 16 MiB
  });

  it('keeps the NMI mask bit of the index and general CMOS bytes', () => {
    io.outb(0x70, 0x80 | 0x40);
    expect(rtc.nmiDisabled).toBe(true);
    io.outb(0x71, 0x5a);
    io.outb(0x70, 0x40);
    expect(rtc.nmiDisabled).toBe(false);
    expect(io.inb(0x71)).toBe(0x5a);
    expect(io.inb(0x70)).toBe(0xff); // the index register is write-only
  });

  it('restores a snapshot', () => {
    setCmos(0x0a, 0x20);
    setCmos(0x0b, 0x12);
    clock.set(6e9);
    rtc.update();
    const snapshot = JSON.parse(JSON.stringify(rtc.snapshot()));
    const line = new RecordingIrq();
    const other = new CmosRtc(clock, line, { startTime: 0, ramBytes: MIB });
    other.restore(snapshot);
    expect(line.level).toBe(true);
    const read = (i: number) => (other.write(0, 1, i), other.read(1, 1));
    expect(read(0x00)).toBe(0x31);
    expect(read(0x0c)).toBe(0x90);
    expect(line.level).toBe(false);
  });
});
