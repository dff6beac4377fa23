/*
 * taskgate - an exception handled by a task (SDM Vol. 3 §6.11, "Task Gate"; §7.3, "Task
 * Switching"): IDT entry 13 is a task gate, so the #GP of loading the bad selector 0x1234 into
 * ES switches to a handler task with its own TSS and stack. The handler task finds the error
 * code on its stack, its TSS's previous-task link naming the main task, and NT set; it moves
 * the main task's saved EIP past the faulting MOV and returns with IRET, which switches back
 * (NT). Twice: the handler task's TSS is free again after each IRET, and the second switch
 * resumes it after its IRET.
 * Then a far JMP through a task gate in the GDT to a third task, which finds no link and the main
 * task no longer busy (a JMP does not nest, §7.3 Table 7-2), and jumps back to the main task's TSS
 * directly; its TSS then holds its EFLAGS with NT clear, and it is no longer busy either.
 * Prints "taskgate ok" and exits with value 0; a failed check prints "FAILED: ..." and exits
 * with value 1.
 */
#include "guest.h"

#define SEL_CODE      0x08
#define SEL_DATA      0x10
#define SEL_MAIN_TSS  0x18
#define SEL_TASK_TSS  0x20
#define SEL_JUMP_GATE 0x28
#define SEL_JUMP_TSS  0x30
#define TSS_BUSY      (2ull << 40)
#define BAD_SELECTOR  0x1234
#define EFLAGS_NT     (1u << 14)

struct tss {
    uint32_t link, esp0, ss0, esp1, ss1, esp2, ss2, cr3, eip, eflags;
    uint32_t eax, ecx, edx, ebx, esp, ebp, esi, edi;
    uint32_t es, cs, ss, ds, fs, gs, ldt, iomap;
};

static struct tss main_tss __attribute__((aligned(16)));
static struct tss task_tss __attribute__((aligned(16)));
static struct tss jump_tss __attribute__((aligned(16)));
static uint8_t task_stack[4096] __attribute__((aligned(16)));
static uint8_t jump_stack[4096] __attribute__((aligned(16)));
static uint64_t gdt[7] __attribute__((aligned(8)));
static uint64_t idt[32] __attribute__((aligned(8)));
static struct { uint16_t limit; uint32_t base; } __attribute__((packed)) gdtr, idtr;

volatile uint32_t faults, error_code, link_seen, nt_seen;
volatile uint32_t jumps, jump_link_seen, main_busy_seen;

static uint64_t segment(uint32_t base, uint32_t limit, uint32_t access, uint32_t flags)
{
    return (uint64_t)(limit & 0xFFFF) | ((uint64_t)(base & 0xFFFFFF) << 16) | ((uint64_t)access << 40) |
           ((uint64_t)((limit >> 16) & 0xF) << 48) | ((uint64_t)flags << 52) | ((uint64_t)(base >> 24) << 56);
}

static void fail(const char *what)
{
    guest_fail(what, 1);
}

/* Runs in the handler task, with the error code already taken off its stack. */
void task_check(uint32_t code)
{
    uint32_t flags;
    __asm__ volatile("pushf; pop %0" : "=r"(flags));
    faults++;
    error_code = code;
    link_seen = task_tss.link;
    nt_seen = flags & EFLAGS_NT;
    main_tss.eip += 2;          /* mov %ax, %es is 8E C0 */
}

/* The handler task: entered by the task switch, left by IRET; the next switch resumes it after
 * its IRET, so it loops. */
void task_entry(void);
__asm__(".globl task_entry\n"
        "task_entry:\n"
        "  call task_check_from_stack\n"
        "  iret\n"
        "  jmp task_entry\n"
        "task_check_from_stack:\n"
        "  pushl 4(%esp)\n"        /* the error code, below the return address */
        "  call task_check\n"
        "  add $4, %esp\n"
        "  ret $4\n");             /* return and drop the error code */

/* The third task, entered by the far JMP through the gate: it records what it finds and jumps
 * back to the main task's TSS; the next JMP to it would resume after that. */
void jump_check(void)
{
    jumps++;
    jump_link_seen = jump_tss.link;
    main_busy_seen = (gdt[SEL_MAIN_TSS / 8] & TSS_BUSY) != 0;
}
void jump_entry(void);
__asm__(".globl jump_entry\n"
        "jump_entry:\n"
        "  call jump_check\n"
        "  ljmp $0x18, $0\n"
        "  jmp jump_entry\n");

/* A task that starts at `entry` on its own stack, with flat ring-0 segments and IF clear. */
static void init_task(struct tss *tss, void (*entry)(void), uint8_t *stack_top)
{
    tss->eip = (uint32_t)entry;
    tss->eflags = 0x2;
    tss->esp = (uint32_t)stack_top;
    tss->cs = SEL_CODE;
    tss->ss = tss->ds = tss->es = tss->fs = tss->gs = SEL_DATA;
    tss->iomap = sizeof *tss;
}

void kmain(uint32_t magic, const struct multiboot_info *mbi)
{
    (void)mbi;
    mb_require_magic(magic);
    uart_init();

    gdt[1] = segment(0, 0xFFFFF, 0x9A, 0xC);
    gdt[2] = segment(0, 0xFFFFF, 0x92, 0xC);
    gdt[3] = segment((uint32_t)&main_tss, sizeof main_tss - 1, 0x89, 0);
    gdt[4] = segment((uint32_t)&task_tss, sizeof task_tss - 1, 0x89, 0);
    /* A present task gate (type 5, DPL 0) in the GDT, naming the third task's TSS. */
    gdt[SEL_JUMP_GATE / 8] = ((uint64_t)SEL_JUMP_TSS << 16) | ((uint64_t)0x85 << 40);
    gdt[SEL_JUMP_TSS / 8] = segment((uint32_t)&jump_tss, sizeof jump_tss - 1, 0x89, 0);
    gdtr.limit = sizeof gdt - 1;
    gdtr.base = (uint32_t)gdt;
    /* IDT entry 13: a present task gate (type 5, DPL 0) naming the handler task's TSS. */
    idt[13] = ((uint64_t)SEL_TASK_TSS << 16) | ((uint64_t)0x85 << 40);
    idtr.limit = sizeof idt - 1;
    idtr.base = (uint32_t)idt;

    init_task(&task_tss, task_entry, task_stack + sizeof task_stack);
    init_task(&jump_tss, jump_entry, jump_stack + sizeof jump_stack);
    main_tss.iomap = sizeof main_tss;

    __asm__ volatile("lgdt %0\n\t"
                     "ljmp $0x08, $1f\n"
                     "1: mov $0x10, %%eax\n\t"
                     "mov %%eax, %%ds\n\t mov %%eax, %%es\n\t mov %%eax, %%ss\n\t"
                     "mov %%eax, %%fs\n\t mov %%eax, %%gs\n\t"
                     "lidt %1\n\t"
                     "ltr %w2"
                     : : "m"(gdtr), "m"(idtr), "r"(SEL_MAIN_TSS) : "eax", "memory");

    for (int round = 1; round <= 2; round++) {
        __asm__ volatile("mov %0, %%ax\n\t"
                         "mov %%ax, %%es\n\t"   /* #GP(0x1234): the handler task runs */
                         "mov $0x10, %%ax\n\t"
                         "mov %%ax, %%es"
                         : : "i"(BAD_SELECTOR) : "eax", "memory");
        if (faults != (uint32_t)round) fail("the #GP did not reach the handler task");
        if (error_code != BAD_SELECTOR) fail("the handler task did not find the error code on its stack");
        if (link_seen != SEL_MAIN_TSS) fail("the handler task's TSS does not link back to the main task");
        if (!nt_seen) fail("NT was clear in the handler task");
    }
    __asm__ volatile("ljmp $0x28, $0" : : : "memory");
    if (jumps != 1) fail("the far JMP through the task gate did not reach the third task");
    if (jump_link_seen != 0) fail("the far JMP linked the third task back (a JMP does not nest)");
    if (jump_tss.eflags & EFLAGS_NT) fail("the third task ran with NT set (a JMP does not nest)");
    if (main_busy_seen) fail("the main task stayed busy after it jumped away");
    if (gdt[SEL_JUMP_TSS / 8] & TSS_BUSY) fail("the third task stayed busy after it jumped back");
    uint32_t tr;
    __asm__ volatile("str %0" : "=r"(tr));
    if (tr != SEL_MAIN_TSS) fail("TR does not name the main task after the IRET");
    put_str("taskgate ok\n");
    guest_exit(0);
}
