/*
 * cpu-tables.h - a flat GDT and an IDT for exception vectors 0-31, shared by the C guests
 * that take their own exceptions (paging, popf, cpuevents, selfmod, frames, ...), and the
 * paging-control instructions they use.
 *
 * load_descriptors() loads the GDT (0x08: flat 32-bit ring-0 code, 0x10: flat ring-0 data),
 * reloads every segment register with those selectors (the loader's GDT may be gone,
 * Multiboot §3.2) and loads an IDT whose vectors 0-31 are 32-bit ring-0 interrupt gates.
 * Each exception stub pushes an error code (0 for vectors where the CPU pushes none), the
 * vector number and the general registers, then calls exception_dispatch(), which the guest
 * defines; if it returns, the registers are restored and the faulting instruction retried
 * with IRET. Guests that do not call load_descriptors() do not link any of this
 * (--gc-sections drops it), so they need not define exception_dispatch().
 */
#ifndef CPU_TABLES_H
#define CPU_TABLES_H

#include <stdint.h>

/* What the exception stubs leave on the stack (PUSHA order reversed, then the CPU's frame). */
struct frame {
    uint32_t edi, esi, ebp, esp, ebx, edx, ecx, eax;
    uint32_t vector, error;
    uint32_t eip, cs, eflags;
};

void load_descriptors(void);

/* GDT selectors: load_descriptors() makes the first two usable, load_user_segments() the rest. */
#define SEL_KDATA 0x10
#define SEL_UCODE 0x1B          /* entry 3, RPL 3 */
#define SEL_UDATA 0x23          /* entry 4, RPL 3 */
#define SEL_TSS   0x28

/* After load_descriptors(), for a guest with code at ring 3: adds flat ring-3 code and data
 * segments (0x1B, 0x23) and a TSS (0x28, loaded with LTR) whose SS0:ESP0 = 0x10:esp0 is the
 * stack an interrupt or exception from ring 3 switches to (SDM Vol. 3 §6.12.1, §7.2.1). Pages
 * that ring 3 touches must have U/S set in both paging levels (§4.6). */
void load_user_segments(uint32_t esp0);

/* After load_descriptors(): a 32-bit interrupt gate to `handler` (code selector 0x08) with the
 * given DPL (3 lets INT n from ring 3 reach it). The handler is entered with the CPU's frame
 * only: it must end with IRET itself. */
void set_interrupt_gate(uint8_t vector, void (*handler)(void), uint8_t dpl);

/* Prints "FAILED: exception <n> error <e> at eip <p>" (and " cr2 <a>" for #PF), then exits
 * through the debug-exit port with exit_value. */
void fail_on_exception(const struct frame *f, uint8_t exit_value) __attribute__((noreturn));

/* Defined by each guest that calls load_descriptors(). */
void exception_dispatch(struct frame *f);

/* Paging control (SDM Vol. 3 §2.5, §4.10.4): CR2 (the last #PF's address), CR3, INVLPG. */
static inline uint32_t read_cr2(void)
{
    uint32_t v;
    __asm__ volatile("mov %%cr2, %0" : "=r"(v));
    return v;
}

static inline uint32_t read_cr3(void)
{
    uint32_t v;
    __asm__ volatile("mov %%cr3, %0" : "=r"(v) : : "memory");
    return v;
}

static inline void write_cr3(uint32_t v)
{
    __asm__ volatile("mov %0, %%cr3" : : "r"(v) : "memory");
}

static inline void invlpg(uint32_t va)
{
    __asm__ volatile("invlpg (%0)" : : "r"(va) : "memory");
}

#endif
