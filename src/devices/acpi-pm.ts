// The ACPI fixed-hardware power management registers (ACPI 6.5 §4.8), at the ports the FADT
// names (QEMU's PIIX4 places them at 0x600): the PM1a event block (PM1 status, write 1 to clear,
// and enable), the PM1a control block (SCI_EN set, as ACPI mode is always on here; SLP_TYP and
// SLP_EN) and the 32-bit PM timer at 3.579545 MHz (§4.8.3.3). Writing SLP_EN with the sleeping
// type the DSDT gives \_S5 powers the machine off. Not modelled: sleep states other than S5,
// and SCI events (no fixed event is ever raised: there are no buttons, and the timer's overflow
// status is not tracked).
import { readBytes, writeBytes } from './byte-io.js';
import { ticksBetween, type Clock } from './clock.js';
import { checkSnapshotVersion, type Device, type DeviceSnapshot } from './device.js';

const SNAPSHOT_VERSION = 1;

/** Offsets of the registers in the block. */
export const AcpiPmPort = { PM1_STATUS: 0, PM1_ENABLE: 2, PM1_CONTROL: 4, PM_TIMER: 8 } as const;
export const ACPI_PM_PORT_COUNT = 12;
export const PM_TIMER_HZ = 3_579_545;
/** The sleeping type of S5, soft off: SUS_TYP 000b, as on the PIIX4 (82371AB datasheet, PMCNTRL). */
export const SLP_TYP_S5 = 0;

const SCI_EN = 1 << 0;
const SLP_TYP_SHIFT = 10;
const SLP_EN = 1 << 13;
/** Control bits that hold a value: SCI_EN, BM_RLD, GBL_RLS and SLP_TYP (SLP_EN reads as 0). */
const CONTROL_WRITABLE = 0x1c07;
const STATUS_BITS = 0x8731;
const ENABLE_BITS = 0x0721;

export class AcpiPm implements Device {
  readonly name = 'acpi-pm';
  private status = 0;
  private enable = 0;
  private control = SCI_EN;
  private readonly startNs: number;

  constructor(
    private readonly clock: Clock,
    /** The guest entered the sleeping state whose type it wrote (S5: power off). */
    private readonly onSleep: (sleepType: number) => void,
  ) {
    this.startNs = clock.nowNs();
  }

  read(offset: number, size: number): number {
    // One timer value per access, so that a 32-bit read never tears between its bytes.
    const timer = ticksBetween(this.startNs, this.clock.nowNs(), PM_TIMER_HZ) % 2 ** 32;
    return readBytes(offset, size, ACPI_PM_PORT_COUNT, (o) => {
      const word = o < AcpiPmPort.PM1_ENABLE ? this.status : o < AcpiPmPort.PM1_CONTROL ? this.enable : o < 6 ? this.control : o < 8 ? 0 : timer;
      const shift = o < 8 ? (o & 1) * 8 : (o - AcpiPmPort.PM_TIMER) * 8;
      return (Math.floor(word / 2 ** shift) & 0xff) >>> 0;
    });
  }

  write(offset: number, size: number, value: number): void {
    writeBytes(offset, size, value, ACPI_PM_PORT_COUNT, (o, byte) => {
      const shift = (o & 1) * 8;
      if (o < AcpiPmPort.PM1_ENABLE) this.status &= ~((byte << shift) & STATUS_BITS);
      else if (o < AcpiPmPort.PM1_CONTROL) this.enable = (this.enable & ~(0xff << shift)) | ((byte << shift) & ENABLE_BITS);
      else if (o < 6) this.writeControl(shift, byte);
    });
  }

  private writeControl(shift: number, byte: number): void {
    const bits = byte << shift;
    // SCI_EN stays set: there is no legacy (SMM) mode to go back to.
    this.control = ((this.control & ~(0xff << shift)) | (bits & CONTROL_WRITABLE) | SCI_EN) & 0xffff;
    if (bits & SLP_EN) this.onSleep((this.control >>> SLP_TYP_SHIFT) & 7);
  }

  snapshot(): DeviceSnapshot {
    return { version: SNAPSHOT_VERSION, status: this.status, enable: this.enable, control: this.control };
  }

  restore(s: DeviceSnapshot): void {
    checkSnapshotVersion(this.name, SNAPSHOT_VERSION, s);
    this.status = s.status as number;
    this.enable = s.enable as number;
    this.control = s.control as number;
  }
}
