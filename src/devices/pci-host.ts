// PCI configuration mechanism #1 (PCI Local Bus Specification 3.0, 3.2.2.3.2) as the i440FX
// host bridge implements it, attached at ports 0xCF8-0xCFF. CONFIG_ADDRESS at 0xCF8 is reached
// only by 32-bit accesses, as on real chipsets: narrower ones there pass through to the ISA bus
// (reads float high, writes vanish), which is how Linux's pci_check_type1() tells mechanism #1
// apart. CONFIG_DATA at 0xCFC-0xCFF takes 8-, 16- and 32-bit accesses at their byte offsets.
// Bus 0 holds 00:00.0, an Intel 82441FX PMC host bridge (82441FX datasheet, 290549, section
// 3.2), and the functions plugged into it (plug()); every other function reads as all ones.
// The host bridge is read-only except the few registers that are writable on the part, whose
// values are kept but change nothing. Its PAM registers (0x59-0x5F) say the upper memory
// 0xC0000-0xFFFFF is RAM, readable and writable, from power-on: so it is on this machine, where
// the firmware's copy is in RAM before the first instruction (SeaBIOS then only enables writes,
// as after a reboot, instead of running from the flash's alias below 4 GiB). What the guest
// writes there is kept and read back; it does not write-protect the area.
// A byte at 0xCF9 is the PIIX3's reset control register (82371SB datasheet, RC): setting RST_CPU
// (bit 2) resets the machine, soft or hard as SYS_RST (bit 1) says; the FADT's reset register.
import { allOnes } from './byte-io.js';
import { PciConfig, PciConfigSpace, type PciDevice } from './pci/pci-function.js';
import { checkSnapshotVersion, type Device, type DeviceSnapshot } from './device.js';

const SNAPSHOT_VERSION = 3;
const ENABLE = 0x80000000;
/** Reserved bits 30-24 and 1-0 of CONFIG_ADDRESS read as zero. */
const ADDRESS_MASK = 0x80fffffc;

/** PAM0 to PAM6 (82441FX §3.2.18): PAM0's high nibble is 0xF0000-0xFFFFF, then two 16 KiB areas per register. */
const PAM0 = 0x59;
const PAM_COUNT = 7;
/** Read enable (RE) and write enable (WE) in each nibble: RAM, readable and writable. */
const PAM_RAM = 0x3;

/** The 82441FX's power-on configuration space and its writable bits. */
function hostBridge(): PciConfigSpace {
  const config = new PciConfigSpace({ vendor: 0x8086, device: 0x1237, classCode: 0x060000, revision: 0x02 });
  config.put16(PciConfig.COMMAND, 0x0006); // memory access and bus master always on
  config.put16(PciConfig.STATUS, 0x0280); // fast back-to-back capable, medium DEVSEL timing
  config.bytes[0x72] = 0x02; // SMRAM: compatible SMRAM base segment
  config.bytes[PAM0] = PAM_RAM << 4; // 0xF0000-0xFFFFF
  config.bytes.fill((PAM_RAM << 4) | PAM_RAM, PAM0 + 1, PAM0 + PAM_COUNT); // 0xC0000-0xEFFFF
  const writable = config.writable;
  writable[PciConfig.INTERRUPT_LINE] = 0; // no interrupt: the bridge has no line to name
  writable[PciConfig.COMMAND] = 0x40; // PERR# enable
  writable[PciConfig.COMMAND + 1] = 0x01; // SERR# enable
  writable[PciConfig.LATENCY_TIMER] = 0xf8; // master latency timer
  writable.fill(0xff, 0x50, 0x100); // chipset registers (PAM, DRB, SMRAM...): kept, not acted on
  return config;
}

const RESET_CONTROL_OFFSET = 1;
const RC_SYS_RST = 1 << 1;
const RC_RST_CPU = 1 << 2;
const RC_WRITABLE = 0x0a; // SYS_RST and FULL_RST hold their value; RST_CPU acts and reads 0

/** 00:00.0, the host bridge's own function. */
const HOST_BRIDGE_DEVFN = 0;

export class PciHost implements Device {
  readonly name = 'pci-host';
  private address = 0;
  private resetControl = 0;
  /** Bus 0's functions by device and function number (device << 3 | function). */
  private readonly functions = new Map<number, PciDevice>();

  constructor(
    /** RST_CPU was set: a hard reset when `hard` (SYS_RST), otherwise a CPU-only reset. */
    private readonly onReset: (hard: boolean) => void = () => {},
  ) {
    this.functions.set(HOST_BRIDGE_DEVFN, { name: 'i440fx', config: hostBridge() });
  }

  /** Puts a function on bus 0 at device `slot`, function `fn`. */
  plug(slot: number, fn: number, device: PciDevice): void {
    const devfn = (slot << 3) | fn;
    const there = this.functions.get(devfn);
    if (there) throw new Error(`PCI 00:${slot.toString(16).padStart(2, '0')}.${fn} holds ${there.name} already`);
    this.functions.set(devfn, device);
  }

  read(offset: number, size: number): number {
    if (offset === RESET_CONTROL_OFFSET && size === 1) return this.resetControl;
    if (offset < 4) return offset === 0 && size === 4 ? this.address : allOnes(size);
    const device = this.selected(offset, size);
    return device ? device.config.read(this.register(offset), size) : allOnes(size);
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
    this.selected(offset, size)?.config.write(this.register(offset), size, value);
  }

  private register(offset: number): number {
    return (this.address & 0xfc) + (offset - 4);
  }

  /** The function CONFIG_ADDRESS selects, if mechanism #1 is enabled and it exists. */
  private selected(offset: number, size: number): PciDevice | undefined {
    if (!(this.address & ENABLE) || offset - 4 + size > 4) return undefined;
    const bus = (this.address >>> 16) & 0xff;
    if (bus !== 0) return undefined;
    return this.functions.get((this.address >>> 8) & 0xff); // device 15-11, function 10-8
  }

  snapshot(): DeviceSnapshot {
    const spaces: Record<string, number[]> = {};
    for (const [devfn, device] of this.functions) spaces[devfn] = Array.from(device.config.bytes);
    return { version: SNAPSHOT_VERSION, address: this.address, resetControl: this.resetControl, functions: spaces };
  }

  /** Every function's configuration space comes back, and each is told (its BARs map again). */
  restore(s: DeviceSnapshot): void {
    checkSnapshotVersion(this.name, SNAPSHOT_VERSION, s);
    this.address = s.address as number;
    this.resetControl = s.resetControl as number;
    const spaces = s.functions as Record<string, number[]>;
    for (const [devfn, device] of this.functions) {
      const bytes = spaces[devfn];
      if (!bytes) throw new Error(`pci-host: the snapshot has no PCI function ${devfn >> 3}.${devfn & 7} (${device.name})`);
      device.config.bytes.set(bytes);
      device.config.onWrite?.(0, PciConfig.INTERRUPT_PIN + 1);
    }
  }
}
