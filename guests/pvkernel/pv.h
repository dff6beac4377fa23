/*
 * pv.h - the guest's side of vmm's paravirtual ABI (docs/paravirt-abi.md; the VMM's side is
 * src/engines/paravirt/abi.ts). Hypercall n is entered by calling hypercall_page + 32 * n, which
 * the VMM filled before the kernel's first instruction (the ELF note in pvstubs.asm names the
 * page). Arguments go in EBX, ECX; the result comes back in EAX (negative: -errno).
 */
#ifndef PV_H
#define PV_H

#include <stdint.h>

enum hypercall {
    HC_CONSOLE_WRITE = 0,
    HC_SET_TRAP_TABLE = 1,
    HC_IRET = 2,
    HC_STACK_SWITCH = 3,
    HC_MMU_UPDATE = 4,
    HC_NEW_BASEPTR = 5,
    HC_TLB_FLUSH = 6,
    HC_SET_TIMER = 7,
    HC_BLOCK = 8,
    HC_YIELD = 9,
    HC_SHUTDOWN = 10,
    HC_SET_GDT = 11,
    HC_REGISTER_SHARED_INFO = 12,
    HC_SET_CALLBACK = 13,
    HC_UPDATE_VA_MAPPING = 14,
    HC_SET_PERIODIC_TIMER = 15,
};

#define PV_EPERM  1
#define PV_EFAULT 14
#define PV_EINVAL 22
#define PV_ENOSYS 38

#define TLB_FLUSH_ALL  0
#define TLB_FLUSH_PAGE 1

#define UVMF_INVLPG    1                /* update_va_mapping: the page's translation goes (always) */
#define UVMF_TLB_FLUSH 2                /* ... and every other one */

#define EVENT_PORT_TIMER 0

struct shared_info {
    volatile uint8_t upcall_pending;   /* set by the VMM: an unmasked event waits */
    volatile uint8_t upcall_mask;      /* set by the kernel to hold events back */
    uint8_t pad[2];
    volatile uint32_t pending_ports;   /* one bit per port that fired */
    volatile uint32_t masked_ports;
    volatile uint32_t fault_address;   /* CR2 of the last #PF delivered */
    volatile uint64_t system_time_ns;  /* the VMM's clock, at the last entry into the kernel */
};

struct trap_info {
    uint8_t vector;
    uint8_t flags;                     /* bits 0-1: the DPL for INT n */
    uint16_t cs;
    uint32_t address;                  /* 0 ends the table */
};

struct mmu_update {
    uint32_t ptr;                      /* guest-physical address of the entry */
    uint32_t val;
};

extern char hypercall_page[];
/* The iret hypercall's stub: jumped to with the frame (EIP, CS, EFLAGS[, ESP, SS]) at ESP. */
#define IRET_STUB "hypercall_page + 64"

static inline int32_t hypercall2(uint32_t nr, uint32_t a, uint32_t b)
{
    int32_t result;
    __asm__ volatile("call *%[stub]"
                     : "=a"(result)
                     : [stub] "r"(hypercall_page + nr * 32), "b"(a), "c"(b)
                     : "memory");
    return result;
}

static inline int32_t hypercall3(uint32_t nr, uint32_t a, uint32_t b, uint32_t c)
{
    int32_t result;
    __asm__ volatile("call *%[stub]"
                     : "=a"(result)
                     : [stub] "r"(hypercall_page + nr * 32), "b"(a), "c"(b), "d"(c)
                     : "memory");
    return result;
}

static inline int32_t hypercall1(uint32_t nr, uint32_t a) { return hypercall2(nr, a, 0); }
static inline int32_t hypercall0(uint32_t nr) { return hypercall2(nr, 0, 0); }

#endif
