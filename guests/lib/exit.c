/* exit.c - leave the emulator through QEMU's isa-debug-exit device. */
#include "guest.h"

#define DEBUG_EXIT_PORT 0xF4

/*
 * A byte v written to port 0xF4 makes QEMU (-device isa-debug-exit,
 * iobase=0xf4) exit with status (v << 1) | 1. If no such device is present
 * the write is ignored, so fall back to halting with interrupts disabled.
 */
void guest_exit(uint8_t value)
{
    outb(DEBUG_EXIT_PORT, value);
    for (;;)
        __asm__ volatile("cli; hlt");
}

void guest_fail(const char *what, uint8_t value)
{
    put_str("FAILED: ");
    put_str(what);
    put_char('\n');
    guest_exit(value);
}
