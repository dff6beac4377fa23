/*
 * popf - the classic hole in x86 virtualisation (Robin & Irvine, USENIX Security 2000):
 * POPF is not privileged. At CPL 0 it loads EFLAGS.IF from the stack; at CPL > IOPL it leaves
 * IF alone without faulting (SDM Vol. 2B, POPF), so a deprivileged guest kernel cannot be
 * trapped when it tries to disable interrupts this way. CLI, by contrast, faults there.
 *
 * With its own GDT and IDT (every exception is reported and ends the run) and both 8259As
 * masked (OCW1 0xFF on ports 0x21 and 0xA1) so that nothing actually arrives, the guest
 * executes STI, then
 *     pushf ; pop eax ; and eax, ~0x200 ; push eax ; popf      (the POPF is at popf_site)
 * and reads EFLAGS back with PUSHF: at ring 0 it prints "popf cleared IF", otherwise
 * "popf left IF set". Then CLI and "cli cleared IF", and the RPL of CS as read with
 * "mov ax, cs" ("cs rpl 0" at ring 0). Exit value 0; 1 if STI or CLI did not do their job,
 * 2 for an unexpected exception.
 */
#include "guest.h"

#define EFLAGS_IF 0x200u

static const uint64_t gdt[3] = {
    0,
    0x00CF9A000000FFFFull,      /* 0x08: flat 32-bit ring-0 code */
    0x00CF92000000FFFFull,      /* 0x10: flat ring-0 data */
};

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

struct frame {
    uint32_t edi, esi, ebp, esp, ebx, edx, ecx, eax;
    uint32_t vector, error;
    uint32_t eip, cs, eflags;
};

void exception_dispatch(struct frame *f);

/* Exception stubs; vectors without a CPU error code push a 0 (SDM Vol. 3 Table 6-1). */
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
    "    call exception_dispatch\n"     /* does not return */
    ".section .rodata.isr_table,\"a\",@progbits\n"
    ".balign 4\n"
    "isr_table:\n"
    ".irp n,0,1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16,17,18,19,20,21,22,23,24,25,26,27,28,29,30,31\n"
    "    .long isr\\n\n"
    ".endr\n"
    ".previous\n");

extern const uint32_t isr_table[32];

void exception_dispatch(struct frame *f)
{
    put_str("FAILED: exception ");
    put_dec(f->vector);
    put_str(" error ");
    put_hex32(f->error);
    put_str(" at eip ");
    put_hex32(f->eip);
    put_char('\n');
    guest_exit(2);
}

static void load_descriptors(void)
{
    static struct dtr gdtr, idtr;
    gdtr.limit = sizeof gdt - 1;
    gdtr.base = (uint32_t)(uintptr_t)gdt;
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

static inline uint32_t read_eflags(void)
{
    uint32_t v;
    __asm__ volatile("pushfl\n\tpopl %0" : "=r"(v) : : "memory");
    return v;
}

/*
 * STI, then the POPF attempt to clear IF. One asm statement so that nothing comes between
 * them; noinline so that the global label popf_site exists exactly once.
 */
static __attribute__((noinline)) void sti_then_popf(uint32_t *after_sti, uint32_t *after_popf)
{
    uint32_t a, b;
    __asm__ volatile("sti\n\t"
                     "pushfl\n\t"
                     "popl %%eax\n\t"
                     "movl %%eax, %0\n\t"
                     "andl $~0x200, %%eax\n\t"
                     "pushl %%eax\n\t"
                     ".globl popf_site\n\t"
                     ".type popf_site, @function\n"
                     "popf_site:\n\t"
                     "popfl\n\t"
                     "pushfl\n\t"
                     "popl %%eax"
                     : "=&r"(a), "=&a"(b) : : "memory", "cc");
    *after_sti = a;
    *after_popf = b;
}

void kmain(uint32_t magic, const struct multiboot_info *mbi)
{
    (void)mbi;
    uart_init();
    mb_require_magic(magic);
    load_descriptors();

    /* OCW1: mask every IRQ line on both 8259As, so STI lets nothing in. */
    outb(0x21, 0xFF);
    outb(0xA1, 0xFF);

    uint32_t after_sti, after_popf;
    sti_then_popf(&after_sti, &after_popf);
    if (!(after_sti & EFLAGS_IF)) {
        __asm__ volatile("cli");
        put_str("FAILED: sti left IF clear\n");
        guest_exit(1);
    }
    put_str(after_popf & EFLAGS_IF ? "popf left IF set\n" : "popf cleared IF\n");

    __asm__ volatile("cli" : : : "memory");
    if (read_eflags() & EFLAGS_IF) {
        put_str("FAILED: cli left IF set\n");
        guest_exit(1);
    }
    put_str("cli cleared IF\n");

    uint16_t cs;
    __asm__ volatile("movw %%cs, %0" : "=r"(cs));
    put_str("cs rpl ");
    put_dec(cs & 3u);
    put_char('\n');
    guest_exit(0);
}
