/*
 * ticks - a periodic timer at 250 Hz (Linux's HZ) while the guest spins with interrupts enabled,
 * as Linux's check_timer does (arch/x86/kernel/apic/io_apic.c, timer_irq_works): every period
 * that passes must come as an interrupt, even when the host does not run the VMM for a while
 * (a busy machine; the test stops the process for a moment).
 *
 * source=pit (the default): the 8254's counter 0 as a rate generator, IRQ 0 through the 8259
 * at vector 0x20. source=hpet: HPET timer 0, periodic and 32-bit in legacy replacement mode as
 * Linux programs it (arch/x86/kernel/hpet.c), IRQ 0 through I/O APIC pin 2 and the local APIC
 * at vector 0x30, the 8259 masked. Time is the HPET's main counter (100 MHz here, as the
 * capabilities register says): the spin lasts ms=N milliseconds of it (default 2000).
 *
 * Prints "ticks: <source> spinning" as the spin begins, then "ticks: <n> of <expected>", where
 * expected is the number of whole periods the counter saw pass from the first tick, and "ticks
 * ok" when n is at most 2 more and at most a twentieth (2 at least) fewer; otherwise "FAILED:
 * ..." and exit value 1 (2 for an exception).
 */
#include "guest.h"
#include "cpu-tables.h"
#include "pc-timer.h"

#define HZ 250u
#define HPET_BASE 0xFED00000u
#define HPET_CAPABILITIES 0x000u
#define HPET_CONFIG       0x010u
#define HPET_COUNTER      0x0F0u
#define HPET_T0_CONFIG    0x100u
#define HPET_T0_COMPARATOR 0x108u
#define HPET_ENABLE       (1u << 0)
#define HPET_LEGACY       (1u << 1)
/* Timer configuration (IA-PC HPET specification 1.0a §2.3.8): interrupt enable, periodic,
 * value set, 32-bit mode: Linux's hpet_set_periodic. */
#define HPET_TN_PERIODIC_32 ((1u << 2) | (1u << 3) | (1u << 6) | (1u << 8))

#define IOAPIC_BASE 0xFEC00000u
#define IOAPIC_REDIRECTION 0x10u
#define IRQ0_PIN 2u

#define APIC_BASE 0xFEE00000u
#define APIC_EOI  0x0B0u
#define APIC_SVR  0x0F0u

#define PIT_VECTOR  0x20u
#define HPET_VECTOR 0x30u
/* The 8254's divisor for 250 Hz is 4773 (1193182 / 250, rounded), one period in counts of a
 * 100 MHz HPET: 4773 * 10^8 / 1193182, rounded. */
#define PIT_PERIOD_HPET_COUNTS 400023u

volatile uint32_t ticks;

static inline uint32_t mmio_read(uint32_t address)
{
    return *(volatile uint32_t *)address;
}

static inline void mmio_write(uint32_t address, uint32_t value)
{
    *(volatile uint32_t *)address = value;
}

void exception_dispatch(struct frame *f)
{
    fail_on_exception(f, 2);
}

void pit_tick_entry(void);
void hpet_tick_entry(void);
__asm__(".text\n"
        "pit_tick_entry:\n"
        "    pushl %eax\n"
        "    incl ticks\n"
        "    movb $0x20, %al\n"             /* non-specific EOI (8259A OCW2) */
        "    outb %al, $0x20\n"
        "    popl %eax\n"
        "    iretl\n"
        "hpet_tick_entry:\n"
        "    incl ticks\n"
        "    movl $0, 0xFEE000B0\n"         /* local APIC EOI */
        "    iretl\n");

static void ioapic_write(uint32_t reg, uint32_t value)
{
    mmio_write(IOAPIC_BASE, reg);
    mmio_write(IOAPIC_BASE + 0x10, value);
}

static uint32_t start_hpet_periodic(void)
{
    /* One period in counts, in 32-bit arithmetic: ns per period over ns per count. */
    uint32_t period_fs = mmio_read(HPET_BASE + HPET_CAPABILITIES + 4);
    uint32_t counts = (1000000000u / HZ) / (period_fs / 1000000u);
    /* The 8259 pair remapped away from the exception vectors, then masked: IRQ 0 comes through
     * the I/O APIC only. */
    route_irq0_only();
    outb(0x21, 0xFF);
    mmio_write(APIC_BASE + APIC_SVR, 0x1FF);
    ioapic_write(IOAPIC_REDIRECTION + 2 * IRQ0_PIN + 1, 0);           /* destination APIC 0 */
    ioapic_write(IOAPIC_REDIRECTION + 2 * IRQ0_PIN, HPET_VECTOR);     /* fixed, edge, unmasked */
    /* hpet_set_periodic: stop the counter, zero it, program timer 0, start it with legacy routing. */
    mmio_write(HPET_BASE + HPET_CONFIG, 0);
    mmio_write(HPET_BASE + HPET_COUNTER, 0);
    mmio_write(HPET_BASE + HPET_COUNTER + 4, 0);
    mmio_write(HPET_BASE + HPET_T0_CONFIG, HPET_TN_PERIODIC_32);
    mmio_write(HPET_BASE + HPET_T0_COMPARATOR, counts);
    mmio_write(HPET_BASE + HPET_T0_COMPARATOR, counts);
    mmio_write(HPET_BASE + HPET_CONFIG, HPET_ENABLE | HPET_LEGACY);
    return counts;
}

static void fail(const char *what)
{
    guest_fail(what, 1);
}

void kmain(uint32_t magic, const struct multiboot_info *mbi)
{
    uart_init();
    mb_require_magic(magic);
    load_descriptors();
    const char *cmdline = mb_cmdline(mbi);
    uint32_t ms = 2000;
    cmdline_u32(cmdline, "ms", &ms);
    if (ms == 0 || ms > 20000)
        fail("ms must be 1 to 20000");
    const char *source;
    uint32_t length;
    int hpet = cmdline_word(cmdline, "source", &source, &length) && length == 4 && source[0] == 'h';
    if (mmio_read(HPET_BASE + HPET_CAPABILITIES + 4) != 10000000u)
        fail("the HPET's counter does not run at 100 MHz");

    uint32_t period;
    if (hpet) {
        set_interrupt_gate(HPET_VECTOR, hpet_tick_entry, 0);
        period = start_hpet_periodic();
        put_str("ticks: hpet spinning\n");
    } else {
        /* The HPET's counter as the clock, its timers off: the PIT keeps IRQ 0. */
        mmio_write(HPET_BASE + HPET_CONFIG, HPET_ENABLE);
        set_interrupt_gate(PIT_VECTOR, pit_tick_entry, 0);
        start_timer_hz(HZ);
        period = PIT_PERIOD_HPET_COUNTS;
        put_str("ticks: pit spinning\n");
    }

    /* Linux's delay_with_tsc: PAUSE and read the clock, interrupts enabled. */
    /* The window opens at a tick (one raised while the line was printed is taken first): it
     * then holds `expected` or `expected + 1` ticks. */
    uint32_t span = ms * 100000u, start, elapsed;
    ticks = 0;
    __asm__ volatile("sti" ::: "memory");
    while (ticks == 0)
        __asm__ volatile("pause" ::: "memory");
    __asm__ volatile("cli" ::: "memory");
    start = mmio_read(HPET_BASE + HPET_COUNTER);
    ticks = 0;
    __asm__ volatile("sti" ::: "memory");
    do {
        __asm__ volatile("pause" ::: "memory");
        elapsed = mmio_read(HPET_BASE + HPET_COUNTER) - start;
    } while (elapsed < span);
    __asm__ volatile("cli" ::: "memory");
    uint32_t counted = ticks, expected = elapsed / period;

    put_str("ticks: ");
    put_dec(counted);
    put_str(" of ");
    put_dec(expected);
    put_char('\n');
    /* A host that keeps the VMM from running while a tick waits to be taken can still cost that
     * one tick: a twentieth is let go (merged periods of a 300 ms stop would be a fifth). */
    uint32_t margin = expected / 20 > 2 ? expected / 20 : 2;
    if (counted + margin < expected)
        fail("timer ticks lost");
    if (counted > expected + 2)
        fail("more timer ticks than periods");
    put_str("ticks ok\n");
    guest_exit(0);
}
