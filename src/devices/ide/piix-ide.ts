// The PIIX3's IDE controller, PCI function 1 of device 1 (82371SB datasheet, 290550): 8086:7010,
// class 01h/01h with programming interface 80h, that is both channels in ISA compatibility mode
// (fixed legacy ports and IRQs 14 and 15, no native-mode BARs) and a bus master. BAR 4 holds the
// 16 bytes of bus master registers, the primary channel's at 0-7 and the secondary's at 8-15.
//
// The legacy ports always decode here, as on QEMU's machine; on the part they also depend on
// the command register's I/O enable and on IDETIM's decode enable bit (0x40-0x43, bit 15), which
// firmware sets and Linux's ata_piix checks, and which is kept and read back here.
import { readBytes, writeBytes } from '../byte-io.js';
import { checkSnapshotVersion, type Device, type GuestMemory, type IrqLine } from '../device.js';
import { PCI_COMMAND_MASTER, PciConfig, PciConfigSpace, type PciDevice } from '../pci/pci-function.js';
import { BUS_MASTER_CHANNEL_BYTES } from './bus-master.js';
import { IdeChannel, type DriveMedia } from './ide-channel.js';

/** The BAR that holds the bus master registers, and their size. */
export const BUS_MASTER_BAR = 4;
export const BUS_MASTER_BAR_BYTES = 2 * BUS_MASTER_CHANNEL_BYTES;

/** IDETIM, one 16-bit register per channel, and its IDE Decode Enable bit. */
export const IDETIM = [0x40, 0x42] as const;
export const IDETIM_DECODE_ENABLE = 0x8000;
/** SIDETIM (slave timing), the last register the PIIX3's IDE function has. */
const SIDETIM = 0x44;

export interface PiixIdeWiring {
  /** ISA IRQ 14 and 15. */
  primaryIrq: IrqLine;
  secondaryIrq: IrqLine;
  /** What the bus master engines reach. */
  memory: GuestMemory;
}

export class PiixIde implements PciDevice {
  readonly name = 'piix3-ide';
  readonly config = new PciConfigSpace({ vendor: 0x8086, device: 0x7010, classCode: 0x010180 }, [
    undefined, undefined, undefined, undefined, { space: 'io', bytes: BUS_MASTER_BAR_BYTES },
  ]);
  readonly primary: IdeChannel;
  readonly secondary: IdeChannel;
  /** BAR 4's registers, for the machine to map where the BAR says. */
  readonly busMasterPorts: Device;

  /** `drives`: primary master, primary slave, secondary master, secondary slave. */
  constructor(drives: readonly (DriveMedia | undefined)[], wiring: PiixIdeWiring) {
    const config = this.config;
    config.allowCommand(PCI_COMMAND_MASTER);
    config.put16(PciConfig.STATUS, 0x0280); // fast back-to-back capable, medium DEVSEL timing
    config.writable.fill(0xff, IDETIM[0], SIDETIM + 1);
    const dma = { memory: wiring.memory, mayMaster: () => config.busMaster };
    this.primary = new IdeChannel('ide0', drives.slice(0, 2), wiring.primaryIrq, dma);
    this.secondary = new IdeChannel('ide1', drives.slice(2, 4), wiring.secondaryIrq, dma);
    const busMaster = (offset: number) => (offset < BUS_MASTER_CHANNEL_BYTES ? this.primary : this.secondary).busMaster;
    const readRegister = (at: number) => busMaster(at).readRegister(at % BUS_MASTER_CHANNEL_BYTES);
    const writeRegister = (at: number, byte: number) => busMaster(at).writeRegister(at % BUS_MASTER_CHANNEL_BYTES, byte);
    const portsName = `${this.name}-bus-master`;
    this.busMasterPorts = {
      name: portsName,
      read: (offset, size) => readBytes(offset, size, BUS_MASTER_BAR_BYTES, readRegister),
      write: (offset, size, value) => writeBytes(offset, size, value, BUS_MASTER_BAR_BYTES, writeRegister),
      // The registers' state is the channels'; whether they are mapped is the configuration space's.
      snapshot: () => ({ version: 1 }),
      restore: (s) => checkSnapshotVersion(portsName, 1, s),
    };
  }

  get channels(): readonly IdeChannel[] {
    return [this.primary, this.secondary];
  }
}
