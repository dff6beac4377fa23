// The VGA as a PCI function, as QEMU's `-vga std` has it on a PC (QEMU docs/specs/standard-vga.rst):
// vendor 0x1234, device 0x1111, class 0x030000 (a VGA-compatible display controller), which
// SeaBIOS runs the VGA BIOS for from its fw_cfg file `pci1234,1111.rom` (src/optionroms.c,
// init_pcirom). A VGA-class function decodes the legacy VGA ranges (ports 0x3B0-0x3BB,
// 0x3C0-0x3DF, memory 0xA0000-0xBFFFF; PCI Local Bus Specification 3.0, Appendix D) while its
// command register enables I/O and memory space (QEMU's pci_update_vga), so both enables are
// writable, and firmware sets them (SeaBIOS's pci_bios_init_device; its is_pci_vga asks for
// both). The linear framebuffer BAR, the MMIO BAR and the ROM BAR of QEMU's device are not
// there: no VBE, no framebuffer, the ROM comes through fw_cfg. Its revision is 0, which says
// that QEMU's extended registers are absent.
import { PCI_COMMAND_IO, PCI_COMMAND_MEMORY, PciConfig, PciConfigSpace, type PciDevice } from '../pci/pci-function.js';

export const VGA_PCI_VENDOR = 0x1234;
export const VGA_PCI_DEVICE = 0x1111;
const CLASS_DISPLAY_VGA = 0x030000;

/** The fw_cfg file name SeaBIOS looks for the function's option ROM under. */
export const VGA_BIOS_FILE = `pci${VGA_PCI_VENDOR.toString(16).padStart(4, '0')},${VGA_PCI_DEVICE.toString(16).padStart(4, '0')}.rom`;

export class PciVga implements PciDevice {
  readonly name = 'vga';
  readonly config = new PciConfigSpace({ vendor: VGA_PCI_VENDOR, device: VGA_PCI_DEVICE, classCode: CLASS_DISPLAY_VGA });

  constructor() {
    this.config.allowCommand(PCI_COMMAND_IO | PCI_COMMAND_MEMORY);
  }

  /** Whether the VGA's ports answer. */
  get decodesIo(): boolean {
    return (this.config.bytes[PciConfig.COMMAND] & PCI_COMMAND_IO) !== 0;
  }
}
