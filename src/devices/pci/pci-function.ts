// One PCI function's type 0 configuration space (PCI Local Bus Specification 3.0, §6.1): its
// identity, the command register, up to six base address registers, the interrupt line and
// pin, and whatever registers of its own the part has. A byte is writable only where the part
// says so; the identity and class are read-only. A BAR is sized the standard way (§6.2.5.1):
// writing all ones reads back the size mask with the type bits. Where a BAR decodes (its base,
// with the command register's I/O or memory enable) is told to the function's owner, which maps
// the registers behind it onto the port bus or MMIO.

/** PCI_COMMAND bits (§6.2.2). */
export const PCI_COMMAND_IO = 1 << 0;
export const PCI_COMMAND_MEMORY = 1 << 1;
export const PCI_COMMAND_MASTER = 1 << 2;

/** Type 0 header offsets (§6.1). */
export const PciConfig = {
  VENDOR_ID: 0x00,
  DEVICE_ID: 0x02,
  COMMAND: 0x04,
  STATUS: 0x06,
  REVISION: 0x08,
  PROG_IF: 0x09,
  SUBCLASS: 0x0a,
  CLASS: 0x0b,
  LATENCY_TIMER: 0x0d,
  HEADER_TYPE: 0x0e,
  BAR0: 0x10,
  SUBSYSTEM_VENDOR_ID: 0x2c,
  SUBSYSTEM_ID: 0x2e,
  INTERRUPT_LINE: 0x3c,
  INTERRUPT_PIN: 0x3d,
} as const;

/** A header type with bit 7 set says the device has more functions than 0 (§6.2.1). */
export const HEADER_TYPE_MULTI_FUNCTION = 0x80;

export const PCI_CONFIG_BYTES = 256;
const BAR_COUNT = 6;
/** BAR bit 0: an I/O space BAR; memory BARs have 0 there, with type 00 (32-bit) in bits 2-1. */
const BAR_IO_SPACE = 1;

export interface PciIdentity {
  vendor: number;
  device: number;
  /** Class code, subclass and programming interface as one 24-bit value (0x010180: IDE, bus master). */
  classCode: number;
  revision?: number;
  headerType?: number;
  subsystemVendor?: number;
  subsystem?: number;
  /** INTA# to INTD# as 1 to 4; 0 for none. */
  interruptPin?: number;
}

/** A base address register: the space it decodes and its size (a power of two). */
export interface PciBar {
  space: 'io' | 'memory';
  bytes: number;
}

/** A PCI function as the host bridge sees it: configuration space reads and writes. */
export interface PciDevice {
  readonly name: string;
  readonly config: PciConfigSpace;
}

export class PciConfigSpace {
  readonly bytes = new Uint8Array(PCI_CONFIG_BYTES);
  /** A set bit lets the guest write that bit. */
  readonly writable = new Uint8Array(PCI_CONFIG_BYTES);
  private readonly bars: (PciBar | undefined)[] = new Array(BAR_COUNT);
  /** Called after every configuration write, with the offset and size written. */
  onWrite: ((offset: number, size: number) => void) | undefined;

  constructor(identity: PciIdentity, bars: readonly (PciBar | undefined)[] = []) {
    const b = this.bytes;
    this.put16(PciConfig.VENDOR_ID, identity.vendor);
    this.put16(PciConfig.DEVICE_ID, identity.device);
    b[PciConfig.REVISION] = identity.revision ?? 0;
    b[PciConfig.PROG_IF] = identity.classCode & 0xff;
    b[PciConfig.SUBCLASS] = (identity.classCode >> 8) & 0xff;
    b[PciConfig.CLASS] = (identity.classCode >> 16) & 0xff;
    b[PciConfig.HEADER_TYPE] = identity.headerType ?? 0;
    this.put16(PciConfig.SUBSYSTEM_VENDOR_ID, identity.subsystemVendor ?? 0);
    this.put16(PciConfig.SUBSYSTEM_ID, identity.subsystem ?? 0);
    b[PciConfig.INTERRUPT_PIN] = identity.interruptPin ?? 0;
    this.writable[PciConfig.LATENCY_TIMER] = 0xff;
    this.writable[PciConfig.INTERRUPT_LINE] = 0xff;
    bars.forEach((bar, i) => {
      if (!bar) return;
      if (bar.bytes < (bar.space === 'io' ? 4 : 16) || (bar.bytes & (bar.bytes - 1)) !== 0) {
        throw new Error(`BAR ${i}: ${bar.bytes} bytes is not a power of two the space allows`);
      }
      this.bars[i] = bar;
      this.put32(PciConfig.BAR0 + 4 * i, bar.space === 'io' ? BAR_IO_SPACE : 0);
    });
    // The command register's I/O and memory enables are writable only for the spaces the BARs
    // use; bus mastering is given by the function that does DMA (allowCommand).
    const spaces = this.bars.filter((bar): bar is PciBar => bar !== undefined);
    this.writable[PciConfig.COMMAND] =
      (spaces.some((bar) => bar.space === 'io') ? PCI_COMMAND_IO : 0) | (spaces.some((bar) => bar.space === 'memory') ? PCI_COMMAND_MEMORY : 0);
  }

  /** Makes more command register bits writable (bus master for a function that does DMA). */
  allowCommand(bits: number): void {
    this.writable[PciConfig.COMMAND] |= bits;
  }

  get16(offset: number): number {
    return this.bytes[offset] | (this.bytes[offset + 1] << 8);
  }

  get32(offset: number): number {
    return (this.get16(offset) | (this.get16(offset + 2) << 16)) >>> 0;
  }

  put16(offset: number, value: number): void {
    this.bytes[offset] = value & 0xff;
    this.bytes[offset + 1] = (value >> 8) & 0xff;
  }

  put32(offset: number, value: number): void {
    this.put16(offset, value & 0xffff);
    this.put16(offset + 2, value >>> 16);
  }

  read(offset: number, size: number): number {
    let value = 0;
    for (let i = 0; i < size; i++) value |= this.bytes[offset + i] << (8 * i);
    return value >>> 0;
  }

  write(offset: number, size: number, value: number): void {
    for (let i = 0; i < size; i++) {
      const at = offset + i;
      const byte = (value >>> (8 * i)) & 0xff;
      const bar = this.barAt(at);
      // A BAR's low bits below its size read as zero (and its type bits as the type): what sizing reads.
      const mask = bar ? this.barWritable(bar, at) : this.writable[at];
      this.bytes[at] = (this.bytes[at] & ~mask) | (byte & mask);
    }
    this.onWrite?.(offset, size);
  }

  private barAt(offset: number): PciBar | undefined {
    if (offset < PciConfig.BAR0 || offset >= PciConfig.BAR0 + 4 * BAR_COUNT) return undefined;
    return this.bars[(offset - PciConfig.BAR0) >> 2];
  }

  /** A BAR's address bits are all writable, for I/O too (as QEMU has them): sizing reads back 0xFFFFFFF1 for 16 bytes of I/O. */
  private barWritable(bar: PciBar, offset: number): number {
    const addressMask = ~(bar.bytes - 1) >>> 0;
    return (addressMask >>> (8 * ((offset - PciConfig.BAR0) & 3))) & 0xff;
  }

  /**
   * Where BAR `index` decodes now: its base, if the command register enables its space and the
   * base is not 0 (unassigned); undefined otherwise.
   */
  barBase(index: number): number | undefined {
    const bar = this.bars[index];
    if (!bar) return undefined;
    const enable = bar.space === 'io' ? PCI_COMMAND_IO : PCI_COMMAND_MEMORY;
    if (!(this.bytes[PciConfig.COMMAND] & enable)) return undefined;
    const base = (this.get32(PciConfig.BAR0 + 4 * index) & (bar.space === 'io' ? 0xfffffffc : 0xfffffff0)) >>> 0;
    // An I/O BAR set beyond the 64 KiB of port space decodes nothing.
    return base === 0 || (bar.space === 'io' && base + bar.bytes > 0x10000) ? undefined : base;
  }

  get busMaster(): boolean {
    return (this.bytes[PciConfig.COMMAND] & PCI_COMMAND_MASTER) !== 0;
  }
}
