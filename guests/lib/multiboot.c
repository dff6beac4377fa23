/* multiboot.c - checks on what the multiboot loader handed over. */
#include "guest.h"

void mb_require_magic(uint32_t magic)
{
    /* Multiboot spec §3.2: EAX must hold 0x2BADB002 on entry. */
    if (magic != MULTIBOOT_BOOTLOADER_MAGIC) {
        put_str("bad magic\n");
        guest_exit(3);
    }
}

const char *mb_cmdline(const struct multiboot_info *mbi)
{
    if (mbi->flags & MULTIBOOT_INFO_CMDLINE)
        return (const char *)(uintptr_t)mbi->cmdline;
    return "";
}
