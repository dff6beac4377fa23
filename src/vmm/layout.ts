import { APIC_DEFAULT_BASE } from '../devices/local-apic.js';

// Every fixed address of the virtual PC in one place (ports follow the IBM PC/AT map).
export const COM1_PORT = 0x3f8;
export const COM1_IRQ = 4;
export const UART_PORT_COUNT = 8;
export const DEBUG_CONSOLE_PORT = 0xe9;
/** QEMU's isa-debug-exit, placed where our guests and `qemu -device isa-debug-exit,iobase=0xf4` agree. */
export const DEBUG_EXIT_PORT = 0xf4;
export const DEBUG_EXIT_PORT_COUNT = 4;

export const PIC_MASTER_PORT = 0x20;
export const PIC_SLAVE_PORT = 0xa0;
export const PIC_PORT_COUNT = 2;
export const ELCR_PORT = 0x4d0;
export const ELCR_PORT_COUNT = 2;
export const PIT_PORT = 0x40;
export const PIT_PORT_COUNT = 4;
export const PIT_IRQ = 0;
export const SYSTEM_CONTROL_PORT_B = 0x61;
export const SYSTEM_CONTROL_PORT_A = 0x92;
export const POST_PORT = 0x80;
export const PCI_CONFIG_PORT = 0xcf8;
export const PCI_CONFIG_PORT_COUNT = 8;
export const RTC_PORT = 0x70;
export const RTC_PORT_COUNT = 2;
export const RTC_IRQ = 8;
/** QEMU's fw_cfg on a PC: the selector, then the data byte (docs/specs/fw_cfg.rst). */
export const FW_CFG_PORT = 0x510;
export const FW_CFG_PORT_COUNT = 2;
/** The ACPI PM registers (PM1a event, control, timer) where QEMU's PIIX4 has them, and the SCI. */
export const ACPI_PM_PORT = 0x600;
export const SCI_IRQ = 9;
/** The PIIX3's reset control register, and the value that asks for a hard reset (the FADT's RESET_REG). */
export const RESET_CONTROL_PORT = 0xcf9;
export const RESET_CONTROL_HARD_RESET = 0x06;
/** The PIIX3 is PCI device 1: the ISA bridge is function 0, the IDE controller function 1 (as on QEMU's pc). */
export const PIIX3_PCI_SLOT = 1;
export const PIIX3_ISA_FUNCTION = 0;
export const PIIX3_IDE_FUNCTION = 1;
/** The IDE channels in ISA compatibility mode: command block, control block (one port), IRQ. */
export const IDE_PRIMARY_PORT = 0x1f0;
export const IDE_PRIMARY_CONTROL_PORT = 0x3f6;
export const IDE_PRIMARY_IRQ = 14;
export const IDE_SECONDARY_PORT = 0x170;
export const IDE_SECONDARY_CONTROL_PORT = 0x376;
export const IDE_SECONDARY_IRQ = 15;
export const I8042_DATA_PORT = 0x60;
export const I8042_COMMAND_PORT = 0x64;
export const KEYBOARD_IRQ = 1;
export const AUX_IRQ = 12;
/** The VGA (`--vga std`): its legacy ports 0x3B0-0x3DF, and PCI 00:02.0, where QEMU's `-vga std` is on a PC. */
export const VGA_PORT = 0x3b0;
export const VGA_PCI_SLOT = 2;

/** The APICs and the HPET, where a PC has them (and the MADT and HPET tables say). */
/** IA32_APIC_BASE's reset value names the local APIC's page. */
export const LOCAL_APIC_BASE = APIC_DEFAULT_BASE;
export const IOAPIC_BASE = 0xfec00000;
export const HPET_BASE = 0xfed00000;
export const APIC_PAGE_BYTES = 0x1000;
export const HPET_PAGE_BYTES = 0x1000;
/** The local APIC timer's input when the host's TSC rate is unknown (CPUID leaf 0x15 then says nothing). */
export const APIC_TIMER_FALLBACK_HZ = 1_000_000_000;

/** Guest RAM starts at 0; the top of the 4 GiB space stays free for MMIO and the VMM's region. */
export const MAX_RAM_MIB = 3584;
export const MIN_RAM_MIB = 1;
export const DEFAULT_RAM_MIB = 64;

/** The VMM's linear hole (engines with a VMM region): the top 4 MiB (native/src/vmm-region.h). */
export const HOLE_LINEAR = 0xffc00000;
/** The paravirt engine's IDT in the hole, 256 gates (vmm-region.h, kRegionParavirtIdt). */
export const PARAVIRT_IDT_LINEAR = HOLE_LINEAR + 0x12800;
export const PARAVIRT_IDT_BYTES = 256 * 8;
/** Where the paravirt engine's iret fast call goes on (vmm-region.h, kRegionParavirtResume). */
export const PARAVIRT_RESUME_SLOT_LINEAR = HOLE_LINEAR + 0x12200;
/** The bt engine's translation cache: its size bounds in KiB (the lookup alone takes 256 KiB). */
export const MIN_TRANSLATION_CACHE_KIB = 384;
export const MAX_TRANSLATION_CACHE_KIB = 3968;
/** Engines with a VMM region: the shadow page-table pool's size bounds in KiB (kRegionPool to kRegionPoolEnd). */
export const MIN_SHADOW_POOL_KIB = 64;
export const MAX_SHADOW_POOL_KIB = 16256;
