// One bus type for port I/O and MMIO, as in Firecracker's vmm::Bus: devices claim ranges, the bus
// rejects overlaps, and a device only ever sees an offset into its own range.
import { allOnes } from '../devices/byte-io.js';
import type { Device } from '../devices/device.js';

interface Mapping {
  readonly base: number;
  readonly length: number;
  readonly device: Device;
}

export class BusConflict extends Error {}

export class IoBus {
  private readonly mappings: Mapping[] = [];
  /** Accesses that no device claimed: counted, never thrown (a guest's bad access is data). */
  unclaimedReads = 0;
  unclaimedWrites = 0;

  constructor(readonly name: string) {}

  attach(base: number, length: number, device: Device): void {
    const clash = this.mappings.find((m) => base < m.base + m.length && m.base < base + length);
    if (clash) {
      throw new BusConflict(
        `${this.name} range 0x${base.toString(16)}+${length} of ${device.name} overlaps ${clash.device.name}`,
      );
    }
    this.mappings.push({ base, length, device });
    this.mappings.sort((a, b) => a.base - b.base);
  }

  /** Takes every range of `device` off the bus (a PCI BAR that moves or stops decoding). */
  detach(device: Device): void {
    for (let i = this.mappings.length - 1; i >= 0; i--) {
      const m = this.mappings[i];
      if (m.device !== device) continue;
      this.mappings.splice(i, 1);
      this.unmapped(m.base, m.length);
    }
  }

  /** A range left the bus (the port table forgets it). */
  protected unmapped(_base: number, _length: number): void {}

  private find(address: number): Mapping | undefined {
    for (const m of this.mappings) {
      if (address < m.base) return undefined;
      if (address < m.base + m.length) return m;
    }
    return undefined;
  }

  read(address: number, size: number): number {
    const m = this.find(address);
    if (!m) {
      this.unclaimedReads++;
      return allOnes(size);
    }
    return m.device.read(address - m.base, size);
  }

  write(address: number, size: number, value: number): void {
    const m = this.find(address);
    if (!m) {
      this.unclaimedWrites++;
      return;
    }
    m.device.write(address - m.base, size, value);
  }

  devices(): Device[] {
    return [...new Set(this.mappings.map((m) => m.device))];
  }
}

/** Port I/O dispatch through a dense 64 Ki table: no search and no allocation per access. */
export class PortBus extends IoBus {
  private readonly table: (Device | undefined)[] = new Array(0x10000);
  private readonly bases = new Uint16Array(0x10000);

  constructor() {
    super('port');
  }

  override attach(base: number, length: number, device: Device): void {
    super.attach(base, length, device);
    for (let port = base; port < base + length; port++) {
      this.table[port] = device;
      this.bases[port] = base;
    }
  }

  protected override unmapped(base: number, length: number): void {
    this.table.fill(undefined, base, base + length);
  }

  override read(port: number, size: number): number {
    const device = this.table[port];
    if (device === undefined) return super.read(port, size);
    return device.read(port - this.bases[port], size);
  }

  override write(port: number, size: number, value: number): void {
    const device = this.table[port];
    if (device === undefined) return super.write(port, size, value);
    device.write(port - this.bases[port], size, value);
  }
}
