// QEMU's pc-testdev (hw/misc/pc-testdev.c), the ISA device KVM's unit tests drive: a 32-bit
// scratch register at ports 0xE0-0xE3 (any access width), a "flush page" port at 0xE4 (32-bit
// writes of a guest-physical address), 24 IRQ-line
// ports from 0x2000 (a byte write sets ISA IRQ n's level), and 64 KiB of scratch memory as MMIO
// at 0xFF000000 (every access reaches the VMM, which is what the suite's emulator test wants).
// The flush port asks QEMU to drop its host mapping of a page; this VMM keeps none to drop.
// Left out: QEMU's byte-wise view of the scratch register at 0xE8-0xEB, which would cover this
// machine's debug console at 0xE9 (the suite does not use it).
import { allOnes, registerBytes } from './byte-io.js';
import { checkSnapshotVersion, type Device, type DeviceSnapshot, type IrqLine } from './device.js';

const SNAPSHOT_VERSION = 1;

export const PC_TESTDEV_PORT = 0xe0;
export const PC_TESTDEV_PORT_COUNT = 8;
export const PC_TESTDEV_IRQ_PORT = 0x2000;
export const PC_TESTDEV_IRQ_COUNT = 24;
export const PC_TESTDEV_IOMEM = 0xff000000;
export const PC_TESTDEV_IOMEM_BYTES = 0x10000;

const FLUSH = 0x4;
const FLUSH_END = 0x8;

export class PcTestdev implements Device {
  readonly name = 'pc-testdev';
  private scratch = 0;
  /** Writes to the flush port, counted: the one effect they have here. */
  flushes = 0;

  read(offset: number, size: number): number {
    if (offset >= FLUSH && offset < FLUSH_END) return allOnes(size);
    return registerBytes(this.scratch, offset, size);
  }

  write(offset: number, size: number, value: number): void {
    if (offset >= FLUSH && offset < FLUSH_END) {
      if (size === 4) this.flushes++;
      return;
    }
    const at = offset & 3;
    const mask = allOnes(size) << (8 * at);
    this.scratch = ((this.scratch & ~mask) | ((value << (8 * at)) & mask)) >>> 0;
  }

  snapshot(): DeviceSnapshot {
    return { version: SNAPSHOT_VERSION, scratch: this.scratch };
  }

  restore(s: DeviceSnapshot): void {
    checkSnapshotVersion(this.name, SNAPSHOT_VERSION, s);
    this.scratch = s.scratch as number;
  }
}

/** Ports 0x2000-0x2017: a byte written to port 0x2000 + n drives ISA IRQ n high (nonzero) or low. */
export class PcTestdevIrqLines implements Device {
  readonly name = 'pc-testdev-irq';

  constructor(private readonly line: (irq: number) => IrqLine) {}

  read(_offset: number, size: number): number {
    return allOnes(size);
  }

  write(offset: number, size: number, value: number): void {
    if (size === 1) this.line(offset).set(value !== 0);
  }

  snapshot(): DeviceSnapshot {
    return { version: SNAPSHOT_VERSION };
  }

  restore(s: DeviceSnapshot): void {
    checkSnapshotVersion(this.name, SNAPSHOT_VERSION, s);
  }
}

/** The 64 KiB of memory behind MMIO: reads and writes of any width, little-endian. */
export class PcTestdevMemory implements Device {
  readonly name = 'pc-testdev-iomem';
  private readonly bytes = new Uint8Array(PC_TESTDEV_IOMEM_BYTES);

  read(offset: number, size: number): number {
    let value = 0;
    for (let i = size - 1; i >= 0; i--) value = value * 256 + (offset + i < this.bytes.length ? this.bytes[offset + i] : 0);
    return value >>> 0;
  }

  write(offset: number, size: number, value: number): void {
    for (let i = 0; i < size && offset + i < this.bytes.length; i++) this.bytes[offset + i] = (value >>> (8 * i)) & 0xff;
  }

  snapshot(): DeviceSnapshot {
    return { version: SNAPSHOT_VERSION, bytes: Array.from(this.bytes) };
  }

  restore(s: DeviceSnapshot): void {
    checkSnapshotVersion(this.name, SNAPSHOT_VERSION, s);
    this.bytes.set(s.bytes as number[]);
  }
}
