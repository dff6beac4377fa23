/* cpu-tables.c - flat GDT, exception IDT and stubs; see cpu-tables.h. */
#include "cpu-tables.h"
#include "guest.h"

/* Entries 3-5 lie past the limit load_descriptors() gives: only load_user_segments() adds them. */
#define KERNEL_GDT_ENTRIES 3

static uint64_t gdt[6] __attribute__((aligned(8))) = {
    0,
    0x00CF9A000000FFFFull,      /* 0x08: flat 32-bit ring-0 code */
    0x00CF92000000FFFFull,      /* 0x10: flat ring-0 data */
    0x00CFFA000000FFFFull,      /* 0x18: flat 32-bit ring-3 code */
    0x00CFF2000000FFFFull,      /* 0x20: flat ring-3 data */
    0,                          /* 0x28: the TSS, filled in by load_user_segments() */
};

/* 32-bit TSS (SDM Vol. 3 §7.2.1): only SS0:ESP0 and the I/O map base are used. */
static struct tss {
    uint32_t link, esp0, ss0, esp1, ss1, esp2, ss2, cr3, eip, eflags;
    uint32_t eax, ecx, edx, ebx, esp, ebp, esi, edi;
    uint32_t es, cs, ss, ds, fs, gs, ldt;
    uint16_t trap, iomap;
} tss __attribute__((aligned(16)));

struct gate {
    uint16_t offset_lo, selector;
    uint8_t zero, type;
    uint16_t offset_hi;
} __attribute__((packed));

static struct gate idt[256] __attribute__((aligned(8)));

struct dtr {
    uint16_t limit;
    uint32_t base;
} __attribute__((packed));

static struct dtr gdtr, idtr;

/*
 * Exception stubs: vectors that do not push an error code push a 0 so that every frame
 * looks alike (SDM Vol. 3 Table 6-1 lists 8, 10-14, 17, 21, 29 and 30 as pushing one).
 * Only isr_table refers to them, and only load_descriptors() to isr_table, so all of it
 * goes with load_descriptors() under --gc-sections.
 */
__asm__(
    ".section .text.isr,\"ax\",@progbits\n"
    ".irp n,0,1,2,3,4,5,6,7,9,15,16,18,19,20,22,23,24,25,26,27,28,31\n"
    "isr\\n: pushl $0\n"
    "    pushl $\\n\n"
    "    jmp isr_common\n"
    ".endr\n"
    ".irp n,8,10,11,12,13,14,17,21,29,30\n"
    "isr\\n: pushl $\\n\n"
    "    jmp isr_common\n"
    ".endr\n"
    "isr_common:\n"
    "    pushal\n"
    "    pushl %esp\n"
    "    call exception_dispatch\n"
    "    addl $4, %esp\n"
    "    popal\n"
    "    addl $8, %esp\n"               /* vector and error code */
    "    iretl\n"
    ".section .rodata.isr_table,\"a\",@progbits\n"
    ".balign 4\n"
    "isr_table:\n"
    ".irp n,0,1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16,17,18,19,20,21,22,23,24,25,26,27,28,29,30,31\n"
    "    .long isr\\n\n"
    ".endr\n"
    ".previous\n");

extern const uint32_t isr_table[32];

void load_descriptors(void)
{
    gdtr.limit = KERNEL_GDT_ENTRIES * sizeof gdt[0] - 1;
    gdtr.base = (uint32_t)(uintptr_t)gdt;
    /* The loader's GDT may be gone (Multiboot §3.2): use our own selectors from here on. */
    __asm__ volatile("lgdt %0\n\t"
                     "ljmp $0x08, $1f\n"
                     "1:\tmovw $0x10, %%ax\n\t"
                     "movw %%ax, %%ds\n\t"
                     "movw %%ax, %%es\n\t"
                     "movw %%ax, %%fs\n\t"
                     "movw %%ax, %%gs\n\t"
                     "movw %%ax, %%ss"
                     : : "m"(gdtr) : "eax", "memory");

    for (uint32_t v = 0; v < 32; v++) {
        idt[v].offset_lo = (uint16_t)isr_table[v];
        idt[v].selector = 0x08;
        idt[v].zero = 0;
        idt[v].type = 0x8E;     /* present, DPL 0, 32-bit interrupt gate */
        idt[v].offset_hi = (uint16_t)(isr_table[v] >> 16);
    }
    idtr.limit = sizeof idt - 1;
    idtr.base = (uint32_t)(uintptr_t)idt;
    __asm__ volatile("lidt %0" : : "m"(idtr) : "memory");
}

void load_user_segments(uint32_t esp0)
{
    uint32_t base = (uint32_t)(uintptr_t)&tss;
    gdt[5] = (uint64_t)(sizeof tss - 1) | ((uint64_t)(base & 0xFFFFFF) << 16) |
             (0x89ull << 40) | ((uint64_t)(base >> 24) << 56);     /* available 32-bit TSS */
    tss.ss0 = SEL_KDATA;
    tss.esp0 = esp0;
    tss.iomap = sizeof tss;     /* past the limit: no I/O permission bitmap */
    gdtr.limit = sizeof gdt - 1;
    __asm__ volatile("lgdt %0\n\t"
                     "ltr %w1"
                     : : "m"(gdtr), "r"(SEL_TSS) : "memory");
}

void set_interrupt_gate(uint8_t vector, void (*handler)(void), uint8_t dpl)
{
    uint32_t offset = (uint32_t)(uintptr_t)handler;
    idt[vector].offset_lo = (uint16_t)offset;
    idt[vector].selector = 0x08;
    idt[vector].zero = 0;
    idt[vector].type = (uint8_t)(0x8E | ((dpl & 3) << 5));
    idt[vector].offset_hi = (uint16_t)(offset >> 16);
}

void fail_on_exception(const struct frame *f, uint8_t exit_value)
{
    put_str("FAILED: exception ");
    put_dec(f->vector);
    put_str(" error ");
    put_hex32(f->error);
    put_str(" at eip ");
    put_hex32(f->eip);
    if (f->vector == 14) {
        uint32_t cr2;
        __asm__ volatile("mov %%cr2, %0" : "=r"(cr2));
        put_str(" cr2 ");
        put_hex32(cr2);
    }
    put_char('\n');
    guest_exit(exit_value);
}
