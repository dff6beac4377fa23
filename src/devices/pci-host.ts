// PCI configuration mechanism #1 (PCI Local Bus Specification 3.0, 3.2.2.3.2) as the i440FX
// host bridge implements it, attached at ports 0xCF8-0xCFF. CONFIG_ADDRESS at 0xCF8 is reached
// only by 32-bit accesses, as on real chipsets: narrower ones there pass through to the ISA bus
// (reads float high, writes vanish), which is how Linux's pci_check_type1() tells mechanism #1
// apart. CONFIG_DATA at 0xCFC-0xCFF takes 8-, 16- and 32-bit accesses at their byte offsets.
// Bus 0 holds one function, 00:00.0, an Intel 82441FX PMC host bridge (82441FX datasheet,
// 290549, section 3.2): read-only except the few registers that are writable on the part, whose
// values are kept but change nothing. Every other function reads as all ones: no device.
// A byte at 0xCF9 is the PIIX3's reset control register (82371SB datasheet, RC): setting RST_CPU
// (bit 2) resets the machine, soft or hard as SYS_RST (bit 1) says; the FADT's reset register.
import { allOnes } from './byte-io.js';
import { checkSnapshotVersion, type Device, type DeviceSnapshot } from './device.js';

const SNAPSHOT_VERSION = 2;
const ENABLE = 0x80000000;
/** Reserved bits 30-24 and 1-0 of CONFIG_ADDRESS read as zero. */
const ADDRESS_MASK = 0x80fffffc;

/** The 82441FX's power-on configuration space and its writable bits. */
function hostBridgeConfig(): { space: Uint8Array; writable: Uint8Array } {
  const space = new Uint8Array(256);
  const writable = new Uint8Array(256);
  const put16 = (offset: number, value: number) => {
    space[offset] = value & 0xff;
    space[offset + 1] = value >> 8;
  };
  put16(0x00, 0x8086); // vendor: Intel
  put16(0x02, 0x1237); // device: 82441FX PMC
  put16(0x04, 0x0006); // PCICMD: memory access and bus master always on
  put16(0x06, 0x0280); // PCISTS: fast back-to-back capable, medium DEVSEL timing
  space[0x08] = 0x02; // revision
  space[0x0b] = 0x06; // class 06 (bridge), subclass 00 (host), prog-if 00
  space[0x72] = 0x02; // SMRAM: compatible SMRAM base segment
  writable[0x04] = 0x40; // PERR# enable
  writable[0x05] = 0x01; // SERR# enable
  writable[0x0d] = 0xf8; // master latency timer
  writable.fill(0xff, 0x50, 0x100); // chipset registers (PAM, DRB, SMRAM...): kept, not acted on
  return { space, writable };
}

const RESET_CONTROL_OFFSET = 1;
const RC_SYS_RST = 1 << 1;
const RC_RST_CPU = 1 << 2;
const RC_WRITABLE = 0x0a; // SYS_RST and FULL_RST hold their value; RST_CPU acts and reads 0

export class PciHost implements Device {
  readonly name = 'pci-host';
  private address = 0;
  private resetControl = 0;
  private readonly config = hostBridgeConfig();

  constructor(
    /** RST_CPU was set: a hard reset when `hard` (SYS_RST), otherwise a CPU-only reset. */
    private readonly onReset: (hard: boolean) => void = () => {},
  ) {}

  read(offset: number, size: number): number {
    if (offset === RESET_CONTROL_OFFSET && size === 1) return this.resetControl;
    if (offset < 4) return offset === 0 && size === 4 ? this.address : allOnes(size);
    const space = this.selected(offset, size);
    if (!space) return allOnes(size);
    let value = 0;
    for (let i = 0; i < size; i++) value |= space[this.register(offset) + i] << (8 * i);
    return value >>> 0;
  }

  write(offset: number, size: number, value: number): void {
    if (offset === RESET_CONTROL_OFFSET && size === 1) {
      this.resetControl = value & RC_WRITABLE;
      if (value & RC_RST_CPU) this.onReset((value & RC_SYS_RST) !== 0);
      return;
    }
    if (offset < 4) {
      if (offset === 0 && size === 4) this.address = (value & ADDRESS_MASK) >>> 0;
      return;
    }
    const space = this.selected(offset, size);
    if (!space) return;
    const { writable } = this.config;
    for (let i = 0; i < size; i++) {
      const at = this.register(offset) + i;
      const byte = (value >>> (8 * i)) & 0xff;
      space[at] = (space[at] & ~writable[at]) | (byte & writable[at]);
    }
  }

  private register(offset: number): number {
    return (this.address & 0xfc) + (offset - 4);
  }

  /** The configuration space CONFIG_ADDRESS selects, if mechanism #1 is enabled and it exists. */
  private selected(offset: number, size: number): Uint8Array | undefined {
    if (!(this.address & ENABLE) || offset - 4 + size > 4) return undefined;
    const busDevFn = (this.address >>> 8) & 0xffff; // bus 23-16, device 15-11, function 10-8
    return busDevFn === 0 ? this.config.space : undefined;
  }

  snapshot(): DeviceSnapshot {
    return { version: SNAPSHOT_VERSION, address: this.address, resetControl: this.resetControl, hostBridge: Array.from(this.config.space) };
  }

  restore(s: DeviceSnapshot): void {
    checkSnapshotVersion(this.name, SNAPSHOT_VERSION, s);
    this.address = s.address as number;
    this.resetControl = s.resetControl as number;
    this.config.space.set(s.hostBridge as number[]);
  }
}
