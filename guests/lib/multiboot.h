/*
 * multiboot.h - Multiboot Specification version 0.6.96 (multiboot v1) structures.
 *
 * Only the parts the sample guests use. Section numbers refer to that spec.
 */
#ifndef GUEST_MULTIBOOT_H
#define GUEST_MULTIBOOT_H

#include <stdint.h>

/* §3.1.2: value in the OS image header; §3.2: value in EAX at entry. */
#define MULTIBOOT_HEADER_MAGIC     0x1BADB002u
#define MULTIBOOT_BOOTLOADER_MAGIC 0x2BADB002u

/* §3.3: multiboot_info.flags bits saying which fields are valid. */
#define MULTIBOOT_INFO_MEMORY  (1u << 0)   /* mem_lower, mem_upper */
#define MULTIBOOT_INFO_CMDLINE (1u << 2)   /* cmdline */
#define MULTIBOOT_INFO_MODS    (1u << 3)   /* mods_count, mods_addr */
#define MULTIBOOT_INFO_MMAP    (1u << 6)   /* mmap_length, mmap_addr */

/* §3.3 Boot information format. All addresses are physical. */
struct multiboot_info {
    uint32_t flags;
    uint32_t mem_lower;         /* KiB of memory from 0, at most 640 */
    uint32_t mem_upper;         /* KiB of memory from 1 MiB to the first hole */
    uint32_t boot_device;
    uint32_t cmdline;           /* address of a NUL-terminated string */
    uint32_t mods_count;
    uint32_t mods_addr;
    uint32_t syms[4];
    uint32_t mmap_length;       /* bytes in the memory map buffer */
    uint32_t mmap_addr;
    /* drives, config table, boot loader name, APM, VBE follow; unused here */
};

/* §3.3 module list entry: the module occupies [mod_start, mod_end). */
struct multiboot_module {
    uint32_t mod_start;
    uint32_t mod_end;
    uint32_t string;            /* address of a NUL-terminated string, its command line */
    uint32_t reserved;
};

/*
 * §3.3 memory map entry. `size` is the size of the rest of the entry (not
 * counting `size` itself), so the next entry starts at (char *)e + size + 4.
 * The 64-bit fields are split in halves to keep the entry 4-byte packed.
 */
struct multiboot_mmap_entry {
    uint32_t size;
    uint32_t base_lo, base_hi;
    uint32_t len_lo, len_hi;
    uint32_t type;              /* 1 = available RAM, anything else reserved */
} __attribute__((packed));

#endif
