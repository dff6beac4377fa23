/*
 * pvkernel.h - what the paravirtual kernel's parts share: its exception frame and the services
 * main.c gives the benchmark mode (bench.c).
 */
#ifndef PVKERNEL_H
#define PVKERNEL_H

#include <stdint.h>
#include "pv.h"

#define PG_P 0x001u
#define PG_W 0x002u
#define PG_U 0x004u
#define PAGE 4096u
#define SEL_KCODE 0x08

/* The exception frame of pvstubs.asm; from ring 3 the delivery also pushed ESP and SS. */
struct pv_frame {
    uint32_t edi, esi, ebp, esp, ebx, edx, ecx, eax;
    uint32_t vector, error;
    uint32_t eip, cs, eflags;
    uint32_t user_esp, user_ss;
};

extern struct shared_info *const shared_info;
/* Consulted first by every exception: nonzero when it handled it. */
extern int (*exception_hook)(struct pv_frame *f);
/* Timer events taken so far (the event callback counts them). */
extern volatile uint32_t timer_events;

uint32_t kernel_directory(void);
uint32_t user_stack_top(void);
int32_t mmu_try(uint32_t entry, uint32_t value);
void mmu(uint32_t entry, uint32_t value);          /* FAILED and exit on a refusal */
void map_page(uint32_t va, uint32_t entry);         /* update_va_mapping; FAILED and exit on a refusal */
void flush_page(uint32_t va);
void load_base(uint32_t pd);                        /* FAILED and exit on a refusal */
uint64_t now_ns(void);
void set_timer(uint64_t deadline);
uint32_t alloc_frame(void);                         /* zeroed, writable */
uint32_t alloc_table(void);                         /* zeroed, read-only: ready to be a table */
void make_read_only(uint32_t pa);
uint32_t pte_address(uint32_t pd, uint32_t va);

/* bench.c: the nanobenchmarks under the ABI (bench=1 on the command line). */
void pv_bench(const char *cmdline) __attribute__((noreturn));

#endif
