// Every fixed address of the virtual PC in one place (ports follow the IBM PC/AT map).
export const COM1_PORT = 0x3f8;
export const COM1_IRQ = 4;
export const UART_PORT_COUNT = 8;
export const DEBUG_CONSOLE_PORT = 0xe9;
/** QEMU's isa-debug-exit, placed where our guests and `qemu -device isa-debug-exit,iobase=0xf4` agree. */
export const DEBUG_EXIT_PORT = 0xf4;
export const DEBUG_EXIT_PORT_COUNT = 4;

/** Guest RAM starts at 0; the top of the 4 GiB space stays free for MMIO and the VMM's region. */
export const MAX_RAM_MIB = 3584;
export const MIN_RAM_MIB = 1;
export const DEFAULT_RAM_MIB = 64;
