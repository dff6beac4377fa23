// One counter of an Intel 82C54 (datasheet 231244, "Operation" and "Read Operations"), computed
// lazily: the counting element's value and OUT are functions of the ticks of the 1.193182 MHz
// input clock elapsed since counting (re)started, so nothing runs per tick.
//
// Simplifications, each at most one input-clock period (838 ns): a count takes effect at the
// write rather than on the next CLK pulse, so in mode 0 OUT rises N (not N+1) ticks after the
// write; in mode 3 a new count takes effect at the end of the current period rather than the
// current half-period; the odd-count mode 3 sequence of the counting element is approximate.
// Count 1 is illegal in modes 2 and 3 (datasheet) and behaves as 2.
import { fromBcd, toBcd } from './bcd.js';
import { nsAtTick, ticksBetween } from './clock.js';

export const PIT_HZ = 1_193_182;

export const RW_LSB = 1;
export const RW_MSB = 2;
export const RW_WORD = 3;

const IDLE = 0; // after a control word, or mode 0's first count byte: not counting
const ARMED = 1; // modes 1 and 5: count written, waiting for a GATE trigger
const COUNTING = 2;

export interface PitCounterState {
  modeBits: number;
  rw: number;
  bcd: boolean;
  cr: number;
  n: number;
  phase: number;
  gate: boolean;
  running: boolean;
  baseTicks: number;
  resumeNs: number;
  origin: number;
  pendingN: number;
  pendingAt: number;
  nullCount: boolean;
  writeMsbNext: boolean;
  lsb: number;
  readMsbNext: boolean;
  latchedCount: number;
  latchState: number;
  statusLatched: boolean;
  status: number;
}

export class PitCounter {
  /** M2-M0 as written; 6 and 7 are aliases of modes 2 and 3 (datasheet, control word format). */
  private modeBits = 0;
  private rw = RW_WORD;
  private bcd = false;
  /** The count register: the last complete initial count, 1..modulus (0 is written as modulus). */
  private cr = 0x10000;
  /** The initial count of the current counting cycle. */
  private n = 0x10000;
  private phase = IDLE;
  private gate: boolean;
  /** Ticks counted are baseTicks, plus the ticks since resumeNs while running. */
  private running = false;
  private baseTicks = 0;
  private resumeNs = 0;
  /** Modes 2 and 3: the tick at which the current train of periods began. */
  private origin = 0;
  /** Modes 2 and 3: a count written while counting, taking effect at tick pendingAt. */
  private pendingN = 0;
  private pendingAt = 0;
  private nullCount = true;
  private writeMsbNext = false;
  private lsb = 0;
  private readMsbNext = false;
  private latchedCount = 0;
  /** 0: no count latched; RW_LSB/RW_MSB: that byte is next; RW_WORD: LSB, then MSB. */
  private latchState = 0;
  private statusLatched = false;
  private status = 0;

  constructor(gate: boolean) {
    this.gate = gate;
  }

  get mode(): number {
    return this.modeBits > 5 ? this.modeBits - 4 : this.modeBits;
  }

  private get modulus(): number {
    return this.bcd ? 10000 : 0x10000;
  }

  private get period(): number {
    return Math.max(this.n, 2);
  }

  private ticks(now: number): number {
    return this.running ? this.baseTicks + ticksBetween(this.resumeNs, now, PIT_HZ) : this.baseTicks;
  }

  private freeze(now: number): void {
    this.baseTicks = this.ticks(now);
    this.running = false;
  }

  private restart(now: number, running: boolean): void {
    this.baseTicks = 0;
    this.resumeNs = now;
    this.running = running;
  }

  /** Apply a count written during modes 2/3 once its period boundary has passed. */
  private sync(now: number): void {
    if (this.pendingN !== 0 && this.running && this.ticks(now) >= this.pendingAt) {
      this.origin = this.pendingAt;
      this.n = this.pendingN;
      this.pendingN = 0;
      this.nullCount = false;
    }
  }

  writeControl(now: number, rw: number, modeBits: number, bcd: boolean): void {
    // Datasheet: a control word resets the counter's control logic; counting waits for a count.
    this.freeze(now);
    this.modeBits = modeBits;
    this.rw = rw;
    this.bcd = bcd;
    this.phase = IDLE;
    this.pendingN = 0;
    this.nullCount = true;
    this.writeMsbNext = false;
    this.readMsbNext = false;
    this.latchState = 0;
    this.statusLatched = false;
  }

  writeByte(now: number, byte: number): void {
    this.sync(now);
    if (this.rw === RW_LSB) return this.load(now, byte);
    if (this.rw === RW_MSB) return this.load(now, byte << 8);
    if (this.writeMsbNext) {
      this.writeMsbNext = false;
      return this.load(now, this.lsb | (byte << 8));
    }
    this.lsb = byte;
    this.writeMsbNext = true;
    if (this.mode === 0) {
      // Mode 0: writing the first byte disables counting and sets OUT low at once.
      this.freeze(now);
      this.phase = IDLE;
    }
  }

  private load(now: number, raw: number): void {
    const m = this.modulus;
    const count = (this.bcd ? fromBcd(raw) : raw) % m || m;
    this.cr = count;
    this.nullCount = true;
    switch (this.mode) {
      case 0:
      case 4: // (re)start counting from the new count; GATE low holds it
        this.n = count;
        this.nullCount = false;
        this.phase = COUNTING;
        this.restart(now, this.gate);
        break;
      case 1:
      case 5: // loaded by the next GATE trigger
        if (this.phase === IDLE) this.phase = ARMED;
        break;
      default: // 2, 3
        if (this.phase !== COUNTING) {
          this.n = count;
          this.origin = 0;
          this.nullCount = false;
          this.phase = COUNTING;
          this.restart(now, this.gate);
        } else if (this.running) {
          const d = this.ticks(now);
          if (this.pendingN === 0) {
            this.pendingAt = this.origin + (Math.floor((d - this.origin) / this.period) + 1) * this.period;
          }
          this.pendingN = count;
        } // GATE low: its next rising edge loads the count register
    }
  }

  setGate(now: number, level: boolean): void {
    if (level === this.gate) return;
    this.sync(now);
    this.gate = level;
    switch (this.mode) {
      case 0:
      case 4: // GATE enables counting
        if (this.phase !== COUNTING) return;
        if (!level) this.freeze(now);
        else if (!this.running) {
          this.resumeNs = now;
          this.running = true;
        }
        return;
      case 1:
      case 5: // a rising GATE edge (re)triggers
        if (level && this.phase !== IDLE) this.trigger(now);
        return;
      default: // 2, 3: GATE low stops counting and forces OUT high; rising reloads
        if (this.phase !== COUNTING) return;
        if (level) this.trigger(now);
        else this.freeze(now);
    }
  }

  private trigger(now: number): void {
    this.n = this.cr;
    this.origin = 0;
    this.pendingN = 0;
    this.nullCount = false;
    this.phase = COUNTING;
    this.restart(now, true);
  }

  /** The counting element as the counter presents it (binary or BCD). */
  count(now: number): number {
    this.sync(now);
    const d = this.ticks(now);
    const m = this.modulus;
    let value: number;
    if (this.mode === 2) {
      value = this.period - ((d - this.origin) % this.period);
    } else if (this.mode === 3) {
      // Decrements by two: the high half-period counts N, N-2, ... and so does the low half.
      const p = this.period;
      const t = (d - this.origin) % p;
      const high = Math.ceil(p / 2);
      value = t < high ? p - 2 * t : p - (p & 1) - 2 * (t - high);
    } else {
      value = this.n - d; // modes 0, 1, 4, 5 wrap around and keep counting
    }
    value = ((value % m) + m) % m;
    return this.bcd ? toBcd(value) : value;
  }

  out(now: number): boolean {
    this.sync(now);
    const d = this.ticks(now);
    const counting = this.phase === COUNTING;
    switch (this.mode) {
      case 0: // interrupt on terminal count: low until the count expires, then high
        return counting && d >= this.n;
      case 1: // one-shot: low from the trigger until the count expires
        return !counting || d >= this.n;
      case 2: // rate generator: low for the last tick of each period
        return !counting || !this.gate || (d - this.origin) % this.period !== this.period - 1;
      case 3: // square wave: high for ceil(N/2) ticks, low for floor(N/2)
        return !counting || !this.gate || (d - this.origin) % this.period < Math.ceil(this.period / 2);
      default: // 4, 5 strobes: low for one tick when the count expires, once
        return !counting || d !== this.n;
    }
  }

  /** Whether OUT, once low in this mode, stays low until its next rising edge (modes 0, 1). */
  get holdsOutLow(): boolean {
    return this.mode <= 1;
  }

  /** The guest time of OUT's first rising edge after `now`, or undefined if none will come. */
  nextRisingEdgeNs(now: number): number | undefined {
    this.sync(now);
    if (this.phase !== COUNTING || !this.running) return undefined;
    const d = this.ticks(now);
    let edge: number;
    if (this.mode <= 1) edge = this.n;
    else if (this.mode >= 4) edge = this.n + 1;
    else if (this.pendingN !== 0) edge = this.pendingAt;
    else edge = this.origin + (Math.floor((d - this.origin) / this.period) + 1) * this.period;
    if (edge <= d) return undefined;
    return nsAtTick(this.resumeNs, edge - this.baseTicks, PIT_HZ);
  }

  /** Counter latch command: a second latch before the count is read is ignored (datasheet). */
  latchCount(now: number): void {
    if (this.latchState !== 0) return;
    this.latchedCount = this.count(now);
    this.latchState = this.rw;
  }

  /** Read-back status byte: OUT, null count, RW, mode, BCD. */
  latchStatus(now: number): void {
    if (this.statusLatched) return;
    const out = this.out(now);
    this.status =
      (out ? 0x80 : 0) | (this.nullCount ? 0x40 : 0) | (this.rw << 4) | (this.modeBits << 1) | (this.bcd ? 1 : 0);
    this.statusLatched = true;
  }

  readByte(now: number): number {
    if (this.statusLatched) {
      this.statusLatched = false;
      return this.status;
    }
    if (this.latchState !== 0) {
      const v = this.latchedCount;
      if (this.latchState === RW_WORD) {
        this.latchState = RW_MSB;
        return v & 0xff;
      }
      const msb = this.latchState === RW_MSB;
      this.latchState = 0;
      return msb ? (v >> 8) & 0xff : v & 0xff;
    }
    const v = this.count(now);
    let msb = this.rw === RW_MSB;
    if (this.rw === RW_WORD) {
      msb = this.readMsbNext;
      this.readMsbNext = !this.readMsbNext;
    }
    return msb ? (v >> 8) & 0xff : v & 0xff;
  }

  saveState(): PitCounterState {
    return {
      modeBits: this.modeBits,
      rw: this.rw,
      bcd: this.bcd,
      cr: this.cr,
      n: this.n,
      phase: this.phase,
      gate: this.gate,
      running: this.running,
      baseTicks: this.baseTicks,
      resumeNs: this.resumeNs,
      origin: this.origin,
      pendingN: this.pendingN,
      pendingAt: this.pendingAt,
      nullCount: this.nullCount,
      writeMsbNext: this.writeMsbNext,
      lsb: this.lsb,
      readMsbNext: this.readMsbNext,
      latchedCount: this.latchedCount,
      latchState: this.latchState,
      statusLatched: this.statusLatched,
      status: this.status,
    };
  }

  restoreState(s: PitCounterState): void {
    Object.assign(this, s);
  }
}
