/*
 * tables.h - the descriptor tables of the cpufeatures guest: a flat GDT with ring-0 and ring-3
 * segments and a TSS, and an IDT whose exception vectors 0-31 all reach cf_exception(), plus
 * one DPL-3 gate for coming back from ring 3.
 *
 * The guest keeps its own tables rather than the shared ones because one probe runs at ring 3
 * (it needs user segments, a TSS and a gate INT n can use from there), and it never reads the
 * IDT's address back with SIDT: SIDT is not privileged, so under trap-and-emulate it shows the
 * VMM's table rather than the guest's.
 */
#ifndef CPUFEATURES_TABLES_H
#define CPUFEATURES_TABLES_H

#include <stdint.h>

#define SEL_KCODE 0x08
#define SEL_KDATA 0x10
#define SEL_UCODE 0x1B          /* GDT entry 3, RPL 3 */
#define SEL_UDATA 0x23          /* GDT entry 4, RPL 3 */
#define SEL_TSS   0x28

/* What the exception stubs leave on the stack: PUSHA's registers, the vector, an error code
 * (0 where the CPU pushes none), then the CPU's frame (SDM Vol. 3A 6.12.1). */
struct frame {
    uint32_t edi, esi, ebp, esp, ebx, edx, ecx, eax;
    uint32_t vector, error;
    uint32_t eip, cs, eflags;
};

/* Loads the GDT (reloading every segment register), the TSS (ring-0 stack for events from
 * ring 3) and the IDT; INT 0x81 from ring 3 enters `from_user`, which must not return. */
void load_tables(void (*from_user)(void));

/* Defined by the guest: called for every exception; returning retries at f->eip with IRET. */
void cf_exception(struct frame *f);

#endif
