/*
 * eventwindows - where a waiting interrupt or NMI is taken, one line each:
 *   a. STI's shadow: with IRQ 0 waiting in the 8259A's IRR and IF = 0 (one edge from the 8254 in
 *      mode 0, so that exactly one waits), `sti; nop; cli` takes it
 *      after the NOP and before the CLI (SDM Vol. 3 §6.8.3: STI holds interrupts off for one
 *      instruction), 20 times; the handler sees the CLI's address in its frame;
 *   b. POPF: the same with `popf` (IF set in the popped flags) then `cli`: taken right after the
 *      POPF, which has no shadow, 20 times;
 *   c. NMI blocking: the NMI handler sends a second NMI to itself through the local APIC's ICR;
 *      it waits until the handler's IRET (§6.7.1: NMIs are blocked from the delivery of one
 *      until the next IRET) and is taken right after it, at the first NMI's return address.
 * Prints "eventwindows ok" and exits with value 0; a failed check prints "FAILED: ..." and
 * exits with value 1; an unexpected exception exits with value 2.
 */
#include "guest.h"
#include "cpu-tables.h"
#include "pc-timer.h"

#define WINDOWS 20u
#define SPIN_LIMIT 100000000u

#define APIC_SVR     0xFEE000F0u
#define APIC_ICR_LOW 0xFEE00300u
#define APIC_ICR_HI  0xFEE00310u
#define ICR_NMI      0x00000400u  /* delivery mode NMI */
#define ICR_ASSERT   0x00004000u

static volatile uint32_t ticks, tick_eip;
static volatile uint32_t nmis, first_nmi_eip, first_nmi_done, second_saw_done, second_nmi_eip;

extern char sti_window_site[], popf_window_site[];

static void fail(const char *what)
{
    guest_fail(what, 1);
}

void exception_dispatch(struct frame *f)
{
    fail_on_exception(f, 2);
}

void timer_entry(void);
void nmi_entry(void);
__asm__(".text\n"
        "timer_entry:\n"
        "    pushl %eax\n"
        "    movl 4(%esp), %eax\n"          /* the frame's EIP: where the interrupt was taken */
        "    movl %eax, tick_eip\n"
        "    incl ticks\n"
        "    movb $0x20, %al\n"             /* non-specific EOI (8259A OCW2) */
        "    outb %al, $0x20\n"
        "    popl %eax\n"
        "    iretl\n"
        "nmi_entry:\n"
        "    pushl %eax\n"
        "    pushl %ecx\n"
        "    incl nmis\n"
        "    movl 8(%esp), %eax\n"          /* the frame's EIP */
        "    cmpl $1, nmis\n"
        "    jne 2f\n"
        "    movl %eax, first_nmi_eip\n"
        "    movl $0, 0xFEE00310\n"        /* ICR high: destination APIC 0 (this one) */
        "    movl $0x4400, 0xFEE00300\n"    /* ICR low: NMI, assert */
        "    movl $200, %ecx\n"             /* time for it to arrive, were it not blocked */
        "1:  outb %al, $0x80\n"
        "    loop 1b\n"
        "    movl $1, first_nmi_done\n"
        "    popl %ecx\n"
        "    popl %eax\n"
        "    iretl\n"
        "2:  movl %eax, second_nmi_eip\n"
        "    movl first_nmi_done, %eax\n"
        "    movl %eax, second_saw_done\n"
        "    popl %ecx\n"
        "    popl %eax\n"
        "    iretl\n");

static int irq0_waiting(void)
{
    outb(0x20, 0x0A);               /* OCW3: read the IRR */
    return inb(0x20) & 1;
}

static void wait_for_irq0(void)
{
    timer_one_shot_us(1000);
    for (uint32_t spin = 0; !irq0_waiting(); spin++) {
        if (spin == SPIN_LIMIT)
            fail("IRQ 0 never became pending");
    }
}

/* The two windows, each a function of its own so that its CLI has one address. */
void sti_window(void);
void popf_window(void);
__asm__(".text\n"
        "sti_window:\n"
        "    sti\n"
        "    nop\n"
        "sti_window_site:\n"
        "    cli\n"
        "    ret\n"
        "popf_window:\n"
        "    pushl $0x202\n"               /* IF set */
        "    popfl\n"
        "popf_window_site:\n"
        "    cli\n"
        "    ret\n");

/* Opens `window` WINDOWS times with IRQ 0 waiting and prints "<name>: <n> of WINDOWS<taken>";
 * fails with `failure` unless each time exactly one interrupt was taken, at `site` (the CLI). */
static void check_window(void (*window)(void), const char *site, const char *name, const char *taken_where,
                         const char *failure)
{
    uint32_t taken = 0;
    for (uint32_t i = 0; i < WINDOWS; i++) {
        uint32_t before = ticks;
        wait_for_irq0();
        window();
        if (ticks == before + 1 && tick_eip == (uint32_t)(uintptr_t)site)
            taken++;
    }
    put_str(name);
    put_str(": ");
    put_dec(taken);
    put_str(" of ");
    put_dec(WINDOWS);
    put_str(taken_where);
    put_char('\n');
    if (taken != WINDOWS)
        fail(failure);
}

static void check_nmi_blocking(void)
{
    *(volatile uint32_t *)APIC_SVR = 0x1FF;  /* software-enabled, spurious vector 0xFF */
    set_interrupt_gate(2, nmi_entry, 0);
    *(volatile uint32_t *)APIC_ICR_HI = 0;
    *(volatile uint32_t *)APIC_ICR_LOW = ICR_NMI | ICR_ASSERT;
    for (uint32_t spin = 0; nmis < 2 && spin < SPIN_LIMIT; spin++)
        __asm__ volatile("" : : : "memory");
    put_str("nmi: ");
    put_dec(nmis);
    put_str(" delivered; the second ");
    put_str(second_saw_done ? "after" : "before");
    put_str(" the first handler's IRET, ");
    put_str(second_nmi_eip == first_nmi_eip ? "at" : "not at");
    put_str(" its return address\n");
    if (nmis != 2 || !second_saw_done || second_nmi_eip != first_nmi_eip)
        fail("a second NMI was not held until the first handler's IRET");
}

void kmain(uint32_t magic, const struct multiboot_info *mbi)
{
    (void)mbi;
    uart_init();
    mb_require_magic(magic);
    load_descriptors();
    set_interrupt_gate(0x20, timer_entry, 0);
    route_irq0_only();
    check_window(sti_window, sti_window_site, "sti; nop; cli",
                 " interrupts taken after the instruction in STI's shadow",
                 "an interrupt waiting for STI was not taken in its window");
    check_window(popf_window, popf_window_site, "popf; cli", " interrupts taken right after POPF",
                 "an interrupt waiting for POPF was not taken right after it");
    outb(0x21, 0xFF);               /* the timer's part is over */
    check_nmi_blocking();
    put_str("eventwindows ok\n");
    guest_exit(0);
}
