/*
 * paging-report.h - the demand-paging steps' patterns and lines, shared by the native `paging`
 * guest and its paravirtual twin `pvkernel`, which do the same work by different means (page-table
 * writes and INVLPG, or hypercalls) and must print the same lines.
 */
#ifndef PAGING_REPORT_H
#define PAGING_REPORT_H

#include <stdint.h>

/* The dword written at va: distinct for every dword (odd multiplier). */
static inline uint32_t paging_pattern(uint32_t va) { return va * 0x9E3779B1u + 0x5EED1234u; }

/* Writes paging_pattern(va) to every dword of `pages` pages from `base`. */
void write_patterns(uint32_t base, uint32_t pages);
/* The dwords of `pages` pages from `base` that do not hold their pattern. */
uint32_t pattern_mismatches(uint32_t base, uint32_t pages);

/* "touched N pages: F page faults (P pages + T page tables)" */
void report_touched(uint32_t pages, uint32_t page_faults, uint32_t table_faults);
/* "read back N pages: patterns ok, F page faults in all" (or the mismatch count, then FAILED). */
void report_read_back(uint32_t pages, uint32_t mismatches, uint32_t faults);
/* "A/D after writes: B of N PTEs accessed and dirty" */
void report_accessed_dirty(uint32_t both, uint32_t pages);
/* "A/D after clearing: read page A= D=, written page ..., untouched page ..." */
void report_cleared_ad(uint32_t read_pte, uint32_t written_pte, uint32_t untouched_pte);
/* "3 address spaces at V: S CR3 switches, markers ok, visits a b c" */
void report_address_spaces(uint32_t vaddr, uint32_t switches, const uint32_t *visits, uint32_t spaces);
/* "<what>: read <value>" */
void report_read(const char *what, uint32_t value);
/* "<what>: N #PF cr2=C error E, mapped again, read V" */
void report_expected_fault(const char *what, uint32_t faults, uint32_t cr2, uint32_t error, uint32_t value);

#endif
