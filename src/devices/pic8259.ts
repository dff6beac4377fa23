// The PC/AT's cascaded pair of Intel 8259A programmable interrupt controllers (8259A datasheet,
// order 231468): master at ports 0x20-0x21, slave at 0xA0-0xA1 with its INT output on the
// master's IR2. Implemented: the ICW1-ICW4 initialisation sequence, OCW1 (IMR), every OCW2
// command (EOI, specific EOI, the rotations, set priority), OCW3 (IRR/ISR read select, poll,
// special mask mode), fully nested and special fully nested mode, automatic EOI, edge and level
// triggering (ICW1 LTIM, or per line through the PIIX ELCR at 0x4D0-0x4D1), and the default IR7
// ("spurious") vector when a request goes away before the INTA cycle.
// Not modelled: 8080/8085 call sequences (ICW4 uPM=0 still yields 8086 vectors), buffered mode.
import { readBytes, writeBytes } from './byte-io.js';
import { checkSnapshotVersion, type Device, type DeviceSnapshot, type IrqLine } from './device.js';

const SNAPSHOT_VERSION = 1;
const CASCADE_IR = 2;

/** One 8259A. Its INT output goes to `onOutput`; the pair wires the slave's to the master's IR2. */
export class Pic8259 implements Device {
  private irr = 0;
  private isr = 0;
  private imr = 0;
  /** Current levels of the IR input pins: edge detection compares against them. */
  private inputs = 0;
  /** Edge/level control register (PIIX ELCR): a set bit makes that input level triggered. */
  private elcr = 0;
  /** ICW1 LTIM: every input level triggered. */
  private ltim = false;
  /** The IR that currently has the lowest priority is (priorityAdd + 7) & 7 (rotation). */
  private priorityAdd = 0;
  private vectorBase = 0;
  private readIsr = false;
  private poll = false;
  private specialMask = false;
  /** 0: operational; 1, 2, 3: expecting ICW2, ICW3, ICW4. */
  private initState = 0;
  private expectIcw4 = false;
  private single = false;
  private autoEoi = false;
  private rotateOnAutoEoi = false;
  private specialFullyNested = false;
  private output = false;

  constructor(
    readonly name: string,
    private readonly isMaster: boolean,
    /** ELCR bits that exist: IRQ 0, 1, 2, 8 and 13 are always edge triggered on a PC. */
    private readonly elcrMask: number,
    private readonly onOutput: (level: boolean) => void,
  ) {}

  private get levelTriggered(): number {
    return this.ltim ? 0xff : this.elcr;
  }

  /** Drive input pin `ir` to `level`. */
  setInput(ir: number, level: boolean): void {
    const bit = 1 << ir;
    const wasHigh = (this.inputs & bit) !== 0;
    this.inputs = level ? this.inputs | bit : this.inputs & ~bit;
    if (this.levelTriggered & bit || !level) {
      // Level mode follows the pin. In edge mode a request whose pin drops before INTA is lost
      // (datasheet: "the IR input must remain high until after the falling edge of the first
      // INTA"), which is what turns it into the default IR7 at acknowledge time.
      this.irr = level ? this.irr | bit : this.irr & ~bit;
    } else if (!wasHigh) {
      this.irr |= bit; // rising edge
    }
    this.updateOutput();
  }

  getElcr(): number {
    return this.elcr;
  }

  setElcr(value: number): void {
    this.elcr = value & this.elcrMask;
    const level = this.levelTriggered;
    this.irr = (this.irr & ~level) | (this.inputs & level);
    this.updateOutput();
  }

  private priorityOf(mask: number): number {
    if (mask === 0) return 8;
    let p = 0;
    while ((mask & (1 << ((p + this.priorityAdd) & 7))) === 0) p++;
    return p;
  }

  /** The IR this chip would present at INTA, or -1: what drives its INT output. */
  pendingIr(): number {
    const requests = this.irr & ~this.imr;
    if (this.specialMask) {
      // Special mask mode: every unmasked level not itself in service may interrupt, lower
      // priorities included (datasheet, "Special Mask Mode").
      const p = this.priorityOf(requests & ~this.isr);
      return p === 8 ? -1 : (p + this.priorityAdd) & 7;
    }
    const p = this.priorityOf(requests);
    if (p === 8) return -1;
    const ir = (p + this.priorityAdd) & 7;
    const current = this.priorityOf(this.isr);
    if (p < current) return ir;
    // Special fully nested mode: the master lets the in-service slave interrupt again, so a
    // higher-priority slave request can nest (datasheet, "Special Fully Nest Mode").
    if (this.specialFullyNested && this.isMaster && ir === CASCADE_IR && p === current) return ir;
    return -1;
  }

  /** The INTA cycle for `ir` on this chip: IRR to ISR (or automatic EOI). */
  acknowledgeIr(ir: number): void {
    const bit = 1 << ir;
    if (this.autoEoi) {
      if (this.rotateOnAutoEoi) this.priorityAdd = (ir + 1) & 7;
    } else {
      this.isr |= bit;
    }
    // A level-triggered request stays in IRR while its pin is high.
    if (!(this.levelTriggered & bit)) this.irr &= ~bit;
    this.updateOutput();
  }

  vector(ir: number): number {
    return (this.vectorBase + ir) & 0xff;
  }

  private updateOutput(): void {
    const level = this.pendingIr() >= 0;
    if (level !== this.output) {
      this.output = level;
      this.onOutput(level);
    }
  }

  read(offset: number, size: number): number {
    return readBytes(offset, size, 2, (o) => this.readByte(o));
  }

  private readByte(offset: number): number {
    if (this.poll) {
      // Poll command: the next read is the poll word and acknowledges like an INTA.
      this.poll = false;
      const ir = this.pendingIr();
      if (ir < 0) return 0;
      this.acknowledgeIr(ir);
      return 0x80 | ir;
    }
    if (offset === 0) return this.readIsr ? this.isr : this.irr;
    return this.imr;
  }

  /** Whether IR `ir` is masked in IMR (OCW1). */
  masks(ir: number): boolean {
    return (this.imr & (1 << ir)) !== 0;
  }

  write(offset: number, size: number, value: number): void {
    writeBytes(offset, size, value, 2, (o, v) => this.writeByte(o, v));
  }

  private writeByte(offset: number, value: number): void {
    if (offset === 0) {
      if (value & 0x10) this.icw1(value);
      else if (value & 0x08) this.ocw3(value);
      else this.ocw2(value);
      return;
    }
    switch (this.initState) {
      case 0: // OCW1
        this.imr = value;
        break;
      case 1: // ICW2: vector base, T7-T3
        this.vectorBase = value & 0xf8;
        this.initState = this.single ? (this.expectIcw4 ? 3 : 0) : 2;
        return;
      case 2: // ICW3: cascade wiring, fixed on a PC
        this.initState = this.expectIcw4 ? 3 : 0;
        return;
      case 3: // ICW4: AEOI and SFNM; uPM, BUF and M/S change nothing here
        this.autoEoi = (value & 0x02) !== 0;
        this.specialFullyNested = (value & 0x10) !== 0;
        this.initState = 0;
        break;
    }
    this.updateOutput();
  }

  private icw1(value: number): void {
    // Datasheet, "Initialization Command Words": the edge sense circuit is reset (a pin already
    // high must go low and high again), IMR is cleared, IR7 gets the lowest priority, special
    // mask mode is cleared and status read selects IRR; with IC4=0 every ICW4 function is zero.
    this.expectIcw4 = (value & 0x01) !== 0;
    this.single = (value & 0x02) !== 0;
    this.ltim = (value & 0x08) !== 0;
    this.irr = this.inputs & this.levelTriggered;
    this.isr = 0;
    this.imr = 0;
    this.priorityAdd = 0;
    this.readIsr = false;
    this.poll = false;
    this.specialMask = false;
    this.autoEoi = false;
    this.rotateOnAutoEoi = false;
    this.specialFullyNested = false;
    this.initState = 1;
    this.updateOutput();
  }

  private ocw2(value: number): void {
    const level = value & 7;
    switch (value >> 5) {
      case 0: // rotate in automatic EOI mode (clear)
      case 4: // rotate in automatic EOI mode (set)
        this.rotateOnAutoEoi = value >> 5 === 4;
        return;
      case 1: // non-specific EOI
      case 5: {
        // rotate on non-specific EOI
        const p = this.priorityOf(this.isr);
        if (p === 8) return;
        const ir = (p + this.priorityAdd) & 7;
        this.isr &= ~(1 << ir);
        if (value >> 5 === 5) this.priorityAdd = (ir + 1) & 7;
        break;
      }
      case 3: // specific EOI
        this.isr &= ~(1 << level);
        break;
      case 6: // set priority: `level` becomes the lowest
        this.priorityAdd = (level + 1) & 7;
        break;
      case 7: // rotate on specific EOI
        this.isr &= ~(1 << level);
        this.priorityAdd = (level + 1) & 7;
        break;
      default: // 2: no operation
        return;
    }
    this.updateOutput();
  }

  private ocw3(value: number): void {
    if (value & 0x04) this.poll = true;
    if (value & 0x02) this.readIsr = (value & 0x01) !== 0;
    if (value & 0x40) this.specialMask = (value & 0x20) !== 0;
    this.updateOutput();
  }

  snapshot(): DeviceSnapshot {
    return {
      version: SNAPSHOT_VERSION,
      irr: this.irr,
      isr: this.isr,
      imr: this.imr,
      inputs: this.inputs,
      elcr: this.elcr,
      ltim: this.ltim,
      priorityAdd: this.priorityAdd,
      vectorBase: this.vectorBase,
      readIsr: this.readIsr,
      poll: this.poll,
      specialMask: this.specialMask,
      initState: this.initState,
      expectIcw4: this.expectIcw4,
      single: this.single,
      autoEoi: this.autoEoi,
      rotateOnAutoEoi: this.rotateOnAutoEoi,
      specialFullyNested: this.specialFullyNested,
    };
  }

  restore(s: DeviceSnapshot): void {
    checkSnapshotVersion(this.name, SNAPSHOT_VERSION, s);
    this.irr = s.irr as number;
    this.isr = s.isr as number;
    this.imr = s.imr as number;
    this.inputs = s.inputs as number;
    this.elcr = s.elcr as number;
    this.ltim = s.ltim as boolean;
    this.priorityAdd = s.priorityAdd as number;
    this.vectorBase = s.vectorBase as number;
    this.readIsr = s.readIsr as boolean;
    this.poll = s.poll as boolean;
    this.specialMask = s.specialMask as boolean;
    this.initState = s.initState as number;
    this.expectIcw4 = s.expectIcw4 as boolean;
    this.single = s.single as boolean;
    this.autoEoi = s.autoEoi as boolean;
    this.rotateOnAutoEoi = s.rotateOnAutoEoi as boolean;
    this.specialFullyNested = s.specialFullyNested as boolean;
    this.output = this.pendingIr() >= 0;
    this.onOutput(this.output);
  }
}

/**
 * The PIIX edge/level control registers at 0x4D0 (master) and 0x4D1 (slave). They live in the
 * chips, whose snapshots carry them; this device only gives them ports.
 */
export class Elcr implements Device {
  readonly name = 'elcr';

  constructor(private readonly pics: PicPair) {}

  read(offset: number, size: number): number {
    return readBytes(offset, size, 2, (o) => (o === 0 ? this.pics.master : this.pics.slave).getElcr());
  }

  write(offset: number, size: number, value: number): void {
    writeBytes(offset, size, value, 2, (o, v) => (o === 0 ? this.pics.master : this.pics.slave).setElcr(v));
  }

  snapshot(): DeviceSnapshot {
    return { version: 1 };
  }

  restore(s: DeviceSnapshot): void {
    checkSnapshotVersion(this.name, 1, s);
  }
}

/**
 * The master/slave pair as a PC/AT wires it. Attach `master` at 0x20 and `slave` at 0xA0 (two
 * ports each) and `elcr` at 0x4D0 (two ports); the CPU side is hasInterrupt() and acknowledge().
 */
export class PicPair {
  readonly master: Pic8259;
  readonly slave: Pic8259;
  readonly elcr: Elcr;
  /** Called whenever the master's INT output (the CPU's INTR pin) changes. */
  onInterruptChange?: (asserted: boolean) => void;
  /** ISA IRQ `irq`'s request went into service at an INTA (a timer that owes ticks raises the next). */
  onAcknowledged?: (irq: number) => void;
  private readonly lines: IrqLine[];

  constructor(onInterruptChange?: (asserted: boolean) => void) {
    this.onInterruptChange = onInterruptChange;
    this.master = new Pic8259('pic-master', true, 0xf8, (level) => this.onInterruptChange?.(level));
    this.slave = new Pic8259('pic-slave', false, 0xde, (level) => this.master.setInput(CASCADE_IR, level));
    this.elcr = new Elcr(this);
    this.lines = Array.from({ length: 16 }, (_, irq) => ({
      set: (level: boolean) => (irq < 8 ? this.master : this.slave).setInput(irq & 7, level),
    }));
  }

  /** The input for ISA IRQ `irq`. IRQ 2 is the cascade; on the AT bus its pin goes to IRQ 9. */
  irqLine(irq: number): IrqLine {
    if (!Number.isInteger(irq) || irq < 0 || irq > 15 || irq === CASCADE_IR) {
      throw new RangeError(`IRQ ${irq} is not a free 8259 input (0-15, 2 is the cascade)`);
    }
    return this.lines[irq];
  }

  /** Whether a request on ISA IRQ `irq` can reach INTR: not masked there nor, for the slave, at the cascade. */
  unmasked(irq: number): boolean {
    if (irq < 8) return !this.master.masks(irq);
    return !this.master.masks(CASCADE_IR) && !this.slave.masks(irq & 7);
  }

  /** An unmasked request above everything in service: the level of the CPU's INTR pin. */
  hasInterrupt(): boolean {
    return this.master.pendingIr() >= 0;
  }

  /**
   * The two INTA pulses: returns the vector and moves the request into service on the master and,
   * through the cascade, the slave. Without a request it returns the master's IR7 vector and
   * leaves ISR alone (spurious IRQ 7). A slave request that vanishes before INTA also withdraws
   * the slave's INT output, and so the master's IR2 request: it too ends as the master's IR7.
   * Should the master select IR2 with nothing left on the slave, the slave's IR7 vector comes
   * back with the master's IR2 in service, as on hardware (spurious IRQ 15, EOI the master).
   */
  acknowledge(): number {
    const ir = this.master.pendingIr();
    if (ir < 0) return this.master.vector(7);
    if (ir !== CASCADE_IR) {
      this.master.acknowledgeIr(ir);
      this.onAcknowledged?.(ir);
      return this.master.vector(ir);
    }
    const slaveIr = this.slave.pendingIr();
    this.master.acknowledgeIr(CASCADE_IR);
    if (slaveIr >= 0) {
      this.slave.acknowledgeIr(slaveIr);
      this.onAcknowledged?.(8 + slaveIr);
    }
    return this.slave.vector(slaveIr >= 0 ? slaveIr : 7);
  }
}
