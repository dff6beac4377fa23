/* tables.c - GDT, TSS and IDT of the cpufeatures guest; see tables.h. */
#include "tables.h"

struct tss {
    uint32_t link, esp0, ss0, esp1, ss1, esp2, ss2, cr3, eip, eflags;
    uint32_t eax, ecx, edx, ebx, esp, ebp, esi, edi;
    uint32_t es, cs, ss, ds, fs, gs, ldt;
    uint16_t trap, iomap;
};

struct gate {
    uint16_t offset_lo, selector;
    uint8_t zero, type;
    uint16_t offset_hi;
} __attribute__((packed));

struct dtr {
    uint16_t limit;
    uint32_t base;
} __attribute__((packed));

static uint64_t gdt[6] __attribute__((aligned(8)));
static struct tss tss __attribute__((aligned(16)));
static struct gate idt[256] __attribute__((aligned(8)));
/* The stack the CPU switches to for an event from ring 3 (SDM Vol. 3A 6.12.1). */
static uint8_t ring0_stack[4096] __attribute__((aligned(16)));

/*
 * Exception stubs. Vectors 8, 10-14, 17, 21, 29 and 30 push an error code (SDM Vol. 3A
 * table 6-1); the others push a 0 in its place so that every frame looks alike.
 */
__asm__(
    ".pushsection .text.cf_isr,\"ax\",@progbits\n"
    ".irp n,0,1,2,3,4,5,6,7,9,15,16,18,19,20,22,23,24,25,26,27,28,31\n"
    "cf_isr\\n: pushl $0\n"
    "    pushl $\\n\n"
    "    jmp cf_isr_common\n"
    ".endr\n"
    ".irp n,8,10,11,12,13,14,17,21,29,30\n"
    "cf_isr\\n: pushl $\\n\n"
    "    jmp cf_isr_common\n"
    ".endr\n"
    "cf_isr_common:\n"
    "    pushal\n"
    "    pushl %esp\n"
    "    call cf_exception\n"
    "    addl $4, %esp\n"
    "    popal\n"
    "    addl $8, %esp\n"               /* vector and error code */
    "    iretl\n"
    ".popsection\n"
    ".pushsection .rodata.cf_isr_table,\"a\",@progbits\n"
    ".balign 4\n"
    "cf_isr_table:\n"
    ".irp n,0,1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16,17,18,19,20,21,22,23,24,25,26,27,28,29,30,31\n"
    "    .long cf_isr\\n\n"
    ".endr\n"
    ".popsection\n");

extern const uint32_t cf_isr_table[32];

static void set_gate(uint8_t vector, uint32_t handler, uint8_t dpl)
{
    idt[vector].offset_lo = (uint16_t)handler;
    idt[vector].selector = SEL_KCODE;
    idt[vector].zero = 0;
    idt[vector].type = (uint8_t)(0x8E | (dpl << 5));   /* present 32-bit interrupt gate */
    idt[vector].offset_hi = (uint16_t)(handler >> 16);
}

void load_tables(void (*from_user)(void))
{
    uint32_t base = (uint32_t)(uintptr_t)&tss;
    gdt[0] = 0;
    gdt[1] = 0x00CF9A000000FFFFull;     /* 0x08: flat 32-bit ring-0 code */
    gdt[2] = 0x00CF92000000FFFFull;     /* 0x10: flat ring-0 data */
    gdt[3] = 0x00CFFA000000FFFFull;     /* 0x18: flat 32-bit ring-3 code */
    gdt[4] = 0x00CFF2000000FFFFull;     /* 0x20: flat ring-3 data */
    gdt[5] = (uint64_t)(sizeof tss - 1) | ((uint64_t)(base & 0xFFFFFF) << 16) |
             (0x89ull << 40) | ((uint64_t)(base >> 24) << 56);     /* 0x28: available 32-bit TSS */
    tss.ss0 = SEL_KDATA;
    tss.esp0 = (uint32_t)(uintptr_t)(ring0_stack + sizeof ring0_stack);
    tss.iomap = sizeof tss;             /* past the limit: no I/O permission bitmap */

    static struct dtr gdtr, idtr;
    gdtr.limit = sizeof gdt - 1;
    gdtr.base = (uint32_t)(uintptr_t)gdt;
    /* The loader's GDT may be gone (Multiboot §3.2): our own selectors from here on. */
    __asm__ volatile("lgdt %0\n\t"
                     "ljmp $0x08, $1f\n"
                     "1:\tmovw $0x10, %%ax\n\t"
                     "movw %%ax, %%ds\n\t"
                     "movw %%ax, %%es\n\t"
                     "movw %%ax, %%fs\n\t"
                     "movw %%ax, %%gs\n\t"
                     "movw %%ax, %%ss\n\t"
                     "movw $0x28, %%ax\n\t"
                     "ltr %%ax"
                     : : "m"(gdtr) : "eax", "memory");

    for (uint32_t v = 0; v < 32; v++)
        set_gate((uint8_t)v, cf_isr_table[v], 0);
    set_gate(0x81, (uint32_t)(uintptr_t)from_user, 3);
    idtr.limit = sizeof idt - 1;
    idtr.base = (uint32_t)(uintptr_t)idt;
    __asm__ volatile("lidt %0" : : "m"(idtr) : "memory");
}
