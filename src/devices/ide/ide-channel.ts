// One IDE channel (ATA/ATAPI-6, clauses 5 and 7): a cable with up to two drives, device 0 (master) and
// device 1 (slave), behind the command block registers (eight ports: 0x1F0-0x1F7 for the
// primary channel) and the control block register (0x3F6: Alternate Status when read, Device
// Control when written), with one interrupt line.
//
// Both drives see every register write; the DEV bit of the Device register says which one
// answers reads and takes commands. A drive that is not there does not answer: device 0 answers
// for a missing device 1 except that Status, Alternate Status and Error read 0 (as QEMU's drive has it), so a
// driver sees no device there; commands to it are ignored. A channel with no drive at all has
// nothing driving its bus, which floats: every register reads all ones.
//
// INTRQ: a drive's pending interrupt reaches the line only while that drive is
// selected and nIEN is clear; reading Status (not Alternate Status) or writing a command clears
// it. The line's rising edges also set the Interrupt bit of the channel's bus master status.
import { readBytes, writeBytes, allOnes } from '../byte-io.js';
import { checkSnapshotVersion, type Device, type DeviceSnapshot, type GuestMemory, type IrqLine } from '../device.js';
import { AtaDisk } from './ata-disk.js';
import type { DriveIdentity } from './ata-identify.js';
import { Command, Control, DeviceBits, Register } from './ata-registers.js';
import { BusMaster } from './bus-master.js';
import type { DiskImage } from './disk-image.js';

/** A drive on a channel: its image and what IDENTIFY DEVICE says of it. */
export interface DriveMedia {
  image: DiskImage;
  identity: DriveIdentity;
}

export const COMMAND_BLOCK_PORTS = 8;
export const CONTROL_BLOCK_PORTS = 1;

const SNAPSHOT_VERSION = 1;

export class IdeChannel implements Device {
  /** The control block port, attached on its own (0x3F6, 0x376): its state is the channel's. */
  readonly controlBlock: Device;
  /** The channel's bus master registers (in the controller's BAR 4). */
  readonly busMaster: BusMaster;
  private readonly drives: readonly (AtaDisk | undefined)[];
  private readonly empty: boolean;
  /** Each drive's interrupt pending (INTRQ asserted while it is selected). */
  private readonly pending = [false, false];
  private deviceControl = 0;
  /** The DEV bit last written: the drive that answers. */
  private unit = 0;
  private irqLevel = false;

  constructor(
    readonly name: string,
    drives: readonly (DriveMedia | undefined)[],
    private readonly irq: IrqLine,
    dma: { memory: GuestMemory; mayMaster: () => boolean },
  ) {
    this.drives = [0, 1].map((unit) => {
      const media = drives[unit];
      return media && new AtaDisk(media.image, media.identity, {
        interrupt: () => this.interrupt(unit),
        dmaRequested: () => this.busMaster.run(),
      });
    });
    this.empty = this.drives.every((drive) => drive === undefined);
    this.busMaster = new BusMaster(dma.memory, dma.mayMaster, () => this.drives[this.unit]);
    const controlName = `${name}-control`;
    this.controlBlock = {
      name: controlName,
      read: (offset, size) => readBytes(offset, size, CONTROL_BLOCK_PORTS, this.readAlternateStatus),
      write: (offset, size, value) => writeBytes(offset, size, value, CONTROL_BLOCK_PORTS, (_at, byte) => this.writeDeviceControl(byte)),
      snapshot: () => ({ version: 1 }), // the channel's snapshot holds everything
      restore: (s) => checkSnapshotVersion(controlName, 1, s),
    };
  }

  /** The drive at `unit` (0 master, 1 slave), if there is one. */
  drive(unit: number): AtaDisk | undefined {
    return this.drives[unit];
  }

  read(offset: number, size: number): number {
    if (this.empty) return allOnes(size);
    if (offset === Register.DATA) return this.drives[this.unit]?.readData(size) ?? 0;
    return readBytes(offset, size, COMMAND_BLOCK_PORTS, this.readRegister);
  }

  write(offset: number, size: number, value: number): void {
    if (this.empty) return;
    if (offset === Register.DATA) {
      this.drives[this.unit]?.writeData(size, value);
      return;
    }
    writeBytes(offset, size, value, COMMAND_BLOCK_PORTS, this.writeRegister);
  }

  private readonly readRegister = (offset: number): number => {
    const drive = this.drives[this.unit];
    switch (offset) {
      case Register.STATUS:
        if (drive === undefined) return 0;
        this.pending[this.unit] = false;
        this.updateIrq();
        return drive.statusRegister;
      case Register.ERROR: {
        const hob = (this.deviceControl & Control.HOB) !== 0;
        if (drive === undefined) return 0;
        return hob ? drive.readRegister(offset, true) : drive.errorRegister;
      }
      default:
        // A missing drive's other registers are answered by the drive that is there.
        return (drive ?? this.drives[this.unit ^ 1]!).readRegister(offset, (this.deviceControl & Control.HOB) !== 0);
    }
  };

  private readonly readAlternateStatus = (): number => {
    if (this.empty) return 0xff;
    return this.drives[this.unit]?.statusRegister ?? 0;
  };

  private readonly writeRegister = (offset: number, value: number): void => {
    if (offset === Register.STATUS) return this.command(value);
    // A drive with BSY or DRQ set ignores register writes (QEMU's drive does the same).
    if (this.drives[this.unit]?.busyOrDataRequest) return;
    // Device Control: a write to any command block register clears HOB.
    this.deviceControl &= ~Control.HOB;
    for (const drive of this.drives) drive?.writeRegister(offset, value);
    if (offset === Register.DEVICE) {
      this.unit = value & DeviceBits.DEV ? 1 : 0;
      this.updateIrq();
    }
  };

  private command(code: number): void {
    if (code === Command.EXECUTE_DEVICE_DIAGNOSTIC) return this.diagnose();
    const drive = this.drives[this.unit];
    if (drive === undefined || drive.busy) return;
    this.pending[this.unit] = false;
    this.updateIrq();
    drive.command(code);
  }

  /**
   * EXECUTE DEVICE DIAGNOSTIC, which both drives take whichever is selected: each shows
   * its signature and "passed", device 0 is selected and interrupts.
   */
  private diagnose(): void {
    if (this.drives.some((drive) => drive?.busy)) return;
    this.deviceControl &= ~Control.HOB;
    this.pending.fill(false);
    for (const drive of this.drives) drive?.diagnose();
    this.unit = 0;
    this.updateIrq();
    if (this.drives[0]) this.interrupt(0);
  }

  /**
   * Device Control. SRST's rising edge holds both drives in reset, busy; its falling edge
   * ends the reset: each drive shows its signature, and device 0 is selected (software reset protocol). A reset
   * raises no interrupt.
   */
  private writeDeviceControl(value: number): void {
    const was = this.deviceControl;
    this.deviceControl = value & (Control.NIEN | Control.SRST | Control.HOB);
    if (value & Control.SRST && !(was & Control.SRST)) {
      this.pending.fill(false);
      for (const drive of this.drives) drive?.holdInReset();
    } else if (!(value & Control.SRST) && was & Control.SRST) {
      for (const drive of this.drives) drive?.releaseReset();
      this.unit = 0;
    }
    this.updateIrq();
  }

  private interrupt(unit: number): void {
    this.pending[unit] = true;
    this.updateIrq();
  }

  private updateIrq(): void {
    const level = this.pending[this.unit] && !(this.deviceControl & Control.NIEN) && this.drives[this.unit] !== undefined;
    if (level === this.irqLevel) return;
    this.irqLevel = level;
    if (level) this.busMaster.interruptRaised();
    this.irq.set(level);
  }

  snapshot(): DeviceSnapshot {
    return {
      version: SNAPSHOT_VERSION,
      deviceControl: this.deviceControl,
      unit: this.unit,
      pending: [...this.pending],
      drives: this.drives.map((drive) => drive?.snapshot() ?? null),
      busMaster: this.busMaster.snapshot(),
    };
  }

  restore(s: DeviceSnapshot): void {
    checkSnapshotVersion(this.name, SNAPSHOT_VERSION, s);
    const saved = s.drives as (DeviceSnapshot | null)[];
    this.drives.forEach((drive, unit) => {
      const state = saved[unit];
      if ((state === null) !== (drive === undefined)) {
        throw new Error(`device ${unit} was ${state === null ? 'absent' : 'present'} when saved and is ${drive ? 'present' : 'absent'} now`);
      }
      if (drive && state) drive.restore(state);
    });
    this.deviceControl = s.deviceControl as number;
    this.unit = s.unit as number;
    const pending = s.pending as boolean[];
    this.pending[0] = pending[0];
    this.pending[1] = pending[1];
    this.busMaster.restore(s.busMaster as DeviceSnapshot);
    // The line is driven again as saved; the bus master's Interrupt bit was saved with it.
    this.irqLevel = false;
    const level = this.pending[this.unit] && !(this.deviceControl & Control.NIEN) && this.drives[this.unit] !== undefined;
    if (level) {
      this.irqLevel = true;
      this.irq.set(true);
    }
  }
}
