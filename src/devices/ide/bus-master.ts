// The bus master IDE registers of one channel and the DMA engine behind them (SFF-8038i
// "Bus Master Programming Interface for IDE ATA Controllers" rev 1.0; 82371SB PIIX3 datasheet
// 290550, BMICx, BMISx and BMIDTPx). Eight bytes: Command at 0, Status at 2, the PRD table
// pointer at 4-7.
//
// A driver writes the address of a table of Physical Region Descriptors (8 bytes each: a 32-bit
// memory address, then a 16-bit byte count where 0 means 64 KiB and bit 31 of the second dword
// marks the last entry, EOT), issues a DMA command to the drive, and sets Start. The engine then
// walks the table and moves the drive's data between the image and guest RAM; the drive
// interrupts when all of it has moved. Transfers complete at once, within the access that lets
// them run (Start, or the command when Start was already set).
//
// Active and Interrupt at the end say how the table and the transfer matched (SFF-8038i, the
// table of status bit states): both set, the table described more than the drive moved; only
// Interrupt, exactly as much; neither, the table ended first (the drive still waits with DRQ
// for the rest); Error, a descriptor or a region outside RAM (a master abort on a PCI bus): the
// command is aborted. Without the function's Bus Master Enable the engine never starts (PCI 3.0
// §6.2.2, Bus Master: the function may not initiate bus cycles).
import { checkSnapshotVersion, type DeviceSnapshot, type GuestMemory } from '../device.js';
import type { AtaDisk } from './ata-disk.js';

/** Register offsets in a channel's eight bytes. */
const COMMAND = 0;
const STATUS = 2;
const PRD_TABLE = 4;
export const BUS_MASTER_CHANNEL_BYTES = 8;

/** BMICx: Start/Stop Bus Master, and Read/Write Control (1: the engine writes memory). */
const CMD_START = 0x01;
const CMD_WRITES_MEMORY = 0x08;
const CMD_BITS = CMD_START | CMD_WRITES_MEMORY;

/** BMISx bits. */
export const BusMasterStatus = {
  ACTIVE: 0x01,
  /** R/WC: a master abort (here: memory that is not RAM). */
  ERROR: 0x02,
  /** R/WC: the channel's IRQ line rose. */
  INTERRUPT: 0x04,
  /** R/W, for software: the drives are DMA capable. */
  DRIVE0_DMA: 0x20,
  DRIVE1_DMA: 0x40,
} as const;
const STATUS_CLEARED_BY_ONE = BusMasterStatus.ERROR | BusMasterStatus.INTERRUPT;
const STATUS_WRITABLE = BusMasterStatus.DRIVE0_DMA | BusMasterStatus.DRIVE1_DMA;

const PRD_BYTES = 8;
const PRD_EOT = 0x80; // bit 31 of the second dword: its top byte's bit 7
const SNAPSHOT_VERSION = 1;

export class BusMaster {
  private command = 0;
  private status = 0;
  /** BMIDTPx: bits 31-2 (the table is dword aligned). */
  private prdTable = 0;

  constructor(
    private readonly memory: GuestMemory,
    /** The PCI function's Bus Master Enable. */
    private readonly mayMaster: () => boolean,
    /** The drive the channel has selected (DMACK goes to it), if there is one. */
    private readonly selectedDrive: () => AtaDisk | undefined,
  ) {}

  readRegister(offset: number): number {
    if (offset === COMMAND) return this.command;
    if (offset === STATUS) return this.status;
    if (offset >= PRD_TABLE) return (this.prdTable >>> (8 * (offset - PRD_TABLE))) & 0xff;
    return 0; // reserved
  }

  writeRegister(offset: number, value: number): void {
    if (offset === COMMAND) return this.writeCommand(value);
    if (offset === STATUS) {
      this.status = (this.status & BusMasterStatus.ACTIVE) | (value & STATUS_WRITABLE) | (this.status & ~value & STATUS_CLEARED_BY_ONE);
      return;
    }
    if (offset >= PRD_TABLE) {
      const shift = 8 * (offset - PRD_TABLE);
      const merged = (this.prdTable & ~(0xff << shift)) | ((value & 0xff) << shift);
      this.prdTable = (merged & ~3) >>> 0;
    }
  }

  private writeCommand(value: number): void {
    const wasStarted = (this.command & CMD_START) !== 0;
    this.command = value & CMD_BITS;
    if (this.command & CMD_START) {
      if (wasStarted) return;
      // Operation begins on Start's rising edge, at the table's first descriptor.
      this.status |= BusMasterStatus.ACTIVE;
      this.run();
    } else {
      // Stopping loses the engine's place; a transfer it had not finished stays unfinished at the drive.
      this.status &= ~BusMasterStatus.ACTIVE;
    }
  }

  /** The channel's IRQ line rose. */
  interruptRaised(): void {
    this.status |= BusMasterStatus.INTERRUPT;
  }

  /** Moves the selected drive's pending DMA data, if the engine is started and may master the bus. */
  run(): void {
    if (!(this.status & BusMasterStatus.ACTIVE) || !this.mayMaster()) return;
    const drive = this.selectedDrive();
    if (drive === undefined || !drive.dmaPending) return;
    const toMemory = drive.dmaToMemory;
    let entry = this.prdTable;
    for (;;) {
      const prd = this.memory.range(entry, PRD_BYTES);
      if (prd === undefined) return this.masterAbort(drive);
      const base = ((prd[0] | (prd[1] << 8) | (prd[2] << 16) | (prd[3] << 24)) & ~1) >>> 0;
      const regionBytes = ((prd[4] | (prd[5] << 8)) & 0xfffe) || 0x10000;
      const last = (prd[7] & PRD_EOT) !== 0;
      const length = Math.min(regionBytes, drive.dmaBytesLeft);
      const region = this.memory.range(base, length);
      if (region === undefined) return this.masterAbort(drive);
      if (!drive.transferDma(region)) {
        this.status &= ~BusMasterStatus.ACTIVE; // the drive aborted its command
        return;
      }
      if (toMemory) this.memory.written(base, length);
      if (drive.dmaBytesLeft === 0) {
        if (last && length === regionBytes) this.status &= ~BusMasterStatus.ACTIVE;
        drive.dmaComplete();
        return;
      }
      if (last) {
        this.status &= ~BusMasterStatus.ACTIVE;
        return;
      }
      entry = (entry + PRD_BYTES) >>> 0;
    }
  }

  private masterAbort(drive: AtaDisk): void {
    this.status = (this.status & ~BusMasterStatus.ACTIVE) | BusMasterStatus.ERROR;
    drive.dmaFailed();
  }

  snapshot(): DeviceSnapshot {
    return { version: SNAPSHOT_VERSION, command: this.command, status: this.status, prdTable: this.prdTable };
  }

  restore(s: DeviceSnapshot): void {
    checkSnapshotVersion('bus-master', SNAPSHOT_VERSION, s);
    this.command = s.command as number;
    this.status = s.status as number;
    this.prdTable = s.prdTable as number;
  }
}
