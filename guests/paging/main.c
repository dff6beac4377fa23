/*
 * paging - a small demand-paging kernel (32-bit two-level paging, SDM Vol. 3 ch. 4.3).
 *
 * It loads its own GDT and IDT (exception vectors 0-31; #PF does the work, every other
 * exception is reported and ends the run), identity-maps physical 0-64 MiB with 4 MiB pages
 * (CR4.PSE) and then, one line per step:
 *   a. turns paging on with 0x40000000-0x41FFFFFF (32 MiB, 8192 pages) not mapped;
 *   b. writes a pattern to every dword of those 8192 pages: the first touch of each 4 MiB
 *      region faults on its not-present PDE (the handler installs a zeroed page table) and
 *      then on the not-present PTE (the handler installs a zeroed frame from a bump allocator
 *      over RAM from 4 MiB up), every other page faults once: 8192 + 8 faults;
 *   c. reads everything back (no more faults);
 *   d. checks Accessed/Dirty in its PTEs, clears them on three pages (INVLPG each), reads one,
 *      writes one, leaves one alone and prints the bits the CPU set;
 *   e. builds three page directories that share the kernel mapping but map 0x50000000 to
 *      different frames, and switches CR3 round-robin 300 times checking each one's marker;
 *   f. remaps a page by rewriting its PTE + INVLPG, then + a CR3 reload instead, then clears
 *      P and takes the #PF (checking CR2 and the error code) for a read and for a write;
 *   g. takes the same #PF with a handler that computes for a while (several of the VMM's time
 *      slices) before it reads CR2: CR2 is the CPU's, however often the VMM stopped the guest.
 * Prints "paging ok" and exits with value 0. Failures print a line and exit with value 1
 * (a check failed), 2 (unexpected exception) or 4 (not enough RAM; 3 is "bad magic").
 */
#include "guest.h"
#include "cpu-tables.h"
#include "paging-steps.h"

#define PG_P  0x001u            /* present */
#define PG_W  0x002u            /* writable */
#define PG_U  0x004u            /* user */
#define PG_A  0x020u            /* accessed */
#define PG_D  0x040u            /* dirty */
#define PG_PS 0x080u            /* PDE: 4 MiB page (needs CR4.PSE) */

#define PAGE             4096u
#define IDENTITY_PDES    16u                    /* 0-64 MiB with 4 MiB pages */
#define DEMAND_BASE      PAGING_DEMAND_BASE
#define DEMAND_PAGES     PAGING_DEMAND_PAGES
#define DEMAND_TABLES    PAGING_DEMAND_TABLES
#define SPACES           3u                     /* address spaces of step e */
#define SPACE_VADDR      0x50000000u
#define SWITCHES         300u
#define REMAP_PAGE       PAGING_REMAP_PAGE      /* demand page used by step f */
#define FRAMES_START     0x00400000u            /* bump allocator: physical 4 MiB and up */
/* Every frame the run allocates: b, then 3 directories + 3 tables + 3 frames, then 2. */
#define FRAMES_NEEDED    (DEMAND_PAGES + DEMAND_TABLES + 3u * SPACES + 2u)

#define EXIT_CHECK      1
#define EXIT_EXCEPTION  2
#define EXIT_MEMORY     4

/* ---------------------------------------------------------------- CPU helpers */

static inline uint32_t peek(uint32_t va)
{
    return *(volatile uint32_t *)(uintptr_t)va;
}

static inline void poke(uint32_t va, uint32_t v)
{
    *(volatile uint32_t *)(uintptr_t)va = v;
}

static void fail(const char *what)
{
    guest_fail(what, EXIT_CHECK);
}

/* ---------------------------------------------------------------- frames and tables */

static uint32_t kernel_pd[1024] __attribute__((aligned(4096)));
static uint32_t next_frame = FRAMES_START;
static uint32_t ram_end;

/* A zeroed 4 KiB frame. Frames lie below 64 MiB, so the identity map reaches them. */
static uint32_t alloc_frame(void)
{
    if (next_frame + PAGE > ram_end) {
        put_str("FAILED: out of physical frames at ");
        put_hex32(next_frame);
        put_char('\n');
        guest_exit(EXIT_MEMORY);
    }
    uint32_t frame = next_frame;
    next_frame += PAGE;
    volatile uint32_t *p = (volatile uint32_t *)(uintptr_t)frame;
    for (uint32_t i = 0; i < PAGE / 4; i++)
        p[i] = 0;
    return frame;
}

/* The PTE that maps va in the kernel directory (its page table must exist). */
static volatile uint32_t *kernel_pte(uint32_t va)
{
    uint32_t pde = kernel_pd[va >> 22];
    volatile uint32_t *table = (volatile uint32_t *)(uintptr_t)(pde & ~0xFFFu);
    return &table[(va >> 12) & 0x3FF];
}


/* ---------------------------------------------------------------- page faults */

/* The steps' ops (paging-steps.h): the kernel writes its own tables. */
static int table_present(uint32_t va) { return (kernel_pd[va >> 22] & PG_P) != 0; }
static void map_table(uint32_t va) { kernel_pd[va >> 22] = alloc_frame() | PG_W | PG_P; }
static uint32_t pte(uint32_t va) { return *kernel_pte(va); }
static void fill_pte(uint32_t va, uint32_t value) { *kernel_pte(va) = value; }

static void set_pte(uint32_t va, uint32_t value)
{
    *kernel_pte(va) = value;
    invlpg(va);
}

static void set_pte_flush_all(uint32_t va, uint32_t value)
{
    *kernel_pte(va) = value;
    write_cr3(read_cr3());
}

static const struct paging_ops native_ops = {
    table_present, map_table, pte, fill_pte, set_pte, set_pte_flush_all, alloc_frame,
};

static void page_fault(struct frame *f)
{
    paging_steps_slow_spin();
    if (paging_steps_fault(read_cr2(), f->error))
        return;
    fail_on_exception(f, EXIT_EXCEPTION);
}

void exception_dispatch(struct frame *f)
{
    if (f->vector == 14)
        page_fault(f);
    else
        fail_on_exception(f, EXIT_EXCEPTION);
}

/* ---------------------------------------------------------------- steps */

static void enable_paging(void)
{
    for (uint32_t i = 0; i < IDENTITY_PDES; i++)
        kernel_pd[i] = (i << 22) | PG_PS | PG_W | PG_P;
    uint32_t t;
    __asm__ volatile("mov %%cr4, %0\n\tor $0x10, %0\n\tmov %0, %%cr4" : "=&r"(t) : : "memory");
    write_cr3((uint32_t)(uintptr_t)kernel_pd);
    __asm__ volatile("mov %%cr0, %0\n\tor $0x80000000, %0\n\tmov %0, %%cr0" : "=&r"(t) : : "memory");
    put_str("paging on: 0-64 MiB identity-mapped with 4 MiB pages, ");
    put_hex32(DEMAND_BASE);
    put_char('-');
    put_hex32(DEMAND_BASE + DEMAND_PAGES * PAGE - 1);
    put_str(" not mapped\n");
}





static void address_spaces(void)
{
    uint32_t dirs[SPACES], frames[SPACES];
    for (uint32_t k = 0; k < SPACES; k++) {
        uint32_t *pd = (uint32_t *)(uintptr_t)alloc_frame();
        uint32_t *pt = (uint32_t *)(uintptr_t)alloc_frame();
        frames[k] = alloc_frame();
        for (uint32_t i = 0; i < IDENTITY_PDES; i++)
            pd[i] = kernel_pd[i];                   /* the shared kernel mapping */
        pd[SPACE_VADDR >> 22] = (uint32_t)(uintptr_t)pt | PG_W | PG_P;
        pt[(SPACE_VADDR >> 12) & 0x3FF] = frames[k] | PG_W | PG_P;
        poke(frames[k], 0xA5500000u + k);           /* the space's marker */
        dirs[k] = (uint32_t)(uintptr_t)pd;
    }

    uint32_t kernel_cr3 = read_cr3();
    for (uint32_t n = 0; n < SWITCHES; n++) {
        uint32_t k = n % SPACES;
        write_cr3(dirs[k]);
        if (peek(SPACE_VADDR) != 0xA5500000u + k) {
            write_cr3(kernel_cr3);
            fail("wrong marker after a CR3 switch");
        }
        poke(SPACE_VADDR + 4, peek(SPACE_VADDR + 4) + 1);   /* visit count, in the space */
    }
    write_cr3(kernel_cr3);

    uint32_t visits[SPACES];
    for (uint32_t k = 0; k < SPACES; k++)
        visits[k] = peek(frames[k] + 4);           /* through the identity map */
    report_address_spaces(SPACE_VADDR, SWITCHES, visits, SPACES);
    for (uint32_t k = 0; k < SPACES; k++)
        if (peek(frames[k] + 4) != SWITCHES / SPACES)
            fail("visit counts");
}



/* CR0.WP (SDM Vol. 3 §4.6.1): clear, the kernel writes through a read-only user mapping; set, the
 * same write is a #PF with P and W, which the handler answers by mapping the page writable. */
#define CR0_WP 0x00010000u

static void set_write_protect(int on)
{
    uint32_t t;
    if (on)
        __asm__ volatile("mov %%cr0, %0\n\tor %1, %0\n\tmov %0, %%cr0" : "=&r"(t) : "i"(CR0_WP) : "memory");
    else
        __asm__ volatile("mov %%cr0, %0\n\tand %1, %0\n\tmov %0, %%cr0" : "=&r"(t) : "i"(~CR0_WP) : "memory");
}

static void write_protect(void)
{
    uint32_t va = DEMAND_BASE + REMAP_PAGE * PAGE;
    volatile uint32_t *pte = kernel_pte(va);
    uint32_t frame = *pte & ~0xFFFu;
    kernel_pd[va >> 22] |= PG_U;
    *pte = frame | PG_U | PG_P;
    invlpg(va);
    set_write_protect(0);
    poke(va + 16, 0x600D0005u);
    set_write_protect(1);
    uint32_t clear = peek(va + 16);
    paging_expect(va, frame);
    poke(va + 16, 0x600D0006u);
    uint32_t expected_faults, seen_cr2, seen_error;
    paging_expect_end(&expected_faults, &seen_cr2, &seen_error);
    uint32_t set = peek(va + 16);
    kernel_pd[va >> 22] &= ~PG_U;
    write_cr3(read_cr3());
    put_str("read-only user page, WP clear: wrote ");
    put_hex32(clear);
    put_str("; WP set: ");
    put_dec(expected_faults);
    put_str(" #PF error ");
    put_hex32(seen_error);
    put_str(", mapped writable, wrote ");
    put_hex32(set);
    put_char('\n');
    if (clear != 0x600D0005u || expected_faults != 1 || seen_error != 0x3u || set != 0x600D0006u)
        fail("write protection");
}

void kmain(uint32_t magic, const struct multiboot_info *mbi)
{
    uart_init();
    mb_require_magic(magic);
    load_descriptors();

    if (!(mbi->flags & MULTIBOOT_INFO_MEMORY)) {
        put_str("FAILED: no mem_upper from the loader\n");
        guest_exit(EXIT_MEMORY);
    }
    ram_end = 0x100000u + mbi->mem_upper * 1024u;
    uint32_t need = FRAMES_START + FRAMES_NEEDED * PAGE;
    if (mbi->mem_upper > (IDENTITY_PDES << 22) / 1024u - 1024u)
        ram_end = IDENTITY_PDES << 22;          /* frames must stay in the identity map */
    if (ram_end < need) {
        put_str("FAILED: not enough memory: mem_upper=");
        put_dec(mbi->mem_upper);
        put_str("K, need ");
        put_dec((need - 0x100000u) / 1024u);
        put_str("K (run with 64 MiB)\n");
        guest_exit(EXIT_MEMORY);
    }

    paging_ops = &native_ops;
    enable_paging();
    paging_touch_all();
    paging_read_back();
    paging_accessed_dirty();
    address_spaces();
    paging_change_tables();
    write_protect();
    put_str("paging ok\n");
    guest_exit(0);
}
