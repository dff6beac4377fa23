/* paging-report.c - see paging-report.h. */
#include "guest.h"
#include "paging-report.h"

#define PAGE 4096u
#define PG_A 0x020u
#define PG_D 0x040u

void write_patterns(uint32_t base, uint32_t pages)
{
    for (uint32_t va = base; va < base + pages * PAGE; va += 4)
        *(volatile uint32_t *)(uintptr_t)va = paging_pattern(va);
}

uint32_t pattern_mismatches(uint32_t base, uint32_t pages)
{
    uint32_t bad = 0;
    for (uint32_t va = base; va < base + pages * PAGE; va += 4)
        if (*(volatile uint32_t *)(uintptr_t)va != paging_pattern(va))
            bad++;
    return bad;
}

void report_touched(uint32_t pages, uint32_t page_faults, uint32_t table_faults)
{
    put_str("touched ");
    put_dec(pages);
    put_str(" pages: ");
    put_dec(page_faults + table_faults);
    put_str(" page faults (");
    put_dec(page_faults);
    put_str(" pages + ");
    put_dec(table_faults);
    put_str(" page tables)\n");
}

void report_read_back(uint32_t pages, uint32_t mismatches, uint32_t faults)
{
    put_str("read back ");
    put_dec(pages);
    put_str(" pages: ");
    if (mismatches) {
        put_dec(mismatches);
        put_str(" dwords differ\n");
        guest_fail("pattern mismatch", 1);
    }
    put_str("patterns ok, ");
    put_dec(faults);
    put_str(" page faults in all\n");
}

void report_accessed_dirty(uint32_t both, uint32_t pages)
{
    put_str("A/D after writes: ");
    put_dec(both);
    put_str(" of ");
    put_dec(pages);
    put_str(" PTEs accessed and dirty\n");
}

static void put_ad(const char *what, uint32_t pte)
{
    put_str(what);
    put_str(" A=");
    put_dec((pte & PG_A) ? 1 : 0);
    put_str(" D=");
    put_dec((pte & PG_D) ? 1 : 0);
}

void report_cleared_ad(uint32_t read_pte, uint32_t written_pte, uint32_t untouched_pte)
{
    put_ad("A/D after clearing: read page", read_pte);
    put_ad(", written page", written_pte);
    put_ad(", untouched page", untouched_pte);
    put_char('\n');
}

void report_address_spaces(uint32_t vaddr, uint32_t switches, const uint32_t *visits, uint32_t spaces)
{
    put_dec(spaces);
    put_str(" address spaces at ");
    put_hex32(vaddr);
    put_str(": ");
    put_dec(switches);
    put_str(" CR3 switches, markers ok, visits");
    for (uint32_t k = 0; k < spaces; k++) {
        put_char(' ');
        put_dec(visits[k]);
    }
    put_char('\n');
}

void report_read(const char *what, uint32_t value)
{
    put_str(what);
    put_str(": read ");
    put_hex32(value);
    put_char('\n');
}

void report_expected_fault(const char *what, uint32_t faults, uint32_t cr2, uint32_t error, uint32_t value)
{
    put_str(what);
    put_str(": ");
    put_dec(faults);
    put_str(" #PF cr2=");
    put_hex32(cr2);
    put_str(" error ");
    put_hex32(error);
    put_str(", mapped again, read ");
    put_hex32(value);
    put_char('\n');
}
