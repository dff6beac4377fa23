/*
 * empty - exits at once, so a run measures only the VMM's fixed cost
 * (start-up, loading, teardown). It does not even initialise the UART.
 */
#include "guest.h"

void kmain(uint32_t magic, const struct multiboot_info *mbi)
{
    (void)magic;
    (void)mbi;
    guest_exit(0);
}
