// An ATA hard disk (ATA/ATAPI-6, T13 1410D): its own copy of the task file registers, the
// commands a disk has (clause 8) and the protocols that carry them (clause 9: PIO data-in, PIO
// data-out, DMA, non-data), over a raw image file. Commands complete at once: a drive
// is never seen busy except while its channel holds it in software reset.
//
// The channel (ide-channel.ts) gives the drive every register write, reads back the registers
// of the selected drive, and gates the drive's INTRQ with selection and nIEN. A DMA command
// waits with DRQ set until the channel's bus master engine (bus-master.ts) moves its data.
import { checkSnapshotVersion, type DeviceSnapshot } from '../device.js';
import { chsGeometry, defaultGeometry, type ChsGeometry } from './chs-geometry.js';
import {
  AtaError, Command, DeviceBits, DIAGNOSTIC_PASSED, Feature, MAX_MULTIPLE_SECTORS, Register, SECTOR_BYTES, Status, STATUS_IDLE,
} from './ata-registers.js';
import {
  DEFAULT_TRANSFER_MODE, identifyDevice, MAX_MULTIWORD_DMA_MODE, MAX_PIO_MODE, MAX_SINGLE_WORD_DMA_MODE, MAX_ULTRA_DMA_MODE,
  TransferModeType, type DriveIdentity,
} from './ata-identify.js';
import type { DiskImage } from './disk-image.js';

/** What a drive signals to its channel. */
export interface DriveWiring {
  /** The drive asserts INTRQ (ATA-6, INTRQ): an interrupt is pending until the host reads Status. */
  interrupt(): void;
  /** A DMA command is waiting for its data: the bus master moves it once it is started. */
  dmaRequested(): void;
}

/** What the drive is doing between commands and data. */
const Phase = {
  IDLE: 0,
  PIO_IN: 1,
  PIO_OUT: 2,
  DMA_IN: 3,
  DMA_OUT: 4,
  /** Held in software reset (SRST set): busy until it is released. */
  RESET: 5,
} as const;

/** How the command being carried out addressed the disk: how its registers report progress. */
const Addressing = { CHS: 0, LBA28: 1, LBA48: 2 } as const;

const SNAPSHOT_VERSION = 1;
const TWO_24 = 0x1000000;

export class AtaDisk {
  // The task file registers (clause 7), with the previous value of each ("high order byte", the 48-bit Address feature set)
  // that 48-bit commands take their upper address and count bits from.
  private features = 0;
  private hobFeatures = 0;
  private sectorCount = 0;
  private hobSectorCount = 0;
  private lbaLow = 0;
  private hobLbaLow = 0;
  private lbaMid = 0;
  private hobLbaMid = 0;
  private lbaHigh = 0;
  private hobLbaHigh = 0;
  private device = 0;
  private status: number = STATUS_IDLE;
  private error = DIAGNOSTIC_PASSED;

  private phase: number = Phase.IDLE;
  private addressing: number = Addressing.LBA28;
  /** PIO: the first sector of the block in the buffer; DMA: the next byte of the image to move. */
  private position = 0;
  /** PIO: sectors of the command after the buffered block; DMA: bytes still to move. */
  private remaining = 0;
  /** Sectors per DRQ block of the PIO command (1, or the multiple count). */
  private blockSectors = 1;
  private readonly buffer = new Uint8Array(MAX_MULTIPLE_SECTORS * SECTOR_BYTES);
  private bufferPos = 0;
  private bufferEnd = 0;
  /** The PIO block comes from the image (a read), not from IDENTIFY. */
  private bufferFromMedia = false;

  // Settings: SET MULTIPLE MODE, SET FEATURES, INITIALIZE DEVICE PARAMETERS, power management.
  private multipleSectors = MAX_MULTIPLE_SECTORS;
  private transferMode = DEFAULT_TRANSFER_MODE;
  private writeCache = true;
  /** SET FEATURES 66h: a software reset keeps the settings rather than reverting them (SET FEATURES). */
  private keepSettingsOnReset = false;
  private geometry: ChsGeometry;
  private standby = false;

  readonly defaultGeometry: ChsGeometry;

  constructor(
    private readonly image: DiskImage,
    private readonly identity: DriveIdentity,
    private readonly wiring: DriveWiring,
  ) {
    this.defaultGeometry = defaultGeometry(image.sectors);
    this.geometry = this.defaultGeometry;
    this.putSignature();
  }

  get sectors(): number {
    return this.image.sectors;
  }

  get readOnly(): boolean {
    return this.image.readOnly;
  }

  /** BSY or DRQ: the drive ignores writes to its registers (other than Command) until they clear. */
  get busyOrDataRequest(): boolean {
    return (this.status & (Status.BSY | Status.DRQ)) !== 0;
  }

  get busy(): boolean {
    return (this.status & Status.BSY) !== 0;
  }

  get statusRegister(): number {
    return this.status;
  }

  get errorRegister(): number {
    return this.error;
  }

  /** A register of the command block other than Data, Status and Error; `hob` reads the previous values (Device Control, HOB). */
  readRegister(register: number, hob: boolean): number {
    switch (register) {
      case Register.ERROR:
        return hob ? this.hobFeatures : this.error;
      case Register.SECTOR_COUNT:
        return hob ? this.hobSectorCount : this.sectorCount;
      case Register.LBA_LOW:
        return hob ? this.hobLbaLow : this.lbaLow;
      case Register.LBA_MID:
        return hob ? this.hobLbaMid : this.lbaMid;
      case Register.LBA_HIGH:
        return hob ? this.hobLbaHigh : this.lbaHigh;
      default:
        return this.device;
    }
  }

  /** A write to Features, Sector Count, the LBA registers or Device: what was there becomes the HOB value. */
  writeRegister(register: number, value: number): void {
    switch (register) {
      case Register.ERROR:
        this.hobFeatures = this.features;
        this.features = value;
        return;
      case Register.SECTOR_COUNT:
        this.hobSectorCount = this.sectorCount;
        this.sectorCount = value;
        return;
      case Register.LBA_LOW:
        this.hobLbaLow = this.lbaLow;
        this.lbaLow = value;
        return;
      case Register.LBA_MID:
        this.hobLbaMid = this.lbaMid;
        this.lbaMid = value;
        return;
      case Register.LBA_HIGH:
        this.hobLbaHigh = this.lbaHigh;
        this.lbaHigh = value;
        return;
      case Register.DEVICE:
        this.device = value;
        return;
    }
  }

  // --- PIO data ---

  /**
   * A read of the Data register: 2 or 4 bytes of the DRQ block (an 8-bit read takes a whole
   * 16-bit cycle and returns its low byte). Outside a PIO data-in transfer it reads 0.
   */
  readData(size: number): number {
    if (this.phase !== Phase.PIO_IN) return 0;
    const b = this.buffer;
    const p = this.bufferPos;
    let value = b[p] | (b[p + 1] << 8);
    if (size === 4) {
      value = (value | (b[p + 2] << 16) | (b[p + 3] << 24)) >>> 0;
      this.bufferPos = p + 4;
    } else {
      this.bufferPos = p + 2;
      if (size === 1) value &= 0xff;
    }
    if (this.bufferPos >= this.bufferEnd) this.pioInBlockDone();
    return value;
  }

  /** A write of the Data register during a PIO data-out transfer (ignored otherwise). */
  writeData(size: number, value: number): void {
    if (this.phase !== Phase.PIO_OUT) return;
    const b = this.buffer;
    const p = this.bufferPos;
    b[p] = value;
    b[p + 1] = value >>> 8;
    if (size === 4) {
      b[p + 2] = value >>> 16;
      b[p + 3] = value >>> 24;
      this.bufferPos = p + 4;
    } else {
      this.bufferPos = p + 2;
    }
    if (this.bufferPos >= this.bufferEnd) this.pioOutBlockDone();
  }

  // --- commands ---

  /** A write to the Command register (clause 8). */
  command(code: number): void {
    this.error = 0;
    this.phase = Phase.IDLE;
    switch (code) {
      case Command.READ_SECTORS:
      case Command.READ_SECTORS_NO_RETRY:
        return this.startPioIn(false, 1);
      case Command.READ_SECTORS_EXT:
        return this.startPioIn(true, 1);
      case Command.READ_MULTIPLE:
        return this.multipleSectors === 0 ? this.abort() : this.startPioIn(false, this.multipleSectors);
      case Command.READ_MULTIPLE_EXT:
        return this.multipleSectors === 0 ? this.abort() : this.startPioIn(true, this.multipleSectors);
      case Command.WRITE_SECTORS:
      case Command.WRITE_SECTORS_NO_RETRY:
        return this.startPioOut(false, 1);
      case Command.WRITE_SECTORS_EXT:
        return this.startPioOut(true, 1);
      case Command.WRITE_MULTIPLE:
        return this.multipleSectors === 0 ? this.abort() : this.startPioOut(false, this.multipleSectors);
      case Command.WRITE_MULTIPLE_EXT:
        return this.multipleSectors === 0 ? this.abort() : this.startPioOut(true, this.multipleSectors);
      case Command.READ_DMA:
      case Command.READ_DMA_NO_RETRY:
        return this.startDma(false, true);
      case Command.READ_DMA_EXT:
        return this.startDma(true, true);
      case Command.WRITE_DMA:
      case Command.WRITE_DMA_NO_RETRY:
        return this.startDma(false, false);
      case Command.WRITE_DMA_EXT:
        return this.startDma(true, false);
      case Command.READ_VERIFY_SECTORS:
      case Command.READ_VERIFY_SECTORS_NO_RETRY:
      case Command.READ_VERIFY_SECTORS_EXT: {
        // READ VERIFY SECTORS: the sectors are read without transferring their data; here they are all readable.
        const range = this.commandRange(code === Command.READ_VERIFY_SECTORS_EXT);
        if (range === undefined) return;
        this.standby = false;
        this.reportAddress(range.lba + range.count - 1, 0);
        return this.complete();
      }
      case Command.IDENTIFY_DEVICE:
        this.buffer.set(identifyDevice(this.identity, {
          sectors: this.image.sectors, defaultGeometry: this.defaultGeometry, currentGeometry: this.geometry,
          multipleSectors: this.multipleSectors, transferMode: this.transferMode, writeCache: this.writeCache,
        }));
        this.bufferFromMedia = false;
        this.remaining = 0;
        return this.offerBlock(SECTOR_BYTES);
      case Command.SET_MULTIPLE_MODE: {
        // SET MULTIPLE MODE: a power of two up to the maximum in IDENTIFY word 47; 0 turns multiple mode off.
        const count = this.sectorCount;
        if (count > MAX_MULTIPLE_SECTORS || (count & (count - 1)) !== 0) return this.abort();
        this.multipleSectors = count;
        return this.complete();
      }
      case Command.SET_FEATURES:
        return this.setFeatures();
      case Command.INITIALIZE_DEVICE_PARAMETERS:
        // INITIALIZE DEVICE PARAMETERS: sectors per track in Sector Count, the highest head number in Device bits 3-0.
        if (this.sectorCount === 0) return this.abort();
        this.geometry = chsGeometry(this.image.sectors, (this.device & DeviceBits.HEAD) + 1, this.sectorCount);
        return this.complete();
      case Command.RECALIBRATE:
        return this.complete();
      case Command.FLUSH_CACHE:
      case Command.FLUSH_CACHE_EXT:
        try {
          this.image.flush();
        } catch {
          return this.abort();
        }
        return this.complete();
      case Command.STANDBY_IMMEDIATE:
      case Command.STANDBY:
        // STANDBY's timer (Sector Count) is accepted; the drive does not spin down on its own.
        this.standby = true;
        return this.complete();
      case Command.IDLE_IMMEDIATE:
      case Command.IDLE:
        this.standby = false;
        return this.complete();
      case Command.CHECK_POWER_MODE:
        // CHECK POWER MODE: 00h in standby, FFh when active or idle.
        this.sectorCount = this.standby ? 0x00 : 0xff;
        return this.complete();
      default:
        // Anything else, DEVICE RESET and the packet commands included: not a disk's.
        return this.abort();
    }
  }

  /** SET FEATURES: the subcommands a disk needs; the rest are aborted. */
  private setFeatures(): void {
    switch (this.features) {
      case Feature.SET_TRANSFER_MODE: {
        const type = this.sectorCount & 0xf8;
        const mode = this.sectorCount & 0x07;
        const highest =
          type === TransferModeType.PIO_DEFAULT ? 1 :
          type === TransferModeType.PIO ? MAX_PIO_MODE :
          type === TransferModeType.SINGLE_WORD_DMA ? MAX_SINGLE_WORD_DMA_MODE :
          type === TransferModeType.MULTIWORD_DMA ? MAX_MULTIWORD_DMA_MODE :
          type === TransferModeType.ULTRA_DMA ? MAX_ULTRA_DMA_MODE : -1;
        if (mode > highest) return this.abort();
        this.transferMode = this.sectorCount;
        return this.complete();
      }
      case Feature.ENABLE_WRITE_CACHE:
        this.writeCache = true;
        return this.complete();
      case Feature.DISABLE_WRITE_CACHE:
        // Turning the cache off writes back what it holds; from then on every write is durable at completion.
        try {
          this.image.flush();
        } catch {
          return this.abort();
        }
        this.writeCache = false;
        return this.complete();
      case Feature.DISABLE_REVERTING_TO_DEFAULTS:
      case Feature.ENABLE_REVERTING_TO_DEFAULTS:
        this.keepSettingsOnReset = this.features === Feature.DISABLE_REVERTING_TO_DEFAULTS;
        return this.complete();
      case Feature.ENABLE_READ_LOOK_AHEAD:
      case Feature.DISABLE_READ_LOOK_AHEAD:
        return this.complete(); // reads come from the host's cache either way
      default:
        return this.abort();
    }
  }

  /**
   * The first sector and count of a read or write command, from LBA or CHS registers; undefined
   * after aborting with IDNF when they leave the disk (or name no valid CHS sector).
   */
  private commandRange(ext: boolean): { lba: number; count: number } | undefined {
    let lba: number;
    let count: number;
    if (ext) {
      // 48-bit Address feature set: the previous contents of each register are its high byte.
      this.addressing = Addressing.LBA48;
      lba = (this.hobLbaHigh * 0x10000 + this.hobLbaMid * 0x100 + this.hobLbaLow) * TWO_24 + ((this.lbaHigh << 16) | (this.lbaMid << 8) | this.lbaLow);
      count = ((this.hobSectorCount << 8) | this.sectorCount) || 0x10000;
    } else if (this.device & DeviceBits.LBA) {
      this.addressing = Addressing.LBA28;
      lba = ((this.device & DeviceBits.HEAD) << 24) | (this.lbaHigh << 16) | (this.lbaMid << 8) | this.lbaLow;
      count = this.sectorCount || 0x100;
    } else {
      this.addressing = Addressing.CHS;
      const g = this.geometry;
      const cylinder = (this.lbaHigh << 8) | this.lbaMid;
      const head = this.device & DeviceBits.HEAD;
      const sector = this.lbaLow;
      count = this.sectorCount || 0x100;
      if (sector === 0 || sector > g.sectorsPerTrack || head >= g.heads || cylinder >= g.cylinders) {
        this.abort(AtaError.IDNF);
        return undefined;
      }
      lba = (cylinder * g.heads + head) * g.sectorsPerTrack + sector - 1;
    }
    if (lba + count > this.image.sectors) {
      this.abort(AtaError.IDNF);
      return undefined;
    }
    return { lba, count };
  }

  private startPioIn(ext: boolean, blockSectors: number): void {
    const range = this.commandRange(ext);
    if (range === undefined) return;
    this.standby = false;
    this.position = range.lba;
    this.remaining = range.count;
    this.blockSectors = blockSectors;
    this.bufferFromMedia = true;
    this.loadBlock();
  }

  /** Reads the next DRQ block from the image and offers it (PIO data-in: an interrupt per block). */
  private loadBlock(): void {
    const sectors = Math.min(this.remaining, this.blockSectors);
    try {
      this.image.read(this.buffer.subarray(0, sectors * SECTOR_BYTES), this.position * SECTOR_BYTES);
    } catch {
      this.abort();
      return;
    }
    this.remaining -= sectors;
    this.reportAddress(this.position + sectors - 1, this.remaining);
    this.offerBlock(sectors * SECTOR_BYTES);
  }

  /** Sets DRQ for `bytes` of the buffer and interrupts. */
  private offerBlock(bytes: number): void {
    this.phase = Phase.PIO_IN;
    this.bufferPos = 0;
    this.bufferEnd = bytes;
    this.status = STATUS_IDLE | Status.DRQ;
    this.wiring.interrupt();
  }

  /** The host has read the whole block: the next one, or the end of the command (PIO data-in: no interrupt after the last). */
  private pioInBlockDone(): void {
    if (this.bufferFromMedia && this.remaining > 0) {
      this.position += this.bufferEnd / SECTOR_BYTES;
      this.loadBlock();
      return;
    }
    this.phase = Phase.IDLE;
    this.status = STATUS_IDLE;
  }

  private startPioOut(ext: boolean, blockSectors: number): void {
    if (this.image.readOnly) return this.abort();
    const range = this.commandRange(ext);
    if (range === undefined) return;
    this.standby = false;
    this.position = range.lba;
    this.remaining = range.count;
    this.blockSectors = blockSectors;
    // PIO data-out: the first block is asked for without an interrupt.
    this.requestBlock();
  }

  private requestBlock(): void {
    const sectors = Math.min(this.remaining, this.blockSectors);
    this.remaining -= sectors;
    this.phase = Phase.PIO_OUT;
    this.bufferPos = 0;
    this.bufferEnd = sectors * SECTOR_BYTES;
    this.status = STATUS_IDLE | Status.DRQ;
  }

  /** The host has written a whole block: onto the image, then the next block or the end, each with an interrupt. */
  private pioOutBlockDone(): void {
    const sectors = this.bufferEnd / SECTOR_BYTES;
    try {
      this.image.write(this.buffer.subarray(0, this.bufferEnd), this.position * SECTOR_BYTES);
      if (!this.writeCache) this.image.flush();
    } catch {
      this.abort();
      return;
    }
    this.reportAddress(this.position + sectors - 1, this.remaining);
    this.position += sectors;
    if (this.remaining > 0) {
      this.requestBlock();
      this.wiring.interrupt();
      return;
    }
    this.complete();
  }

  private startDma(ext: boolean, toMemory: boolean): void {
    if (!toMemory && this.image.readOnly) return this.abort();
    const range = this.commandRange(ext);
    if (range === undefined) return;
    this.standby = false;
    this.position = range.lba * SECTOR_BYTES;
    this.remaining = range.count * SECTOR_BYTES;
    this.phase = toMemory ? Phase.DMA_IN : Phase.DMA_OUT;
    this.status = STATUS_IDLE | Status.DRQ;
    this.wiring.dmaRequested();
  }

  // --- DMA, as the bus master engine drives it ---

  /** A DMA command is waiting for (or in the middle of) its data. */
  get dmaPending(): boolean {
    return this.phase === Phase.DMA_IN || this.phase === Phase.DMA_OUT;
  }

  /** The pending DMA command reads the disk into memory (READ DMA), rather than writing it. */
  get dmaToMemory(): boolean {
    return this.phase === Phase.DMA_IN;
  }

  get dmaBytesLeft(): number {
    return this.dmaPending ? this.remaining : 0;
  }

  /**
   * Moves the next `memory.length` bytes of the pending DMA command between the image and
   * `memory` (at most dmaBytesLeft). False if the host's I/O failed: the command was aborted.
   */
  transferDma(memory: Uint8Array): boolean {
    try {
      if (this.phase === Phase.DMA_IN) this.image.read(memory, this.position);
      else this.image.write(memory, this.position);
    } catch {
      this.abort();
      return false;
    }
    this.position += memory.length;
    this.remaining -= memory.length;
    return true;
  }

  /** All the data has moved: the command completes with an interrupt (DMA protocol). */
  dmaComplete(): void {
    if (this.phase === Phase.DMA_OUT && !this.writeCache) {
      try {
        this.image.flush();
      } catch {
        this.abort();
        return;
      }
    }
    this.reportAddress(this.position / SECTOR_BYTES - 1, 0);
    this.complete();
  }

  /** The bus master could not reach memory: the command ends in error. */
  dmaFailed(): void {
    this.abort();
  }

  // --- resets ---

  /** SRST set (software reset protocol): busy, whatever was going on abandoned. */
  holdInReset(): void {
    this.phase = Phase.RESET;
    this.status = Status.BSY;
  }

  /** SRST cleared: the settings revert unless told to keep them, and the drive shows its signature. */
  releaseReset(): void {
    if (!this.keepSettingsOnReset) {
      this.multipleSectors = MAX_MULTIPLE_SECTORS;
      this.transferMode = DEFAULT_TRANSFER_MODE;
      this.writeCache = true;
    }
    this.diagnose();
  }

  /** EXECUTE DEVICE DIAGNOSTIC, also the end of a reset: the signature, and "passed". */
  diagnose(): void {
    this.phase = Phase.IDLE;
    this.putSignature();
    this.status = STATUS_IDLE;
    this.error = DIAGNOSTIC_PASSED;
  }

  /** The ATA device signature (the signature and persistence clause): count 1, LBA low 1, LBA mid and high 0 (not a packet device), Device 0. */
  private putSignature(): void {
    this.sectorCount = 1;
    this.lbaLow = 1;
    this.lbaMid = 0;
    this.lbaHigh = 0;
    this.device = 0;
    this.hobSectorCount = this.hobLbaLow = this.hobLbaMid = this.hobLbaHigh = 0;
  }

  // --- completion ---

  private complete(): void {
    this.phase = Phase.IDLE;
    this.status = STATUS_IDLE;
    this.wiring.interrupt();
  }

  private abort(error: number = AtaError.ABRT): void {
    this.phase = Phase.IDLE;
    this.status = Status.DRDY | Status.ERR;
    this.error = error;
    this.wiring.interrupt();
  }

  /**
   * After each block, the address registers hold the last sector moved and Sector Count what is
   * left, in the addressing the command used (as ATA-1 describes it, and as drives and QEMU do).
   */
  private reportAddress(lba: number, sectorsLeft: number): void {
    switch (this.addressing) {
      case Addressing.LBA48:
        this.lbaLow = lba & 0xff;
        this.lbaMid = (lba >>> 8) & 0xff;
        this.lbaHigh = (lba >>> 16) & 0xff;
        this.hobLbaLow = Math.floor(lba / TWO_24) & 0xff;
        this.hobLbaMid = Math.floor(lba / 0x100000000) & 0xff;
        this.hobLbaHigh = Math.floor(lba / 0x10000000000) & 0xff;
        this.sectorCount = sectorsLeft & 0xff;
        this.hobSectorCount = (sectorsLeft >>> 8) & 0xff;
        return;
      case Addressing.LBA28:
        this.lbaLow = lba & 0xff;
        this.lbaMid = (lba >>> 8) & 0xff;
        this.lbaHigh = (lba >>> 16) & 0xff;
        this.device = (this.device & ~DeviceBits.HEAD) | ((lba >>> 24) & DeviceBits.HEAD);
        this.sectorCount = sectorsLeft & 0xff;
        return;
      default: {
        const g = this.geometry;
        const cylinder = Math.floor(lba / (g.heads * g.sectorsPerTrack));
        this.lbaLow = (lba % g.sectorsPerTrack) + 1;
        this.lbaMid = cylinder & 0xff;
        this.lbaHigh = (cylinder >>> 8) & 0xff;
        this.device = (this.device & ~DeviceBits.HEAD) | (Math.floor(lba / g.sectorsPerTrack) % g.heads);
        this.sectorCount = sectorsLeft & 0xff;
      }
    }
  }

  // --- state ---

  snapshot(): DeviceSnapshot {
    return {
      version: SNAPSHOT_VERSION,
      registers: [
        this.features, this.hobFeatures, this.sectorCount, this.hobSectorCount, this.lbaLow, this.hobLbaLow,
        this.lbaMid, this.hobLbaMid, this.lbaHigh, this.hobLbaHigh, this.device, this.status, this.error,
      ],
      phase: this.phase,
      addressing: this.addressing,
      position: this.position,
      remaining: this.remaining,
      blockSectors: this.blockSectors,
      buffer: Buffer.from(this.buffer.subarray(0, this.bufferEnd)).toString('base64'),
      bufferPos: this.bufferPos,
      bufferFromMedia: this.bufferFromMedia,
      multipleSectors: this.multipleSectors,
      transferMode: this.transferMode,
      writeCache: this.writeCache,
      keepSettingsOnReset: this.keepSettingsOnReset,
      geometry: { ...this.geometry },
      standby: this.standby,
      sectors: this.image.sectors,
    };
  }

  restore(s: DeviceSnapshot): void {
    checkSnapshotVersion('ata-disk', SNAPSHOT_VERSION, s);
    if (s.sectors !== this.image.sectors) {
      throw new Error(`the drive had ${String(s.sectors)} sectors when saved; its image '${this.image.path}' now has ${this.image.sectors}`);
    }
    const r = s.registers as number[];
    [
      this.features, this.hobFeatures, this.sectorCount, this.hobSectorCount, this.lbaLow, this.hobLbaLow,
      this.lbaMid, this.hobLbaMid, this.lbaHigh, this.hobLbaHigh, this.device, this.status, this.error,
    ] = r;
    this.phase = s.phase as number;
    this.addressing = s.addressing as number;
    this.position = s.position as number;
    this.remaining = s.remaining as number;
    this.blockSectors = s.blockSectors as number;
    const buffer = Buffer.from(s.buffer as string, 'base64');
    this.buffer.set(buffer);
    this.bufferEnd = buffer.length;
    this.bufferPos = s.bufferPos as number;
    this.bufferFromMedia = s.bufferFromMedia as boolean;
    this.multipleSectors = s.multipleSectors as number;
    this.transferMode = s.transferMode as number;
    this.writeCache = s.writeCache as boolean;
    this.keepSettingsOnReset = s.keepSettingsOnReset as boolean;
    this.geometry = { ...(s.geometry as ChsGeometry) };
    this.standby = s.standby as boolean;
  }
}
