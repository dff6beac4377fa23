/* paging-steps.c - see paging-steps.h. */
#include "guest.h"
#include "paging-steps.h"

#define PG_P 0x001u
#define PG_W 0x002u
#define PG_A 0x020u
#define PG_D 0x040u
#define PAGE 4096u

const struct paging_ops *paging_ops;

enum pf_mode { PF_NONE, PF_DEMAND, PF_EXPECT };
/* Shared with the #PF handler, which runs in the middle of the code that reads them. */
static volatile enum pf_mode pf_mode = PF_NONE;
static volatile uint32_t page_faults;   /* demand faults on a missing PTE */
static volatile uint32_t table_faults;  /* demand faults on a missing PDE */
static volatile uint32_t odd_errors;    /* demand faults whose error code was not 0x2 */
static volatile uint32_t expect_va, expect_frame, seen_cr2, seen_error, expected_faults;
/* Iterations the #PF handler spins before it reads the fault address; 0 reads it at once. */
static volatile uint32_t slow_handler_spins;

static inline uint32_t peek(uint32_t va) { return *(volatile uint32_t *)(uintptr_t)va; }
static inline void poke(uint32_t va, uint32_t v) { *(volatile uint32_t *)(uintptr_t)va = v; }
static void fail(const char *what) { guest_fail(what, 1); }

void paging_steps_slow_spin(void)
{
    for (volatile uint32_t i = 0; i < slow_handler_spins; i++)
        ;
}

int paging_steps_fault(uint32_t cr2, uint32_t error)
{
    const struct paging_ops *ops = paging_ops;
    if (pf_mode == PF_DEMAND && cr2 - PAGING_DEMAND_BASE < PAGING_DEMAND_PAGES * PAGE) {
        if (error != 0x2)
            odd_errors++;
        if (!ops->table_present(cr2)) {
            ops->map_table(cr2);            /* retried: faults on the PTE next */
            table_faults++;
            return 1;
        }
        if (!(ops->pte(cr2) & PG_P)) {
            ops->fill_pte(cr2 & ~0xFFFu, ops->alloc_frame() | PG_W | PG_P);
            page_faults++;
            return 1;
        }
    } else if (pf_mode == PF_EXPECT && (cr2 & ~0xFFFu) == expect_va) {
        seen_cr2 = cr2;
        seen_error = error;
        expected_faults++;
        ops->fill_pte(expect_va, expect_frame | PG_W | PG_P);
        return 1;
    }
    return 0;
}

void paging_expect(uint32_t va, uint32_t frame)
{
    expect_va = va;
    expect_frame = frame;
    expected_faults = 0;
    seen_cr2 = seen_error = 0xFFFFFFFFu;
    pf_mode = PF_EXPECT;
}

void paging_expect_end(uint32_t *faults, uint32_t *cr2, uint32_t *error)
{
    pf_mode = PF_NONE;
    *faults = expected_faults;
    *cr2 = seen_cr2;
    *error = seen_error;
}

void paging_touch_all(void)
{
    pf_mode = PF_DEMAND;
    write_patterns(PAGING_DEMAND_BASE, PAGING_DEMAND_PAGES);
    pf_mode = PF_NONE;
    report_touched(PAGING_DEMAND_PAGES, page_faults, table_faults);
    if (page_faults != PAGING_DEMAND_PAGES || table_faults != PAGING_DEMAND_TABLES)
        fail("expected one fault per page and one per page table");
    if (odd_errors)
        fail("a demand fault's error code was not 0x2 (supervisor write, not present)");
}

void paging_read_back(void)
{
    report_read_back(PAGING_DEMAND_PAGES, pattern_mismatches(PAGING_DEMAND_BASE, PAGING_DEMAND_PAGES),
                     page_faults + table_faults);
    if (page_faults + table_faults != PAGING_DEMAND_PAGES + PAGING_DEMAND_TABLES)
        fail("reading faulted");
}

void paging_accessed_dirty(void)
{
    const struct paging_ops *ops = paging_ops;
    uint32_t both = 0;
    for (uint32_t i = 0; i < PAGING_DEMAND_PAGES; i++)
        if ((ops->pte(PAGING_DEMAND_BASE + i * PAGE) & (PG_A | PG_D)) == (PG_A | PG_D))
            both++;
    report_accessed_dirty(both, PAGING_DEMAND_PAGES);
    if (both != PAGING_DEMAND_PAGES)
        fail("written pages without A and D");
    /* Pages 0, 1, 2: clear A and D, flush each; then read 0, write 1, leave 2. */
    for (uint32_t i = 0; i < 3; i++) {
        uint32_t va = PAGING_DEMAND_BASE + i * PAGE;
        ops->set_pte(va, ops->pte(va) & ~(PG_A | PG_D));
    }
    uint32_t read_va = PAGING_DEMAND_BASE, write_va = PAGING_DEMAND_BASE + PAGE, idle_va = PAGING_DEMAND_BASE + 2 * PAGE;
    if (peek(read_va) != paging_pattern(read_va))
        fail("read after clearing A/D");
    poke(write_va + 8, paging_pattern(write_va + 8) ^ 0xFFFFFFFFu);
    poke(write_va + 8, paging_pattern(write_va + 8));
    uint32_t r = ops->pte(read_va), w = ops->pte(write_va), n = ops->pte(idle_va);
    report_cleared_ad(r, w, n);
    if ((r & (PG_A | PG_D)) != PG_A || (w & (PG_A | PG_D)) != (PG_A | PG_D) || (n & (PG_A | PG_D)))
        fail("wrong A/D bits");
}

static void expect_fault(const char *what, int write, uint32_t va, uint32_t frame)
{
    paging_ops->set_pte(va, paging_ops->pte(va) & ~PG_P);
    paging_expect(va, frame);
    uint32_t v;
    if (write) {
        poke(va + 12, 0x600D0003u);
        v = peek(va + 12);
    } else {
        v = peek(va + 12);
    }
    uint32_t faults, cr2, error;
    paging_expect_end(&faults, &cr2, &error);
    report_expected_fault(what, faults, cr2, error, v);
    if (faults != 1 || cr2 != va + 12 || error != (write ? 0x2u : 0x0u))
        fail("wrong page fault");
}

void paging_change_tables(void)
{
    const struct paging_ops *ops = paging_ops;
    uint32_t va = PAGING_DEMAND_BASE + PAGING_REMAP_PAGE * PAGE;

    /* Remap with INVLPG. The read before it caches the old translation. */
    uint32_t g = ops->alloc_frame();
    poke(g, 0x600D0001u);
    if (peek(va) != paging_pattern(va))
        fail("page before remapping");
    ops->set_pte(va, g | PG_W | PG_P);
    uint32_t v = peek(va);
    report_read("remap with INVLPG", v);
    if (v != 0x600D0001u)
        fail("old frame still seen after INVLPG");

    /* Remap with a CR3 reload (which flushes all non-global translations) instead. */
    uint32_t h = ops->alloc_frame();
    poke(h, 0x600D0002u);
    ops->set_pte_flush_all(va, h | PG_W | PG_P);
    v = peek(va);
    report_read("remap with CR3 reload", v);
    if (v != 0x600D0002u)
        fail("old frame still seen after a CR3 reload");

    /* Unmap (P=0, INVLPG) and touch: the handler sees the address and the error code, maps it back. */
    poke(h + 12, 0x600D0004u);
    expect_fault("unmapped page read", 0, va, h);
    if (peek(h + 12) != 0x600D0004u)
        fail("read of a remapped page");
    expect_fault("unmapped page write", 1, va, h);
    if (peek(h + 12) != 0x600D0003u)
        fail("write to a remapped page did not reach the frame");

    /* Some 10-100 ms of work in the handler before it reads the address: the VMM ends many runs meanwhile. */
    slow_handler_spins = 4000000u;
    expect_fault("unmapped page read, slow handler", 0, va, h);
    expect_fault("unmapped page write, slow handler", 1, va, h);
    slow_handler_spins = 0;
}
