// The HPET as Linux's driver uses it (IA-PC HPET specification 1.0a): capabilities, the
// counter, one-shot and periodic comparators, 32-bit mode, level interrupts and legacy routing.
import { beforeEach, describe, expect, it } from 'vitest';
import { ManualClock } from '../../src/devices/clock.js';
import { Hpet } from '../../src/devices/hpet.js';
import { RecordingIrq } from './helpers.js';

const NS_PER_TICK = 10; // 100 MHz
const CONFIG = 0x010;
const STATUS = 0x020;
const COUNTER = 0x0f0;
const timerConfig = (n: number) => 0x100 + 0x20 * n;
const comparator = (n: number) => 0x108 + 0x20 * n;
const ENABLE_CNF = 1;
const LEG_RT_CNF = 2;
const TN_LEVEL = 1 << 1;
const TN_INT_ENB = 1 << 2;
const TN_PERIODIC = 1 << 3;
const TN_VAL_SET = 1 << 6;
const TN_32BIT = 1 << 8;
const route = (pin: number) => pin << 9;

describe('HPET', () => {
  let clock: ManualClock;
  let gsis: Map<number, RecordingIrq>;
  let irq0: RecordingIrq;
  let irq8: RecordingIrq;
  let legacy: boolean[];
  let hpet: Hpet;
  const read = (offset: number) => hpet.read(offset, 4);
  const write = (offset: number, value: number) => hpet.write(offset, 4, value);
  const gsi = (pin: number) => {
    if (!gsis.has(pin)) gsis.set(pin, new RecordingIrq());
    return gsis.get(pin)!;
  };
  const advanceTicks = (ticks: number) => {
    clock.advance(ticks * NS_PER_TICK);
    hpet.update();
  };

  beforeEach(() => {
    clock = new ManualClock();
    gsis = new Map();
    irq0 = new RecordingIrq();
    irq8 = new RecordingIrq();
    legacy = [];
    hpet = new Hpet(clock, { gsi, legacyIrq0: irq0, legacyIrq8: irq8, onLegacyReplacement: (on) => legacy.push(on) });
  });

  it('reports three 64-bit timers at 100 MHz with legacy routing, Intel as vendor', () => {
    expect(read(0x000)).toBe(0x8086a201);
    expect(read(0x004)).toBe(10_000_000); // femtoseconds per tick
    expect(read(timerConfig(0)) & 0x30).toBe(0x30); // periodic and 64-bit capable
    expect(read(timerConfig(0) + 4)).toBe(0x00ff0104); // routable to pins 2, 8, 16-23
    expect(read(comparator(1))).toBe(0xffffffff);
    expect(read(comparator(1) + 4)).toBe(0xffffffff);
  });

  it('counts only while enabled, and the counter can be written while halted', () => {
    clock.advance(1000);
    expect(read(COUNTER)).toBe(0);
    write(CONFIG, ENABLE_CNF);
    advanceTicks(250);
    expect(read(COUNTER)).toBe(250);
    write(CONFIG, 0);
    advanceTicks(100);
    expect(read(COUNTER)).toBe(250);
    write(COUNTER, 5);
    write(COUNTER + 4, 1);
    expect(read(COUNTER)).toBe(5);
    expect(read(COUNTER + 4)).toBe(1);
  });

  it('fires a one-shot comparator once, as a rising edge on its routed pin', () => {
    write(timerConfig(2), TN_INT_ENB | route(20));
    write(comparator(2), 1000);
    write(comparator(2) + 4, 0);
    write(CONFIG, ENABLE_CNF);
    expect(hpet.nextEventNs()).toBe(1000 * NS_PER_TICK);
    advanceTicks(999);
    expect(gsi(20).rises).toBe(0);
    advanceTicks(1);
    expect(gsi(20).rises).toBe(1);
    advanceTicks(100_000);
    expect(gsi(20).rises).toBe(1);
    expect(hpet.nextEventNs()).toBeUndefined();
  });

  it('fires a periodic timer every period after VAL_SET, as Linux programs it', () => {
    write(CONFIG, LEG_RT_CNF);
    expect(legacy).toEqual([true]);
    write(timerConfig(0), TN_INT_ENB | TN_PERIODIC | TN_VAL_SET | TN_32BIT);
    write(comparator(0), 500);
    write(comparator(0), 500); // the second write sets the period only
    write(CONFIG, ENABLE_CNF | LEG_RT_CNF);
    advanceTicks(500);
    advanceTicks(500);
    advanceTicks(500);
    expect(irq0.rises).toBe(3);
    expect(read(comparator(0))).toBe(2000);
    // Four periods without update(): one edge now, three owed, and a fourth for the edge now,
    // which merges with the last (never taken here).
    advanceTicks(2000);
    expect(irq0.rises).toBe(4);
    expect(read(comparator(0))).toBe(4000);
    for (let taken = 1; taken <= 4; taken++) {
      hpet.interruptTaken(2); // IRQ 0's pin: the CPU took the last tick
      expect(irq0.rises).toBe(4 + taken);
    }
    hpet.interruptTaken(2);
    expect(irq0.rises).toBe(8);
    advanceTicks(500); // the next period on time
    expect(irq0.rises).toBe(9);
  });

  it('raises owed ticks only for the pin whose interrupt the CPU took, and forgets them when reprogrammed', () => {
    write(timerConfig(2), TN_INT_ENB | TN_PERIODIC | TN_VAL_SET | TN_32BIT | route(20));
    write(comparator(2), 100);
    write(comparator(2), 100);
    write(CONFIG, ENABLE_CNF);
    advanceTicks(1000); // ten periods late
    expect(gsi(20).rises).toBe(1);
    hpet.interruptTaken(2);
    hpet.interruptTaken(21);
    expect(gsi(20).rises).toBe(1);
    hpet.interruptTaken(20);
    expect(gsi(20).rises).toBe(2);
    const copy = new Hpet(clock, { gsi, legacyIrq0: irq0, legacyIrq8: irq8, onLegacyReplacement: () => {} });
    copy.restore(hpet.snapshot());
    expect(copy.snapshot()).toEqual(hpet.snapshot());
    write(comparator(2), 50); // a new period
    hpet.interruptTaken(20);
    expect(gsi(20).rises).toBe(2);
  });

  it('owes nothing more for a late period once the CPU took the last tick', () => {
    write(CONFIG, LEG_RT_CNF);
    write(timerConfig(0), TN_INT_ENB | TN_PERIODIC | TN_VAL_SET | TN_32BIT);
    write(comparator(0), 500);
    write(comparator(0), 500);
    write(CONFIG, ENABLE_CNF | LEG_RT_CNF);
    advanceTicks(500);
    hpet.interruptTaken(2); // taken: nothing waits
    advanceTicks(1500); // three periods late: one edge, two owed
    expect(irq0.rises).toBe(2);
    hpet.interruptTaken(2);
    hpet.interruptTaken(2);
    hpet.interruptTaken(2);
    expect(irq0.rises).toBe(4);
  });

  it('owes a level-triggered periodic timer nothing: its status bit holds the request', () => {
    write(timerConfig(1), TN_INT_ENB | TN_LEVEL | TN_PERIODIC | TN_VAL_SET | TN_32BIT | route(8));
    write(comparator(1), 10);
    write(comparator(1), 10);
    write(CONFIG, ENABLE_CNF);
    advanceTicks(100);
    write(STATUS, 2);
    hpet.interruptTaken(8);
    expect(gsi(8).rises).toBe(1);
  });

  it('holds a level interrupt until the status bit is cleared', () => {
    write(timerConfig(1), TN_INT_ENB | TN_LEVEL | route(8));
    write(comparator(1), 10);
    write(comparator(1) + 4, 0);
    write(CONFIG, ENABLE_CNF);
    advanceTicks(10);
    expect(read(STATUS)).toBe(2);
    expect(gsi(8).level).toBe(true);
    write(STATUS, 2);
    expect(read(STATUS)).toBe(0);
    expect(gsi(8).level).toBe(false);
  });

  it('compares a 32-bit timer with the counter low half, again after each wrap', () => {
    write(COUNTER, 0xffffff00);
    write(timerConfig(2), TN_INT_ENB | TN_32BIT | route(21));
    write(comparator(2), 0x10);
    expect(read(comparator(2) + 4)).toBe(0);
    write(CONFIG, ENABLE_CNF);
    advanceTicks(0x110);
    expect(gsi(21).rises).toBe(1);
    expect(hpet.nextEventNs()).toBe((0x110 + 2 ** 32) * NS_PER_TICK);
  });

  it('saves and restores its state', () => {
    write(timerConfig(0), TN_INT_ENB);
    write(comparator(0), 77);
    write(CONFIG, ENABLE_CNF);
    advanceTicks(12);
    const copy = new Hpet(clock, { gsi, legacyIrq0: irq0, legacyIrq8: irq8, onLegacyReplacement: () => {} });
    copy.restore(hpet.snapshot());
    expect(copy.snapshot()).toEqual(hpet.snapshot());
    expect(copy.read(COUNTER, 4)).toBe(12);
  });
});
