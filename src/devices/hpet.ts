// The High Precision Event Timer (IA-PC HPET specification 1.0a, Intel): a 64-bit main counter
// at 100 MHz (QEMU's rate) and three comparators, in a page at 0xFED00000. Registers: general
// capabilities (0x000), configuration (0x010: enable, legacy replacement), interrupt status
// (0x020, write 1 to clear), the main counter (0x0F0), and per timer n at 0x100 + 0x20n its
// configuration and capabilities, comparator and FSB route (held, not used).
//
// A timer fires when the main counter reaches its comparator: one-shot timers once, periodic
// timers every period (the comparator moves on by the period). Periods that pass while the VMM
// did not run reach an edge-triggered line as one edge and the rest are owed: each is raised
// when the CPU takes the last (missed-ticks.ts). Edge-triggered interrupts are a rising edge on the line
// (held high until the next one, like the PIT's IRQ 0); level-triggered ones set the timer's
// status bit and hold the line until the guest clears it. In legacy replacement mode timer 0
// drives IRQ 0 and timer 1 IRQ 8 (the PIT and RTC lose theirs); otherwise a timer drives the
// I/O APIC pin its route field names. A 32-bit timer compares with the counter's low half, so a
// one-shot one fires again every 2^32 ticks. Not modelled: FSB (MSI) delivery.
import { registerBytes } from './byte-io.js';
import { nsAtTick, ticksBetween, type Clock, type TimedDevice } from './clock.js';
import { checkSnapshotVersion, type Device, type DeviceSnapshot, type IrqLine } from './device.js';
import { MissedTicks } from './missed-ticks.js';

const SNAPSHOT_VERSION = 1;

export const HPET_TIMERS = 3;
export const HPET_HZ = 100_000_000;
/** The counter period in femtoseconds, as the capabilities register and the ACPI HPET table say. */
const PERIOD_FS = 1e15 / HPET_HZ;
const VENDOR_INTEL = 0x8086;
/** Capabilities, low half: revision 1, timers - 1, a 64-bit counter, legacy replacement routing. */
export const HPET_CAPABILITIES_LOW = 0x01 | ((HPET_TIMERS - 1) << 8) | (1 << 13) | (1 << 15) | (VENDOR_INTEL << 16);

const REG_CAPABILITIES = 0x000;
const REG_CONFIG = 0x010;
const REG_STATUS = 0x020;
const REG_COUNTER = 0x0f0;
const TIMER_BASE = 0x100;
const TIMER_STRIDE = 0x20;

const CONFIG_ENABLE = 1 << 0;
const CONFIG_LEGACY = 1 << 1;

// Timer configuration and capabilities (specification §2.3.8).
const TN_LEVEL = 1 << 1;
const TN_INT_ENABLE = 1 << 2;
const TN_PERIODIC = 1 << 3;
const TN_PERIODIC_CAP = 1 << 4;
const TN_SIZE_CAP = 1 << 5;
const TN_VAL_SET = 1 << 6;
const TN_32BIT = 1 << 8;
const TN_ROUTE_SHIFT = 9;
const TN_ROUTE_MASK = 0x1f << TN_ROUTE_SHIFT;
const TN_WRITABLE = TN_LEVEL | TN_INT_ENABLE | TN_PERIODIC | TN_VAL_SET | TN_32BIT | TN_ROUTE_MASK | (1 << 14);
/** The I/O APIC pins a timer may be routed to (high half of its capabilities): 2, 8, 16-23, as QEMU's PC. */
const ROUTE_CAPABILITY = 0x00ff0104;

const TWO_32 = 2 ** 32;

/** How the HPET reaches the interrupt controllers. */
export interface HpetWiring {
  /** The line of I/O APIC pin `pin` (below 16 also the same-numbered 8259 input, as on a PC). */
  gsi(pin: number): IrqLine;
  /** The IRQ 0 and IRQ 8 lines that legacy replacement takes over. */
  legacyIrq0: IrqLine;
  legacyIrq8: IrqLine;
  /** Legacy replacement turned on or off: the PIT and RTC lose or regain IRQ 0 and IRQ 8. */
  onLegacyReplacement(on: boolean): void;
}

interface Timer {
  config: number;
  /** The comparator as two halves (its reset value, all ones, is beyond a number's precision). */
  comparatorHigh: number;
  comparatorLow: number;
  /** The period of a periodic timer, in ticks. */
  period: number;
  fsb: number;
  /** The counter value at which the timer fires next, or undefined when it never will. */
  nextTick: number | undefined;
  /** The level of the line this timer drives. */
  line: boolean;
  /** Periods owed to an edge-triggered periodic timer's line. */
  missed: MissedTicks;
}

/** The I/O APIC pins that legacy replacement gives timers 0 and 1: IRQ 0's and IRQ 8's. */
const LEGACY_PINS = [2, 8];

export class Hpet implements Device, TimedDevice {
  readonly name = 'hpet';
  private config = 0;
  private status = 0;
  /** The counter's value at `baseNs` (it counts from there while enabled). */
  private counterBase = 0;
  private baseNs = 0;
  private readonly timers: Timer[] = Array.from({ length: HPET_TIMERS }, () => ({
    config: 0, comparatorHigh: 0xffffffff, comparatorLow: 0xffffffff, period: 0, fsb: 0, nextTick: undefined, line: false,
    missed: new MissedTicks(),
  }));
  /** The line each timer last drove, so that a re-route lowers the old one. */
  private readonly drivenLines: (IrqLine | undefined)[] = new Array(HPET_TIMERS).fill(undefined);

  constructor(
    private readonly clock: Clock,
    private readonly wiring: HpetWiring,
  ) {}

  private get enabled(): boolean {
    return (this.config & CONFIG_ENABLE) !== 0;
  }

  private counter(nowNs: number): number {
    return this.enabled ? this.counterBase + ticksBetween(this.baseNs, nowNs, HPET_HZ) : this.counterBase;
  }

  /** Rebases the counter at `nowNs` so that counting goes on from its current value. */
  private rebase(nowNs: number, value = this.counter(nowNs)): void {
    this.counterBase = value;
    this.baseNs = nowNs;
  }

  private lineOf(index: number): IrqLine {
    if (this.config & CONFIG_LEGACY && index < 2) return index === 0 ? this.wiring.legacyIrq0 : this.wiring.legacyIrq8;
    return this.wiring.gsi((this.timers[index].config & TN_ROUTE_MASK) >>> TN_ROUTE_SHIFT);
  }

  private drive(index: number, level: boolean): void {
    const line = this.lineOf(index);
    const previous = this.drivenLines[index];
    if (previous && previous !== line && this.timers[index].line) previous.set(false);
    this.drivenLines[index] = line;
    this.timers[index].line = level;
    line.set(level);
  }

  private fire(index: number): void {
    const timer = this.timers[index];
    if (!(timer.config & TN_INT_ENABLE)) return;
    if (timer.config & TN_LEVEL) {
      this.status |= 1 << index;
      this.drive(index, true);
    } else {
      if (timer.line) this.drive(index, false);
      this.drive(index, true);
    }
  }

  nextEventNs(): number | undefined {
    if (!this.enabled) return undefined;
    let next: number | undefined;
    for (const timer of this.timers) {
      if (timer.nextTick === undefined || !(timer.config & TN_INT_ENABLE)) continue;
      const at = nsAtTick(this.baseNs, Math.max(0, timer.nextTick - this.counterBase), HPET_HZ);
      if (next === undefined || at < next) next = at;
    }
    return next;
  }

  /** Whether a timer is armed to interrupt at all (for waking a halted CPU). */
  get mayInterrupt(): boolean {
    return this.enabled && this.timers.some((t) => t.nextTick !== undefined && (t.config & TN_INT_ENABLE) !== 0);
  }

  update(): void {
    if (!this.enabled) return;
    const now = this.counter(this.clock.nowNs());
    this.timers.forEach((timer, index) => {
      if (timer.nextTick === undefined || now < timer.nextTick) return;
      const wide = !(timer.config & TN_32BIT);
      if (timer.config & TN_PERIODIC && timer.period > 0) {
        // The comparator moves on by whole periods past now; an edge-triggered line is owed the
        // periods beyond the first (a level-triggered one holds its status until cleared).
        const periods = Math.floor((now - timer.nextTick) / timer.period) + 1;
        if (!(timer.config & TN_LEVEL)) timer.missed.due(periods);
        const advance = periods * timer.period;
        timer.nextTick += advance;
        setComparator(timer, comparatorOf(timer) + advance, wide);
      } else {
        // A 64-bit one-shot fires once; a 32-bit one again when the low half comes round.
        timer.nextTick = wide ? undefined : timer.nextTick + TWO_32;
      }
      this.fire(index);
    });
  }

  /**
   * The CPU took an interrupt that I/O APIC pin `pin` (or the 8259 input of that ISA IRQ)
   * requested: an edge-triggered periodic timer on that pin raises one owed tick at once.
   */
  interruptTaken(pin: number): void {
    if (!this.enabled) return;
    this.timers.forEach((timer, index) => {
      if (timer.config & TN_LEVEL || !(timer.config & TN_INT_ENABLE) || this.pinOf(index) !== pin) return;
      if (timer.missed.taken()) this.fire(index);
    });
  }

  /** The I/O APIC pin timer `index` drives now. */
  private pinOf(index: number): number {
    if (this.config & CONFIG_LEGACY && index < 2) return LEGACY_PINS[index];
    return (this.timers[index].config & TN_ROUTE_MASK) >>> TN_ROUTE_SHIFT;
  }

  read(offset: number, size: number): number {
    const register = offset & ~7;
    const high = (offset & 4) !== 0;
    return registerBytes(this.readHalf(register, high), offset, size);
  }

  private readHalf(register: number, high: boolean): number {
    const index = (register - TIMER_BASE) >>> 5;
    // The comparator's halves are kept apart: its reset value has more bits than a number holds.
    if (register >= TIMER_BASE && index < HPET_TIMERS && (register & (TIMER_STRIDE - 1)) === 0x08) {
      const timer = this.timers[index];
      return high ? (timer.config & TN_32BIT ? 0 : timer.comparatorHigh) : timer.comparatorLow;
    }
    // The capabilities' high half, the period in femtoseconds, is too large to share a number.
    if (register === REG_CAPABILITIES) return high ? PERIOD_FS : HPET_CAPABILITIES_LOW;
    const value64 = this.readRegister(register);
    return high ? Math.floor(value64 / TWO_32) : value64 % TWO_32;
  }

  /** A 64-bit register as a number (the capabilities and comparators are read by halves: they do not fit 53 bits). */
  private readRegister(register: number): number {
    switch (register) {
      case REG_CONFIG: return this.config;
      case REG_STATUS: return this.status;
      case REG_COUNTER: return this.counter(this.clock.nowNs());
    }
    const index = (register - TIMER_BASE) >>> 5;
    if (register >= TIMER_BASE && index < HPET_TIMERS) {
      const timer = this.timers[index];
      switch (register & (TIMER_STRIDE - 1)) {
        case 0x00: return ROUTE_CAPABILITY * TWO_32 + (timer.config | TN_PERIODIC_CAP | TN_SIZE_CAP);
        case 0x10: return timer.fsb;
      }
    }
    return 0;
  }

  write(offset: number, size: number, value: number): void {
    if (size !== 4 || (offset & 3) !== 0) return;
    const register = offset & ~7;
    const high = (offset & 4) !== 0;
    const now = this.clock.nowNs();
    value >>>= 0;
    switch (register) {
      case REG_CONFIG: {
        if (high) return;
        const wasEnabled = this.enabled;
        const wasLegacy = (this.config & CONFIG_LEGACY) !== 0;
        if (((value ^ this.config) & (CONFIG_ENABLE | CONFIG_LEGACY)) !== 0) for (const timer of this.timers) timer.missed.clear();
        if (wasEnabled) this.rebase(now);
        this.config = value & (CONFIG_ENABLE | CONFIG_LEGACY);
        if (this.enabled && !wasEnabled) this.baseNs = now;
        const legacy = (this.config & CONFIG_LEGACY) !== 0;
        if (legacy !== wasLegacy) {
          for (let i = 0; i < HPET_TIMERS; i++) if (this.timers[i].line) this.drive(i, false);
          this.wiring.onLegacyReplacement(legacy);
        }
        return;
      }
      case REG_STATUS:
        if (high) return;
        // Writing 1 clears a level-triggered timer's status and releases its line.
        for (let i = 0; i < HPET_TIMERS; i++) {
          if (value & this.status & (1 << i)) {
            this.status &= ~(1 << i);
            this.drive(i, false);
          }
        }
        return;
      case REG_COUNTER: {
        // The counter may be written while halted (specification §2.3.7); keep the other half.
        const current = this.counter(now);
        const next = high ? value * TWO_32 + (current % TWO_32) : Math.floor(current / TWO_32) * TWO_32 + value;
        this.rebase(now, next);
        this.rearm(now);
        return;
      }
    }
    const index = (register - TIMER_BASE) >>> 5;
    if (register < TIMER_BASE || index >= HPET_TIMERS) return;
    const timer = this.timers[index];
    switch (register & (TIMER_STRIDE - 1)) {
      case 0x00:
        if (high) return;
        if (timer.line && (value & TN_ROUTE_MASK) !== (timer.config & TN_ROUTE_MASK)) this.drive(index, false);
        const was32 = timer.config & TN_32BIT;
        if (((value ^ timer.config) & TN_WRITABLE) !== 0) timer.missed.clear();
        timer.config = value & TN_WRITABLE;
        if ((timer.config & TN_32BIT) !== was32) this.arm(timer, this.counter(now));
        if (!(timer.config & TN_LEVEL) && this.status & (1 << index)) this.status &= ~(1 << index);
        if (!(timer.config & TN_INT_ENABLE) && timer.line) this.drive(index, false);
        return;
      case 0x08: {
        // In periodic mode a write sets the period, and the comparator only with VAL_SET (QEMU's hpet.c).
        const periodic = (timer.config & TN_PERIODIC) !== 0;
        const wide = !(timer.config & TN_32BIT);
        if (!periodic || timer.config & TN_VAL_SET) {
          if (high && wide) timer.comparatorHigh = value;
          else if (!high) timer.comparatorLow = value;
          if (!wide) timer.comparatorHigh = 0;
        }
        if (periodic) timer.period = wide ? replaceHalf(timer.period, value, high) : high ? timer.period : value;
        timer.config &= ~TN_VAL_SET;
        timer.missed.clear();
        this.arm(timer, this.counter(now));
        return;
      }
      case 0x10:
        if (!high) timer.fsb = value;
        return;
    }
  }

  /** After the counter is set, every timer's next firing is worked out again. */
  private rearm(nowNs: number): void {
    const now = this.counter(nowNs);
    for (const timer of this.timers) {
      timer.missed.clear();
      this.arm(timer, now);
    }
  }

  /**
   * When the counter next equals the comparator: a 64-bit comparator behind the counter waits for
   * the counter to wrap (never, in practice); a 32-bit one for its low half to come round.
   */
  private arm(timer: Timer, now: number): void {
    if (timer.config & TN_32BIT) {
      let at = now - (now % TWO_32) + timer.comparatorLow;
      if (at < now) at += TWO_32;
      timer.nextTick = at;
    } else {
      const comparator = comparatorOf(timer);
      timer.nextTick = comparator >= now ? comparator : undefined;
    }
  }

  snapshot(): DeviceSnapshot {
    return {
      version: SNAPSHOT_VERSION,
      config: this.config, status: this.status, counterBase: this.counterBase, baseNs: this.baseNs,
      timers: this.timers.map(({ missed, ...t }) => ({ ...t, missed: missed.count })),
    };
  }

  restore(s: DeviceSnapshot): void {
    checkSnapshotVersion(this.name, SNAPSHOT_VERSION, s);
    this.config = s.config as number;
    this.status = s.status as number;
    this.counterBase = s.counterBase as number;
    this.baseNs = s.baseNs as number;
    (s.timers as (Omit<Timer, 'missed'> & { missed?: number })[]).forEach(({ missed, ...t }, i) => {
      Object.assign(this.timers[i], t);
      this.timers[i].missed.restore(missed);
    });
  }
}

function comparatorOf(timer: Timer): number {
  return timer.comparatorHigh * TWO_32 + timer.comparatorLow;
}

function setComparator(timer: Timer, value: number, wide: boolean): void {
  timer.comparatorLow = value % TWO_32;
  timer.comparatorHigh = wide ? Math.floor(value / TWO_32) % TWO_32 : 0;
}

/** `value` with its low or high 32-bit half replaced by `half`. */
function replaceHalf(value: number, half: number, high: boolean): number {
  return high ? half * TWO_32 + (value % TWO_32) : Math.floor(value / TWO_32) * TWO_32 + half;
}
