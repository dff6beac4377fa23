// The PIIX3's PCI-to-ISA bridge, function 0 of device 1 (82371SB datasheet, 290550, §2.2): the
// function that says device 1 has more (its IDE controller is function 1). Firmware writes its
// PIRQ routing (PIRQRC, 0x60-0x63) and the top-of-memory and miscellaneous registers; their
// values are kept and read back. No PCI device here raises an INTx# yet (the IDE controller
// runs in ISA compatibility mode on IRQ 14 and 15), so the routing is not acted on.
import { HEADER_TYPE_MULTI_FUNCTION, PciConfig, PciConfigSpace, type PciDevice } from './pci-function.js';

/** PIRQRC[A:D] (§2.2.11): bit 7 set, routing disabled, at reset. */
const PIRQRC = 0x60;
const PIRQ_DISABLED = 0x80;

export class Piix3IsaBridge implements PciDevice {
  readonly name = 'piix3-isa';
  readonly config = new PciConfigSpace({
    vendor: 0x8086, device: 0x7000, classCode: 0x060100, headerType: HEADER_TYPE_MULTI_FUNCTION,
  });

  constructor() {
    const config = this.config;
    config.put16(PciConfig.COMMAND, 0x0007); // I/O, memory and bus master: the ISA bus is always decoded
    config.put16(PciConfig.STATUS, 0x0200); // medium DEVSEL timing
    config.bytes.fill(PIRQ_DISABLED, PIRQRC, PIRQRC + 4);
    config.writable[PciConfig.LATENCY_TIMER] = 0;
    config.writable[PciConfig.INTERRUPT_LINE] = 0;
    config.writable.fill(0xff, 0x4c, 0x100); // the bridge's own registers: kept
  }
}
