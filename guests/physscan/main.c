/*
 * physscan - probes the physical address space above RAM through paging.
 *
 * It fills a 1 MiB block of its own RAM with a pseudo-random sequence and checksums it, turns
 * on 32-bit paging with 1024 4 MiB pages (CR4.PSE) that identity-map the whole 4 GiB linear
 * space, and then, for every 4 KiB page from the end of RAM up to 0xC0000000, reads the
 * page's first dword, writes 0x5A5A5A5A there and reads it back. A page is
 *   - writable if the write stuck (RAM, a frame buffer, a device register that keeps it);
 *   - open bus if the write was dropped and both reads returned the same "nothing here"
 *     value: all ones (a PC's bus, and this VMM's direct engine) or all zeros (QEMU 7.2,
 *     whose unassigned memory reads as 0);
 *   - other, otherwise (printed only when there are such pages).
 * "End of RAM" is the first address at or above 1 MiB that no multiboot memory-map entry
 * covers (entries of any type: QEMU reports the top 128 KiB of RAM as reserved), or
 * 1 MiB + mem_upper without a map. Above 0xC0000000 QEMU has the PCI devices' BARs (VGA
 * frame buffer at 0xFD000000, e1000 registers at 0xFEBC0000, ...), which this VMM does not
 * model, hence the default limit; "full=1" scans up to 0xFFC00000 instead, skipping the
 * I/O APIC and local APIC window 0xFEC00000-0xFEE00FFF.
 *
 * Prints "scan 0x<start>-0x<end>", "scanned N pages, writable W, open-bus B" and, after
 * checking that the 1 MiB block still has its checksum, "ram intact, checksum 0x<sum>".
 * "ranges=1" also prints every run of pages that behave alike, with the first value read.
 *
 * "pae=1" probes the physical space PAE can address above 4 GiB instead (SDM Vol. 3 §4.4:
 * 2 MiB pages through a 1 GiB window at linear 0x80000000, one window per GiB from 4 GiB to
 * 64 GiB). A VMM that truncates a frame to 32 bits shows RAM, or its own memory, at
 * 4 GiB * k + x; so in every 4 GiB the first (end of RAM + 32 MiB) are probed page by page
 * (RAM and whatever a VMM keeps just above it), and the rest one page per 2 MiB page
 * ("dense=1": every page). Prints "pae scan 0x100000000-0xfffffffff" and the same count line.
 * Exit value 0; 1 if the RAM block changed.
 */
#include "guest.h"

#define PG_P  0x001u
#define PG_W  0x002u
#define PG_PS 0x080u

#define SCAN_END      0xC0000000u
#define FULL_SCAN_END 0xFFC00000u
#define APIC_START    0xFEC00000u   /* I/O APIC ... */
#define APIC_END      0xFEE01000u   /* ... to the end of the local APIC page */
#define PROBE         0x5A5A5A5Au
#define CHECK_WORDS   (1u << 18)    /* 1 MiB */

static uint32_t page_directory[1024] __attribute__((aligned(4096)));
/* PAE: the PDPT, two directories identity-mapping 0-2 GiB, and the scan window's directory. */
static uint64_t pae_pdpt[4] __attribute__((aligned(32)));
static uint64_t pae_low[2][512] __attribute__((aligned(4096)));
static uint64_t pae_window[512] __attribute__((aligned(4096)));
#define PAE_WINDOW     0x80000000u  /* linear base of the PDPT entry 2 window */
#define PAE_FIRST_GIB  4u
#define PAE_END_GIB    64u          /* 36-bit physical addresses */
#define DENSE_MARGIN   (32u << 20)  /* probed page by page above the end of RAM, per 4 GiB */
static uint32_t check_block[CHECK_WORDS];

enum kind { WRITABLE, OPEN_BUS, OTHER };
static const char *const kind_names[] = { "writable", "open-bus", "other" };

static void fill_block(void)
{
    uint32_t x = 0x2545F491u;
    for (uint32_t i = 0; i < CHECK_WORDS; i++) {
        x ^= x << 13;
        x ^= x >> 17;
        x ^= x << 5;
        check_block[i] = x;
    }
}

static uint32_t checksum_block(void)
{
    uint32_t h = 0x811C9DC5u;
    for (uint32_t i = 0; i < CHECK_WORDS; i++)
        h = (h ^ check_block[i]) * 0x01000193u;
    return h;
}

/* First address >= 1 MiB that no memory-map entry covers (0 if it cannot tell). */
static uint32_t end_of_ram(const struct multiboot_info *mbi)
{
    if (mbi->flags & MULTIBOOT_INFO_MMAP) {
        uint32_t end = 0x100000u;
        int grew = 1;
        while (grew) {              /* entries need not be sorted: extend until nothing does */
            grew = 0;
            for (uint32_t a = mbi->mmap_addr; a < mbi->mmap_addr + mbi->mmap_length;) {
                const struct multiboot_mmap_entry *e =
                    (const struct multiboot_mmap_entry *)(uintptr_t)a;
                a += e->size + sizeof e->size;
                if (e->base_hi || e->len_hi)
                    continue;       /* above 4 GiB, or too long to matter here */
                uint32_t lo = e->base_lo, hi = e->base_lo + e->len_lo;
                if (hi < lo)
                    hi = 0xFFFFFFFFu;
                if (lo <= end && hi > end) {
                    end = hi;
                    grew = 1;
                }
            }
        }
        return end;
    }
    if (mbi->flags & MULTIBOOT_INFO_MEMORY)
        return 0x100000u + mbi->mem_upper * 1024u;
    return 0;
}

static void enable_paging(void)
{
    for (uint32_t i = 0; i < 1024; i++)
        page_directory[i] = (i << 22) | PG_PS | PG_W | PG_P;
    uint32_t t;
    __asm__ volatile("mov %%cr4, %0\n\tor $0x10, %0\n\tmov %0, %%cr4" : "=&r"(t) : : "memory");
    __asm__ volatile("mov %0, %%cr3" : : "r"(page_directory) : "memory");
    __asm__ volatile("mov %%cr0, %0\n\tor $0x80000000, %0\n\tmov %0, %%cr0" : "=&r"(t) : : "memory");
}

static void enable_pae_paging(void)
{
    for (uint32_t d = 0; d < 2; d++) {
        for (uint32_t i = 0; i < 512; i++)
            pae_low[d][i] = ((uint64_t)d << 30) | ((uint64_t)i << 21) | PG_PS | PG_W | PG_P;
        pae_pdpt[d] = (uint32_t)(uintptr_t)pae_low[d] | PG_P;
    }
    pae_pdpt[2] = (uint32_t)(uintptr_t)pae_window | PG_P;   /* PDPTEs carry only P (§4.4.1) */
    uint32_t t;
    __asm__ volatile("mov %%cr4, %0\n\tor $0x20, %0\n\tmov %0, %%cr4" : "=&r"(t) : : "memory");
    __asm__ volatile("mov %0, %%cr3" : : "r"(pae_pdpt) : "memory");
    __asm__ volatile("mov %%cr0, %0\n\tor $0x80000000, %0\n\tmov %0, %%cr0" : "=&r"(t) : : "memory");
}

/* Reads, writes PROBE, reads again; *first_read gets the first value. */
static enum kind probe(uint32_t linear, uint32_t *first_read)
{
    volatile uint32_t *p = (volatile uint32_t *)(uintptr_t)linear;
    uint32_t first = *p;
    *first_read = first;
    *p = PROBE;
    uint32_t again = *p;
    if (again == PROBE)
        return WRITABLE;
    if (first == again && (first == 0xFFFFFFFFu || first == 0))
        return OPEN_BUS;
    return OTHER;
}

/* Probes 4 GiB-64 GiB through the window; counts[] gets one entry per probed page. */
static void scan_pae(uint32_t ram_end, uint32_t dense, uint32_t counts[3])
{
    uint32_t dense_end = ram_end + DENSE_MARGIN;
    for (uint32_t gib = PAE_FIRST_GIB; gib < PAE_END_GIB; gib++) {
        for (uint32_t i = 0; i < 512; i++)
            pae_window[i] = ((uint64_t)gib << 30) | ((uint64_t)i << 21) | PG_PS | PG_W | PG_P;
        /* A CR3 load flushes the TLB and reloads the PDPTEs (§4.4.1). */
        __asm__ volatile("mov %0, %%cr3" : : "r"(pae_pdpt) : "memory");
        uint32_t low = (gib & 3u) << 30;     /* the physical address modulo 4 GiB */
        for (uint32_t i = 0; i < 512; i++) {
            uint32_t offset = low + (i << 21);
            int every_page = dense || offset < dense_end;
            for (uint32_t page = 0; page < (every_page ? 512u : 1u); page++)
            {
                uint32_t first;
                counts[probe(PAE_WINDOW + (i << 21) + (page << 12), &first)]++;
            }
        }
    }
}

static void print_range(uint32_t start, uint32_t end, enum kind k, uint32_t first)
{
    put_hex32(start);
    put_char('-');
    put_hex32(end - 1);
    put_char(' ');
    put_str(kind_names[k]);
    put_str(", first read ");
    put_hex32(first);
    put_char('\n');
}

/* Prints the counts, checks the RAM block and ends the run. */
static void report(const uint32_t counts[3], uint32_t before)
{
    put_str("scanned ");
    put_dec(counts[0] + counts[1] + counts[2]);
    put_str(" pages, writable ");
    put_dec(counts[WRITABLE]);
    put_str(", open-bus ");
    put_dec(counts[OPEN_BUS]);
    if (counts[OTHER]) {
        put_str(", other ");
        put_dec(counts[OTHER]);
    }
    put_char('\n');

    uint32_t after = checksum_block();
    if (after != before) {
        put_str("FAILED: ram changed, checksum ");
        put_hex32(before);
        put_str(" became ");
        put_hex32(after);
        put_char('\n');
        guest_exit(1);
    }
    put_str("ram intact, checksum ");
    put_hex32(after);
    put_char('\n');
    guest_exit(0);

}

void kmain(uint32_t magic, const struct multiboot_info *mbi)
{
    uart_init();
    mb_require_magic(magic);
    const char *cmdline = mb_cmdline(mbi);
    uint32_t full = 0, ranges = 0, pae = 0, dense = 0;
    cmdline_u32(cmdline, "full", &full);
    cmdline_u32(cmdline, "ranges", &ranges);
    cmdline_u32(cmdline, "pae", &pae);
    cmdline_u32(cmdline, "dense", &dense);

    uint32_t start = end_of_ram(mbi);
    if (!start) {
        put_str("FAILED: no memory information from the loader\n");
        guest_exit(1);
    }
    start = (start + 0xFFFu) & ~0xFFFu;
    uint32_t end = full ? FULL_SCAN_END : SCAN_END;

    fill_block();
    uint32_t before = checksum_block();
    uint32_t counts[3] = { 0, 0, 0 };
    if (pae) {
        enable_pae_paging();
        put_str("pae scan 0x100000000-0xfffffffff\n");
        scan_pae(start, dense, counts);
        report(counts, before);
    }
    enable_paging();

    put_str("scan ");
    put_hex32(start);
    put_char('-');
    put_hex32(end - 1);
    put_char('\n');

    uint32_t run_start = start, run_first = 0;
    enum kind run_kind = OTHER;
    int in_run = 0;
    for (uint32_t a = start; a >= start && a < end; a += 0x1000) {
        if (a >= APIC_START && a < APIC_END)
            continue;
        uint32_t first;
        enum kind k = probe(a, &first);
        counts[k]++;
        if (ranges && (!in_run || k != run_kind || (k != WRITABLE && first != run_first) ||
                       a == APIC_END)) {
            if (in_run)
                print_range(run_start, a == APIC_END ? APIC_START : a, run_kind, run_first);
            run_start = a;
            run_kind = k;
            run_first = first;
            in_run = 1;
        }
    }
    if (ranges && in_run)
        print_range(run_start, end, run_kind, run_first);
    report(counts, before);
}
