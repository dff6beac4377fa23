/*
 * trapbench - the costs a trap-and-emulate VMM adds, timed by the guest with RDTSC (under vmm
 * and QEMU's TCG the guest's TSC is the host's).
 *
 * Command line: pages=N (default 65536), pairs=N (default 100000).
 *
 * Before paging is turned on, the guest writes every table it will use: a page directory whose
 * entry 0 identity-maps physical 0-4 MiB (the kernel, its stack and bss) with 4 KiB pages, and
 * page tables at physical 4 MiB that map N pages at virtual 0x40000000 onto the frames right
 * after them (present and writable; Accessed and Dirty clear), and a twin directory and tables
 * (after the frames) that map the same. It masks both 8259As, turns paging on with the first set
 * and times four phases:
 *   touch    one dword write to each of the N pages, the first access to each: under `direct`
 *            a TLB miss and a page walk that sets A and D; under `trap` a hidden page fault
 *            that the VMM fills in its shadow page table;
 *   retouch  the same writes again: no fault under either engine (the cost of the memory
 *            access itself, for comparison);
 *   rewalk   after a MOV to CR3 of a twin page directory, whose own page tables (after the
 *            frames) map the same frames, the same writes again: under `direct` a TLB miss and
 *            a walk of the new tables per page, under `trap` and `bt` a hidden page fault that
 *            fills the new tables' shadow. Unlike touch, no write is the host's first to its
 *            frame (the host's own demand paging, which touch pays under every engine, often
 *            outweighs the fault on a shared machine);
 *   cli/sti  N2 = pairs iterations of `cli; sti`: native under `direct`, two trapped and
 *            emulated privileged instructions under `trap`.
 * and prints, exactly:
 *   touch <N> pages: <cycles> cycles
 *   retouch <N> pages: <cycles> cycles
 *   rewalk <N> pages: <cycles> cycles
 *   cli/sti <N2> pairs: <cycles> cycles
 * then reads every page back (a wrong value prints "FAILED: ..." and exits with value 1) and
 * exits with value 0. Other exits: 1 for a bad command line (pages or pairs 0, or pages more
 * than the 0x40000000-0xbfffffff window holds), 2 for an unexpected exception, 4 when mem_upper
 * is too small (the line says how much RAM the run needs).
 */
#include "guest.h"
#include "cpu-tables.h"

#define PG_P  0x001u            /* present */
#define PG_W  0x002u            /* writable */

#define PAGE            4096u
#define REGION_BASE     0x40000000u
#define MAX_PAGES       0x80000u                /* 0x40000000-0xbfffffff: 2 GiB */
#define TABLES_START    0x00400000u             /* physical 4 MiB: the region's page tables */
#define DEFAULT_PAGES   65536u
#define DEFAULT_PAIRS   100000u

#define EXIT_CHECK      1
#define EXIT_EXCEPTION  2
#define EXIT_MEMORY     4

static uint32_t page_directory[1024] __attribute__((aligned(4096)));
static uint32_t twin_directory[1024] __attribute__((aligned(4096)));
static uint32_t identity_table[1024] __attribute__((aligned(4096)));

void exception_dispatch(struct frame *f)
{
    fail_on_exception(f, EXIT_EXCEPTION);
}

static void fail(const char *what)
{
    guest_fail(what, EXIT_CHECK);
}

static inline uint64_t rdtsc(void)
{
    uint64_t v;
    __asm__ volatile("rdtsc" : "=A"(v) : : "memory");
    return v;
}

static void report(const char *phase, uint32_t count, const char *unit, uint64_t cycles)
{
    put_str(phase);
    put_char(' ');
    put_dec(count);
    put_char(' ');
    put_str(unit);
    put_str(": ");
    put_dec64(cycles);
    put_str(" cycles\n");
}

/* The region's page tables at `at`, mapping the frames at `frames`, entered in `directory`. */
static void build_region_tables(uint32_t *directory, uint32_t at, uint32_t frames, uint32_t pages, uint32_t tables)
{
    directory[0] = (uint32_t)(uintptr_t)identity_table | PG_W | PG_P;
    volatile uint32_t *pte = (volatile uint32_t *)(uintptr_t)at;
    for (uint32_t i = 0; i < tables * 1024u; i++)
        pte[i] = i < pages ? (frames + i * PAGE) | PG_W | PG_P : 0;
    for (uint32_t t = 0; t < tables; t++)
        directory[(REGION_BASE >> 22) + t] = (at + t * PAGE) | PG_W | PG_P;
}

/* Page tables for the region at TABLES_START, its frames after them, the twin tables after the
 * frames; then paging on, with the first set. */
static void build_tables_and_enable_paging(uint32_t pages, uint32_t tables)
{
    for (uint32_t i = 0; i < 1024; i++)
        identity_table[i] = (i * PAGE) | PG_W | PG_P;
    uint32_t frames = TABLES_START + tables * PAGE;
    build_region_tables(page_directory, TABLES_START, frames, pages, tables);
    build_region_tables(twin_directory, frames + pages * PAGE, frames, pages, tables);

    uint32_t cr0;
    __asm__ volatile("mov %0, %%cr3" : : "r"((uint32_t)(uintptr_t)page_directory) : "memory");
    __asm__ volatile("mov %%cr0, %0\n\t"
                     "or $0x80000000, %0\n\t"
                     "mov %0, %%cr0"
                     : "=&r"(cr0) : : "memory");
}

/* noinline keeps each phase's loop in one place between its two RDTSCs. */
static __attribute__((noinline)) uint64_t write_pages(uint32_t pages, uint32_t salt)
{
    uint64_t start = rdtsc();
    for (uint32_t i = 0; i < pages; i++)
        *(volatile uint32_t *)(uintptr_t)(REGION_BASE + i * PAGE) = i ^ salt;
    return rdtsc() - start;
}

static __attribute__((noinline)) uint64_t cli_sti(uint32_t pairs)
{
    uint64_t start = rdtsc();
    for (uint32_t i = 0; i < pairs; i++)
        __asm__ volatile("cli\n\tsti" : : : "memory");
    return rdtsc() - start;     /* IF stays set: the 8259As are masked */
}

void kmain(uint32_t magic, const struct multiboot_info *mbi)
{
    uart_init();
    mb_require_magic(magic);
    load_descriptors();

    const char *cmdline = mb_cmdline(mbi);
    uint32_t pages, pairs;
    if (!cmdline_u32(cmdline, "pages", &pages))
        pages = DEFAULT_PAGES;
    if (!cmdline_u32(cmdline, "pairs", &pairs))
        pairs = DEFAULT_PAIRS;
    if (pages == 0 || pages > MAX_PAGES || pairs == 0) {
        put_str("FAILED: pages must be 1-");
        put_dec(MAX_PAGES);
        put_str(" and pairs 1 or more\n");
        guest_exit(EXIT_CHECK);
    }

    uint32_t tables = (pages + 1023u) / 1024u;
    uint32_t end = TABLES_START + (2 * tables + pages) * PAGE; /* < 2 GiB + 8 MiB: no overflow */
    if (!(mbi->flags & MULTIBOOT_INFO_MEMORY)) {
        put_str("FAILED: no mem_upper from the loader\n");
        guest_exit(EXIT_MEMORY);
    }
    if (mbi->mem_upper < (end - 0x100000u) / 1024u) {
        put_str("FAILED: not enough memory: mem_upper=");
        put_dec(mbi->mem_upper);
        put_str("K, ");
        put_dec(pages);
        put_str(" pages need ");
        put_dec((end - 0x100000u) / 1024u);
        put_str("K (run with at least ");
        put_dec((end + 0xFFFFFu) / 0x100000u + 1u);     /* + 1 MiB for the firmware's reserve */
        put_str(" MiB)\n");
        guest_exit(EXIT_MEMORY);
    }

    /* OCW1: mask every IRQ line on both 8259As, so STI lets nothing in. */
    outb(0x21, 0xFF);
    outb(0xA1, 0xFF);

    build_tables_and_enable_paging(pages, tables);

    uint64_t touch = write_pages(pages, 0x70000000u);
    uint64_t retouch = write_pages(pages, 0x7E000000u);
    __asm__ volatile("mov %0, %%cr3" : : "r"((uint32_t)(uintptr_t)twin_directory) : "memory");
    uint64_t rewalk = write_pages(pages, 0x7F000000u);
    uint64_t cli = cli_sti(pairs);

    report("touch", pages, "pages", touch);
    report("retouch", pages, "pages", retouch);
    report("rewalk", pages, "pages", rewalk);
    report("cli/sti", pairs, "pairs", cli);

    for (uint32_t i = 0; i < pages; i++)
        if (*(volatile uint32_t *)(uintptr_t)(REGION_BASE + i * PAGE) != (i ^ 0x7F000000u))
            fail("a page of the region does not hold what was written to it");
    guest_exit(0);
}
