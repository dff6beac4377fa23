/*
 * portio - I/O-exit benchmark guest: N one-byte OUTs (command-line
 * "writes=N") to port 0x80, the POST diagnostic port, which has no side
 * effects on a PC. Under a trap-and-emulate VMM every OUT is an exit, so
 * this measures the cost of a port-I/O exit.
 */
#include "guest.h"

#define DEFAULT_WRITES 1000000u
#define POST_PORT      0x80

void kmain(uint32_t magic, const struct multiboot_info *mbi)
{
    uart_init();
    mb_require_magic(magic);

    uint32_t writes;
    if (!cmdline_u32(mb_cmdline(mbi), "writes", &writes))
        writes = DEFAULT_WRITES;

    for (uint32_t i = 0; i < writes; i++)
        outb(POST_PORT, (uint8_t)i);

    put_str("done ");
    put_dec(writes);
    put_char('\n');
    guest_exit(0);
}
