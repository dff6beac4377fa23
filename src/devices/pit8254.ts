// Intel 8254 programmable interval timer at ports 0x40-0x43 (82C54 datasheet, 231244): three
// counters on the PC's 1.193182 MHz clock, the control word (counter select, RW modes, counter
// latch) and the read-back command. On a PC counter 0's OUT is IRQ 0, counter 1 once drove DRAM
// refresh, and counter 2 is gated and read through port 0x61 (see system-control-port.ts).
//
// IRQ 0 carries OUT's rising edges, not its waveform: each rising edge is delivered as a low-high
// transition of the line at update() time, after which the line stays high until just before the
// next edge. A late update() can then never make a latched request vanish at the 8259 (which
// would turn it into a spurious IRQ 7); only a write that holds OUT low until its next rising
// edge (modes 0 and 1) lowers the line at once. Periods that pass without an update() (the VMM
// did not run) reach the line as one edge and the rest are owed: each is raised when the CPU
// takes the last (missed-ticks.ts).
import { readBytes, writeBytes } from './byte-io.js';
import type { Clock, TimedDevice } from './clock.js';
import { checkSnapshotVersion, noIrq, type Device, type DeviceSnapshot, type IrqLine } from './device.js';
import { MAX_MISSED_TICKS, MissedTicks } from './missed-ticks.js';
import { PitCounter, RW_WORD, type PitCounterState } from './pit-counter.js';

export { PIT_HZ } from './pit-counter.js';

const SNAPSHOT_VERSION = 1;

export class Pit8254 implements Device, TimedDevice {
  readonly name = 'pit';
  /** GATE 0 and 1 are tied high on a PC; GATE 2 is port 0x61 bit 0, low at reset. */
  private readonly counters = [new PitCounter(true), new PitCounter(true), new PitCounter(false)];
  private irqLevel = false;
  private edgeNs: number | undefined;
  private readonly missed = new MissedTicks();

  constructor(
    private readonly clock: Clock,
    private readonly irq0: IrqLine = noIrq,
  ) {
    // Start as a PC BIOS leaves the timer (and as QEMU resets it): every counter in mode 3 with
    // count 0 (65536), so counter 0 ticks at 18.2 Hz. IRQ 0 starts low; its first edge is due
    // at the end of the first period.
    const now = clock.nowNs();
    for (const counter of this.counters) {
      counter.writeControl(now, RW_WORD, 3, false);
      counter.writeByte(now, 0);
      counter.writeByte(now, 0);
    }
    this.edgeNs = this.counters[0].nextRisingEdgeNs(now);
  }

  nextEventNs(): number | undefined {
    return this.edgeNs;
  }

  update(): void {
    const now = this.clock.nowNs();
    if (this.edgeNs === undefined || this.edgeNs > now) return;
    // Every rising edge of counter 0 from the one due to now (a late update() finds several).
    let edges = 0;
    for (let at: number | undefined = this.edgeNs; at !== undefined && at <= now && edges <= MAX_MISSED_TICKS; edges++) {
      at = this.counters[0].nextRisingEdgeNs(at);
    }
    this.missed.due(edges);
    this.pulseIrq();
    this.edgeNs = this.counters[0].nextRisingEdgeNs(now);
  }

  /** The CPU took IRQ 0: an owed tick follows at once. */
  interruptTaken(): void {
    if (this.missed.taken()) this.pulseIrq();
  }

  /** Ticks owed to the guest (see missed-ticks.ts). */
  get missedTicks(): number {
    return this.missed.count;
  }

  /** Drive a counter's GATE input (counter 2's comes from port 0x61). */
  setGate(channel: number, level: boolean): void {
    this.change(() => this.counters[channel].setGate(this.clock.nowNs(), level));
  }

  /** A counter's OUT pin now (counter 2's is read through port 0x61). */
  out(channel: number): boolean {
    return this.counters[channel].out(this.clock.nowNs());
  }

  read(offset: number, size: number): number {
    return readBytes(offset, size, 4, (o) => (o === 3 ? 0xff : this.counters[o].readByte(this.clock.nowNs())));
  }

  write(offset: number, size: number, value: number): void {
    writeBytes(offset, size, value, 4, (o, v) => this.change(() => this.writeByte(o, v)));
  }

  private writeByte(offset: number, value: number): void {
    const now = this.clock.nowNs();
    // A new count or mode for counter 0 ends what the old one owed.
    if (offset === 0 || (offset === 3 && value >> 6 === 0 && ((value >> 4) & 3) !== 0)) this.missed.clear();
    if (offset < 3) return this.counters[offset].writeByte(now, value);
    const select = value >> 6;
    if (select === 3) {
      // Read-back: bit 5 clear latches the counts, bit 4 clear the status, bits 1-3 pick counters.
      for (let i = 0; i < 3; i++) {
        if (!(value & (2 << i))) continue;
        if (!(value & 0x20)) this.counters[i].latchCount(now);
        if (!(value & 0x10)) this.counters[i].latchStatus(now);
      }
      return;
    }
    const rw = (value >> 4) & 3;
    if (rw === 0) this.counters[select].latchCount(now);
    else this.counters[select].writeControl(now, rw, (value >> 1) & 7, (value & 1) !== 0);
  }

  /** Apply a state change, then bring IRQ 0 and the next deadline in line with counter 0's OUT. */
  private change(apply: () => void): void {
    this.update(); // an edge due before the change still happens
    const now = this.clock.nowNs();
    const c0 = this.counters[0];
    const before = c0.out(now);
    apply();
    const after = c0.out(now);
    if (!before && after) this.pulseIrq();
    else if (!after && c0.holdsOutLow && this.irqLevel) {
      this.irqLevel = false;
      this.irq0.set(false);
    }
    this.edgeNs = c0.nextRisingEdgeNs(now);
  }

  private pulseIrq(): void {
    if (this.irqLevel) this.irq0.set(false);
    this.irq0.set(true);
    this.irqLevel = true;
  }

  snapshot(): DeviceSnapshot {
    return {
      version: SNAPSHOT_VERSION,
      counters: this.counters.map((c) => c.saveState()),
      irqLevel: this.irqLevel,
      edgeNs: this.edgeNs ?? null,
      missedTicks: this.missed.count,
    };
  }

  restore(s: DeviceSnapshot): void {
    checkSnapshotVersion(this.name, SNAPSHOT_VERSION, s);
    const states = s.counters as PitCounterState[];
    this.counters.forEach((c, i) => c.restoreState({ ...states[i] }));
    this.irqLevel = s.irqLevel as boolean;
    this.edgeNs = (s.edgeNs as number | null) ?? undefined;
    this.missed.restore(s.missedTicks);
    this.irq0.set(this.irqLevel);
  }
}

/** Control word bits for callers and tests: counter select, RW = LSB then MSB, mode, binary. */
export function pitControlWord(counter: number, mode: number, rw = RW_WORD, bcd = false): number {
  return (counter << 6) | (rw << 4) | (mode << 1) | (bcd ? 1 : 0);
}
