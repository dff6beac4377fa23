// The I/O APIC (Intel 82093AA datasheet, order 290566): 24 interrupt pins, each with a 64-bit
// redirection entry saying which vector goes to which local APIC and how. Reached through two
// registers in its page at 0xFEC00000: IOREGSEL (offset 0x00) selects a register and IOWIN (0x10)
// reads or writes it. Registers: ID (0x00), version (0x01: 0x11, 24 entries), arbitration ID
// (0x02), and the redirection table (0x10 + 2n, low then high half).
//
// Edge-triggered pins deliver on a rising edge while unmasked. Level-triggered pins deliver while
// asserted and set Remote IRR; the local APIC's EOI of that vector clears it, and a pin still
// asserted then delivers again (datasheet §3.2.4, SDM Vol. 3A §11.8.5). The pins take their
// logical level: the polarity bit is held, not applied (as in QEMU, the board's wiring already
// speaks in asserted/deasserted). Not modelled: the delivery-status bit (delivery is immediate).
import { registerBytes } from './byte-io.js';
import { checkSnapshotVersion, type Device, type DeviceSnapshot, type IrqLine } from './device.js';

const SNAPSHOT_VERSION = 1;

export const IOAPIC_PINS = 24;

const IOREGSEL = 0x00;
const IOWIN = 0x10;
const REG_ID = 0x00;
const REG_VERSION = 0x01;
const REG_ARBITRATION = 0x02;
const REG_REDIRECTION = 0x10;
export const IO_APIC_VERSION = 0x11 | ((IOAPIC_PINS - 1) << 16);

// Redirection entry fields (datasheet §3.2.4).
const VECTOR_MASK = 0xff;
const DELIVERY_MODE_SHIFT = 8;
/** Delivery modes 0 (fixed) and 1 (lowest priority) carry the entry's vector. */
const LOWEST_PRIORITY = 1;
const DEST_LOGICAL = 1 << 11;
const REMOTE_IRR = 1 << 14;
const TRIGGER_LEVEL = 1 << 15;
const MASKED = 1 << 16;
/** Writable bits of the low half: all but delivery status (12) and Remote IRR (14). */
const LOW_WRITABLE = 0x1afff;

/** Where the I/O APIC's messages go: the local APIC of the one CPU. */
export interface ApicBus {
  matchesDestination(destination: number, logical: boolean): boolean;
  deliver(mode: number, vector: number, levelTriggered: boolean): void;
}

export class IoApic implements Device {
  readonly name = 'io-apic';
  private selected = 0;
  private id = 0;
  private readonly low = new Array<number>(IOAPIC_PINS).fill(MASKED);
  private readonly high = new Array<number>(IOAPIC_PINS).fill(0);
  /** The pins' current levels. */
  private levels = 0;

  constructor(private readonly bus: ApicBus) {}

  /** The input for pin `pin`. */
  pin(pin: number): IrqLine {
    if (!Number.isInteger(pin) || pin < 0 || pin >= IOAPIC_PINS) throw new RangeError(`I/O APIC pin ${pin} does not exist (0-${IOAPIC_PINS - 1})`);
    return { set: (level) => this.setPin(pin, level) };
  }

  /** Whether a request on `pin` would be sent (its entry is unmasked). */
  unmasked(pin: number): boolean {
    return (this.low[pin] & MASKED) === 0;
  }

  private setPin(pin: number, level: boolean): void {
    const bit = 1 << pin;
    const wasHigh = (this.levels & bit) !== 0;
    this.levels = level ? this.levels | bit : this.levels & ~bit;
    if (!level) return;
    if (this.low[pin] & TRIGGER_LEVEL) this.service(pin);
    else if (!wasHigh) this.send(pin);
  }

  /** A level-triggered pin that is asserted, unmasked and not awaiting EOI sends its message. */
  private service(pin: number): void {
    const entry = this.low[pin];
    if ((this.levels & (1 << pin)) === 0 || entry & REMOTE_IRR || entry & MASKED) return;
    this.low[pin] |= REMOTE_IRR;
    this.send(pin);
  }

  private send(pin: number): void {
    const entry = this.low[pin];
    if (entry & MASKED) return;
    if (!this.bus.matchesDestination(this.high[pin] >>> 24, (entry & DEST_LOGICAL) !== 0)) return;
    this.bus.deliver((entry >>> DELIVERY_MODE_SHIFT) & 7, entry & VECTOR_MASK, (entry & TRIGGER_LEVEL) !== 0);
  }

  /** The local APIC's EOI of a level-triggered `vector`: Remote IRR clears on every entry using it. */
  endOfInterrupt(vector: number): void {
    for (let pin = 0; pin < IOAPIC_PINS; pin++) {
      if ((this.low[pin] & VECTOR_MASK) !== vector || !(this.low[pin] & REMOTE_IRR)) continue;
      this.low[pin] &= ~REMOTE_IRR;
      this.service(pin);
    }
  }

  /**
   * The CPU took `vector`: the unmasked edge-triggered pins whose fixed or lowest-priority
   * messages carry it, whose sources may have owed ticks to raise (missed-ticks.ts).
   */
  pinsDelivering(vector: number): number[] {
    const pins: number[] = [];
    for (let pin = 0; pin < IOAPIC_PINS; pin++) {
      const entry = this.low[pin];
      if ((entry & VECTOR_MASK) !== vector || entry & (MASKED | TRIGGER_LEVEL)) continue;
      if (((entry >>> DELIVERY_MODE_SHIFT) & 7) <= LOWEST_PRIORITY) pins.push(pin);
    }
    return pins;
  }

  read(offset: number, size: number): number {
    let value = 0xffffffff;
    if (offset >= IOREGSEL && offset < IOREGSEL + 4) value = this.selected;
    else if (offset >= IOWIN && offset < IOWIN + 4) value = this.readRegister(this.selected);
    return registerBytes(value, offset, size);
  }

  private readRegister(register: number): number {
    if (register === REG_ID || register === REG_ARBITRATION) return this.id << 24;
    if (register === REG_VERSION) return IO_APIC_VERSION;
    const index = register - REG_REDIRECTION;
    if (index >= 0 && index < 2 * IOAPIC_PINS) return index & 1 ? this.high[index >>> 1] : this.low[index >>> 1];
    return 0xffffffff;
  }

  write(offset: number, size: number, value: number): void {
    if (offset === IOREGSEL) {
      this.selected = value & 0xff;
      return;
    }
    if (offset !== IOWIN || size !== 4) return;
    const register = this.selected;
    if (register === REG_ID) {
      this.id = (value >>> 24) & 0xf;
      return;
    }
    const index = register - REG_REDIRECTION;
    if (index < 0 || index >= 2 * IOAPIC_PINS) return;
    const pin = index >>> 1;
    if (index & 1) {
      this.high[pin] = value & 0xff000000;
      return;
    }
    this.low[pin] = (this.low[pin] & REMOTE_IRR) | (value & LOW_WRITABLE);
    // An edge-triggered entry has no Remote IRR; a newly unmasked level pin that is asserted sends.
    if (!(this.low[pin] & TRIGGER_LEVEL)) this.low[pin] &= ~REMOTE_IRR;
    else this.service(pin);
  }

  snapshot(): DeviceSnapshot {
    return { version: SNAPSHOT_VERSION, selected: this.selected, id: this.id, low: [...this.low], high: [...this.high], levels: this.levels };
  }

  restore(s: DeviceSnapshot): void {
    checkSnapshotVersion(this.name, SNAPSHOT_VERSION, s);
    this.selected = s.selected as number;
    this.id = s.id as number;
    this.low.splice(0, IOAPIC_PINS, ...(s.low as number[]));
    this.high.splice(0, IOAPIC_PINS, ...(s.high as number[]));
    this.levels = s.levels as number;
  }
}
