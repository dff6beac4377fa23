/*
 * multiboot - reports what a multiboot v1 loader passed in: the command line,
 * the mem_lower/mem_upper sizes, the BIOS memory map and the boot modules
 * (Multiboot spec §3.3): for each module, its string, its size, whether it
 * starts on a page boundary, and the sum of its bytes; then what QEMU's fw_cfg
 * says (signature, CPU count, RAM size), as guests written for QEMU read it.
 * Exits with the value of an "exit=N" command-line token; without one it halts
 * with interrupts disabled, which a VMM reports as a clean end (status 0).
 */
#include "guest.h"

static void print_mmap(const struct multiboot_info *mbi)
{
    uint32_t addr = mbi->mmap_addr;
    uint32_t end = mbi->mmap_addr + mbi->mmap_length;

    while (addr < end) {
        const struct multiboot_mmap_entry *e =
            (const struct multiboot_mmap_entry *)(uintptr_t)addr;
        put_str("mmap ");
        put_hex64(e->base_hi, e->base_lo);
        put_char(' ');
        put_hex64(e->len_hi, e->len_lo);
        put_char(' ');
        put_dec(e->type);
        put_char('\n');
        /* §3.3: `size` excludes itself, and entries may be larger than 20 bytes. */
        addr += e->size + sizeof(e->size);
    }
}

static void print_modules(const struct multiboot_info *mbi)
{
    const struct multiboot_module *m = (const struct multiboot_module *)(uintptr_t)mbi->mods_addr;
    put_str("modules: ");
    put_dec(mbi->mods_count);
    put_char('\n');
    for (uint32_t i = 0; i < mbi->mods_count; i++) {
        uint32_t sum = 0;
        for (uint32_t a = m[i].mod_start; a < m[i].mod_end; a++)
            sum += *(const volatile uint8_t *)(uintptr_t)a;
        put_str("module ");
        put_dec(i);
        put_str(": '");
        put_str((const char *)(uintptr_t)m[i].string);
        put_str("' size=");
        put_dec(m[i].mod_end - m[i].mod_start);
        put_str((m[i].mod_start & 0xFFFu) ? " unaligned" : " page-aligned");
        put_str(" sum=");
        put_dec(sum);
        put_char('\n');
    }
}

/* QEMU's fw_cfg (ports 0x510/0x511): select a key, then read its bytes one at a time. */
static uint32_t fw_cfg_read(uint16_t key, uint8_t *out, uint32_t length)
{
    __asm__ volatile("outw %0, %1" : : "a"(key), "Nd"((uint16_t)0x510));
    for (uint32_t i = 0; i < length; i++)
        out[i] = inb(0x511);
    return length;
}

static void print_fw_cfg(void)
{
    uint8_t signature[5] = {0}, cpus[2], ram[8];
    fw_cfg_read(0x00, signature, 4);
    if (signature[0] != 'Q' || signature[1] != 'E' || signature[2] != 'M' || signature[3] != 'U') {
        put_str("no fw_cfg\n");
        return;
    }
    fw_cfg_read(0x05, cpus, 2);
    fw_cfg_read(0x03, ram, 8);
    uint64_t bytes = 0;
    for (int i = 7; i >= 0; i--)
        bytes = (bytes << 8) | ram[i];
    put_str("fw_cfg: ");
    put_str((const char *)signature);
    put_str(" cpus=");
    put_dec((uint32_t)cpus[0] | ((uint32_t)cpus[1] << 8));
    put_str(" ram=");
    put_dec((uint32_t)(bytes >> 20));
    put_str("M\n");
}

void kmain(uint32_t magic, const struct multiboot_info *mbi)
{
    uart_init();
    mb_require_magic(magic);

    put_str("Hello from a multiboot kernel\n");

    if (mbi->flags & MULTIBOOT_INFO_CMDLINE) {
        put_str("cmdline: ");
        put_str(mb_cmdline(mbi));
        put_char('\n');
    } else {
        put_str("no cmdline\n");
    }

    if (mbi->flags & MULTIBOOT_INFO_MEMORY) {
        put_str("mem_lower=");
        put_dec(mbi->mem_lower);
        put_str("K mem_upper=");
        put_dec(mbi->mem_upper);
        put_str("K\n");
    } else {
        put_str("no meminfo\n");
    }

    if (mbi->flags & MULTIBOOT_INFO_MMAP)
        print_mmap(mbi);
    else
        put_str("no mmap\n");

    if (mbi->flags & MULTIBOOT_INFO_MODS)
        print_modules(mbi);
    else
        put_str("no modules\n");

    print_fw_cfg();

    uint32_t code;
    int have_exit = cmdline_u32(mb_cmdline(mbi), "exit", &code);

    put_str("bye\n");
    if (have_exit)
        guest_exit((uint8_t)code);  /* the port takes one byte: N mod 256 */
    for (;;)
        __asm__ volatile("cli; hlt");
}
