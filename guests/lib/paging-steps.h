/*
 * paging-steps.h - the demand-paging steps the native `paging` guest and its paravirtual twin
 * `pvkernel` share: the same work and checks, and the same lines (paging-report.h). Only how a
 * page-table entry changes differs (a store and INVLPG or a CR3 reload, or a hypercall): each
 * guest gives that as paging_ops, and calls paging_steps_fault() from its #PF handler.
 */
#ifndef PAGING_STEPS_H
#define PAGING_STEPS_H

#include <stdint.h>
#include "paging-report.h"

#define PAGING_DEMAND_BASE   0x40000000u
#define PAGING_DEMAND_PAGES  8192u                        /* 32 MiB */
#define PAGING_DEMAND_TABLES (PAGING_DEMAND_PAGES / 1024u)
#define PAGING_REMAP_PAGE    5u                           /* the demand page change_tables uses */

struct paging_ops {
    /* Whether the directory entry for va names a page table. */
    int (*table_present)(uint32_t va);
    /* A new, empty page table for va's 4 MiB (its directory entry was not present). */
    void (*map_table)(uint32_t va);
    /* The PTE that maps va (its table exists). */
    uint32_t (*pte)(uint32_t va);
    /* A not-present PTE made present: nothing to flush (SDM Vol. 3 §4.10.2.3). */
    void (*fill_pte)(uint32_t va, uint32_t value);
    /* A PTE changed, and that page's translation flushed (INVLPG). */
    void (*set_pte)(uint32_t va, uint32_t value);
    /* A PTE changed, and every translation flushed (a CR3 reload). */
    void (*set_pte_flush_all)(uint32_t va, uint32_t value);
    /* A zeroed, writable frame. */
    uint32_t (*alloc_frame)(void);
};

/* The guest's ops, set before the first step. */
extern const struct paging_ops *paging_ops;

/* From the #PF handler: first paging_steps_slow_spin() (the slow-handler steps compute a while
 * before they read the fault address), then paging_steps_fault() with the fault address and error
 * code: 1 when the fault was the steps' own, handled (retry the access), 0 otherwise. */
void paging_steps_slow_spin(void);
int paging_steps_fault(uint32_t cr2, uint32_t error);

/* Faults at va's page are expected: the handler maps it to frame (writable) and counts them. */
void paging_expect(uint32_t va, uint32_t frame);
/* Stops expecting: the faults taken, and the last one's address and error code. */
void paging_expect_end(uint32_t *faults, uint32_t *cr2, uint32_t *error);

/* The steps, in order; each prints its line and ends the run with FAILED (value 1) if a check fails. */
void paging_touch_all(void);
void paging_read_back(void);
void paging_accessed_dirty(void);
/* Remap a page (INVLPG, then a CR3 reload), then unmap it and take its #PF for a read and a write,
 * with a quick and then a slow handler. */
void paging_change_tables(void);

#endif
