/*
 * segments - flat 32-bit code with segments that are not flat, as boot loaders and firmware
 * calls use them (syslinux's shuffler, Linux's PnP BIOS calls): what a binary translator that
 * assumes flat segments must still run right.
 *
 *   a. a 16-bit stack segment (B clear) under flat 32-bit code: PUSH, CALL and RET use SP alone
 *      (SDM Vol. 1 §6.2.3), so near calls, an indirect call and their returns go through SS:SP
 *      while ESP's high half holds something else, and stays as it was;
 *   b. a far CALL (CALL ptr16:32) into a 32-bit code segment whose base is not 0, back by a far
 *      RET: the callee runs at offset 0 of its segment;
 *   c. a far CALL through a pointer (CALL m16:32) into the flat code segment itself, back by a
 *      far RET;
 *   d. PUSH SS then POP SS: the selector comes back as it went (a translator that shows the
 *      kernel its own RPL 0 in what PUSH SS pushes must let POP SS load it).
 *
 * Prints one line per check, then "segments ok" and exits with value 0; a wrong result prints
 * "FAILED: ..." and exits with value 1; an exception exits with value 2.
 */
#include "guest.h"
#include "cpu-tables.h"

#define SEL_STACK16 0x18
#define SEL_BASED_CODE 0x20

/* The GDT of cpu-tables (0x08 flat code, 0x10 flat data), then a 16-bit data segment over the
 * first 64 KiB and a 32-bit code segment at based_code (its base filled in at run time). */
static uint64_t gdt[5] __attribute__((aligned(8))) = {
    0,
    0x00cf9a000000ffffull,
    0x00cf92000000ffffull,
    0x000092000000ffffull,
    0,
};
static struct {
    uint16_t limit;
    uint32_t base;
} __attribute__((packed)) gdtr;

volatile uint32_t saved_esp, esp_on_16bit_stack;
struct {
    uint32_t offset;
    uint16_t selector;
} __attribute__((packed)) far_pointer;

void exception_dispatch(struct frame *f)
{
    fail_on_exception(f, 2);
}

/* Near routines for a, the based segment's code for b (it starts at offset 0 of its segment),
 * the flat segment's far routine for c. */
void near_first(void);
void near_second(void);
void based_code(void);
void flat_far_routine(void);
__asm__(".text\n"
        "near_first:\n"
        "    movl $0x1111, %eax\n"
        "    ret\n"
        "near_second:\n"
        "    addl $0x2222, %eax\n"
        "    ret\n"
        "based_code:\n"
        "    movl $0x3333, %eax\n"
        "    lret\n"
        "flat_far_routine:\n"
        "    movl $0x4444, %eax\n"
        "    lret\n");

static uint64_t code_descriptor(uint32_t base, uint32_t limit)
{
    /* Present, DPL 0, execute/read code, 32-bit (D set), byte-granular limit. */
    return (uint64_t)(limit & 0xFFFF) | ((uint64_t)(base & 0xFFFFFF) << 16) | (0x9Aull << 40) |
           ((uint64_t)((limit >> 16) & 0xF) << 48) | (0x4ull << 52) | ((uint64_t)(base >> 24) << 56);
}

static void fail(const char *what)
{
    guest_fail(what, 1);
}

static void check_16bit_stack(void)
{
    uint32_t result;
    __asm__ volatile("movl %%esp, saved_esp\n\t"
                     "movw %[stack16], %%ax\n\t"
                     "movw %%ax, %%ss\n\t"
                     "movl $0x5a5a8000, %%esp\n\t"   /* SP 0x8000: the stack is at 0x7ffc down */
                     "call near_first\n\t"
                     "movl $near_second, %%ecx\n\t"
                     "call *%%ecx\n\t"
                     "pushl %%eax\n\t"
                     "popl %%edx\n\t"
                     "movl %%esp, esp_on_16bit_stack\n\t"
                     "movw %[flat], %%cx\n\t"
                     "movw %%cx, %%ss\n\t"
                     "movl saved_esp, %%esp"
                     : "=a"(result)
                     : [stack16] "i"(SEL_STACK16), [flat] "i"(SEL_KDATA)
                     : "ecx", "edx", "memory", "cc");
    put_str("segments: 16-bit stack: near calls returned ");
    put_hex32(result);
    put_str(", esp ");
    put_hex32(esp_on_16bit_stack);
    put_char('\n');
    if (result != 0x3333)
        fail("near calls on a 16-bit stack");
    if (esp_on_16bit_stack != 0x5a5a8000u)
        fail("the stack pointer's high half changed on a 16-bit stack");
}

static void check_far_calls(void)
{
    uint32_t based, flat;
    __asm__ volatile("lcall %[based], $0" : "=a"(based) : [based] "i"(SEL_BASED_CODE) : "memory", "cc");
    far_pointer.offset = (uint32_t)(uintptr_t)flat_far_routine;
    far_pointer.selector = 0x08;
    __asm__ volatile("lcall *far_pointer" : "=a"(flat) : : "memory", "cc");
    put_str("segments: far call into a based code segment returned ");
    put_hex32(based);
    put_str(", through a pointer into the flat one ");
    put_hex32(flat);
    put_char('\n');
    if (based != 0x3333 || flat != 0x4444)
        fail("far calls");
}

static void check_pop_ss(void)
{
    uint32_t pushed, after;
    __asm__ volatile("pushl %%ss\n\t"
                     "movl (%%esp), %0\n\t"
                     "popl %%ss\n\t"
                     "pushl $0x5eed\n\t"
                     "popl %1"
                     : "=&r"(pushed), "=&r"(after)
                     :
                     : "memory");
    /* (Under trap-and-emulate PUSH SS shows ring 1 in the RPL: only the index is checked.) */
    put_str("segments: push ss, pop ss: the stack goes on: ");
    put_hex32(after);
    put_char('\n');
    if ((pushed & 0xFFF8) != SEL_KDATA)
        fail("push ss pushed another selector");
    if (after != 0x5eed)
        fail("the stack after pop ss");
}

void kmain(uint32_t magic, const struct multiboot_info *mbi)
{
    (void)mbi;
    uart_init();
    mb_require_magic(magic);
    load_descriptors();
    gdt[4] = code_descriptor((uint32_t)(uintptr_t)based_code, 0xFFF);
    gdtr.limit = sizeof gdt - 1;
    gdtr.base = (uint32_t)(uintptr_t)gdt;
    __asm__ volatile("lgdt %0" : : "m"(gdtr) : "memory");
    check_16bit_stack();
    check_far_calls();
    check_pop_ss();
    put_str("segments ok\n");
    guest_exit(0);
}
