// The PC's interrupt wiring, as on QEMU's pc machine: every ISA IRQ line reaches both the 8259
// input of its number and an I/O APIC pin, the same number except IRQ 0, which the board wires
// to pin 2 (the MADT says so with an interrupt source override; ACPI 6.5 §5.2.12.5). Pins 16-23
// are the I/O APIC's alone. The HPET's legacy replacement mode takes IRQ 0 and IRQ 8 from the PIT
// and the RTC (HPET specification 1.0a §2.3.9.2.2): their lines are cut until it ends.
import { checkSnapshotVersion, type DeviceSnapshot, type IrqLine, type StatefulPart } from '../devices/device.js';
import type { IoApic } from '../devices/io-apic.js';
import type { PicPair } from '../devices/pic8259.js';

/** The 8259's IR2 is the cascade: nothing else is wired there. */
const CASCADE_IRQ = 2;
/** ISA IRQ 0 arrives on I/O APIC pin 2. */
export const IRQ0_PIN = 2;
const ISA_IRQS = 16;

/** The I/O APIC pin an ISA IRQ arrives on. */
export function isaIrqPin(irq: number): number {
  return irq === 0 ? IRQ0_PIN : irq;
}

const SNAPSHOT_VERSION = 1;

export class IsaInterrupts implements StatefulPart {
  readonly name = 'isa-interrupts';
  private legacyReplacement = false;
  /** What the PIT, RTC and the HPET's legacy timers last drove, for when the switch moves. */
  private readonly levels = { pit: false, rtc: false, hpet0: false, hpet8: false };

  constructor(
    private readonly pics: PicPair,
    private readonly ioapic: IoApic,
  ) {}

  /** Drives ISA IRQ `irq` at both controllers. */
  private driveIrq(irq: number, level: boolean): void {
    if (irq !== CASCADE_IRQ) this.pics.irqLine(irq).set(level);
    this.ioapic.pin(isaIrqPin(irq)).set(level);
  }

  /** The line of ISA IRQ `irq`, for a device on the ISA bus (the serial port, the keyboard). */
  isaIrq(irq: number): IrqLine {
    if (!Number.isInteger(irq) || irq < 0 || irq >= ISA_IRQS || irq === CASCADE_IRQ) throw new RangeError(`ISA IRQ ${irq} is not a free line`);
    return { set: (level) => this.driveIrq(irq, level) };
  }

  /** The PIT's IRQ 0 and the RTC's IRQ 8: cut while the HPET replaces them. */
  readonly pitIrq: IrqLine = { set: (level) => this.legacySource('pit', 0, level, false) };
  readonly rtcIrq: IrqLine = { set: (level) => this.legacySource('rtc', 8, level, false) };
  /** The HPET's timers 0 and 1 in legacy replacement mode. */
  readonly hpetIrq0: IrqLine = { set: (level) => this.legacySource('hpet0', 0, level, true) };
  readonly hpetIrq8: IrqLine = { set: (level) => this.legacySource('hpet8', 8, level, true) };

  private legacySource(source: keyof IsaInterrupts['levels'], irq: number, level: boolean, hpet: boolean): void {
    this.levels[source] = level;
    if (hpet === this.legacyReplacement) this.driveIrq(irq, level);
  }

  /** The HPET turned legacy replacement on or off. */
  setLegacyReplacement(on: boolean): void {
    if (on === this.legacyReplacement) return;
    this.legacyReplacement = on;
    this.driveIrq(0, on ? this.levels.hpet0 : this.levels.pit);
    this.driveIrq(8, on ? this.levels.hpet8 : this.levels.rtc);
  }

  /** The switch and the sources' levels; the lines' levels are the controllers' own state. */
  snapshot(): DeviceSnapshot {
    return { version: SNAPSHOT_VERSION, legacyReplacement: this.legacyReplacement, levels: { ...this.levels } };
  }

  restore(s: DeviceSnapshot): void {
    checkSnapshotVersion(this.name, SNAPSHOT_VERSION, s);
    this.legacyReplacement = s.legacyReplacement === true;
    Object.assign(this.levels, s.levels as IsaInterrupts['levels']);
  }

  /** Whether the PIT and RTC have their lines (legacy replacement is off). */
  get legacyTimersConnected(): boolean {
    return !this.legacyReplacement;
  }

  /** Line n of the ISA bus as a card sees it: ISA IRQ n below 16 (the cascade's 2 reaches pin 2 only), pin n above. */
  line(n: number): IrqLine {
    return n < ISA_IRQS && n !== CASCADE_IRQ ? this.isaIrq(n) : this.gsi(n);
  }

  /**
   * Global system interrupt `gsi` (an I/O APIC pin) for a source that names one, such as an HPET
   * timer's route: below 16 it is also the 8259 input of that number, as on a PC.
   */
  gsi(gsi: number): IrqLine {
    return {
      set: (level) => {
        if (gsi < ISA_IRQS && gsi !== CASCADE_IRQ) this.pics.irqLine(gsi).set(level);
        this.ioapic.pin(gsi).set(level);
      },
    };
  }
}
