/*
 * nanobench - nanobenchmarks of the operations a VMM must virtualise, after Adams and Agesen,
 * "A Comparison of Software and Hardware Techniques for x86 Virtualization" (ASPLOS 2006): each
 * benchmark is a loop of one virtualisation-sensitive operation timed with RDTSC, and the same
 * loop without the operation is timed for the same number of iterations, so that the host can
 * subtract the loop's own cost. Under vmm and QEMU's TCG the guest's TSC is the host's.
 *
 * The kernel runs at ring 0 (a trap-and-emulate VMM deprivileges it without its knowing) with
 * its own GDT (ring-0 and ring-3 segments, a TSS), IDT and 32-bit paging with 4 KiB pages:
 * physical 0-4 MiB identity-mapped (supervisor only, but for the page of ring-3 loop code and
 * the ring-3 stack) and two pages at 0x40000000 that the benchmarks map and unmap. Both 8259As
 * are masked and IF is set, so nothing arrives unless a benchmark asks for it. The benchmarks,
 * in the order they run (an "op" is what one iteration does):
 *   syscall   at ring 3, INT 0x80 through a DPL-3 interrupt gate to a handler that is just IRET
 *             (its empty loop also runs at ring 3);
 *   in        IN AL, DX from port 0x21, the master 8259A's mask register (OCW1): no side
 *             effect, and it reads back the 0xFF written at set-up;
 *   out       OUT 0x80, AL, the POST port;
 *   cli-sti   CLI; STI;
 *   popf      POPF of flags with IF=0, then POPF of flags with IF=1 (both PUSHF-derived);
 *   call-ret  CALL to a function that is just RET;
 *   pgfault   a read of a page whose PTE is not present; the #PF handler checks CR2 and maps
 *             it, the read completes, then the loop clears the PTE and executes INVLPG;
 *   divzero   DIV by a zero register; the #DE handler moves the saved EIP past the 2-byte DIV;
 *   ptemod    a PTE write (alternating between two frames), INVLPG, a read through the page
 *             that must see the new frame's marker;
 *   cr3       MOV to CR3, alternating between two page directories that map the same;
 *   timer     not an op loop: a register-only xorshift loop timed with IRQ 0 masked, then
 *             with the 8254 interrupting at 10 kHz (the handler counts and sends the EOI), in
 *             nine rounds of a ninth of the iterations each; the round with the median
 *             per-interrupt cost is printed.
 *
 * Command line: only=<name> runs just that benchmark after the common set-up (only=none runs
 * none: the set-up's cost on its own); iterations=N replaces every benchmark's default count
 * (the table below). Output, one line per benchmark, decimal:
 *   nanobench <name> iterations=<N> cycles=<C> empty=<E>
 *   nanobench timer interrupts=<K> cycles=<C> empty=<E>
 * where C times the op loop (for timer: with the timer on) and E the empty loop (timer off;
 * both of the reported round, K its interrupts);
 * a POPF that does not change IF (at CPL > IOPL, SDM Vol. 2B "POPF") is not timed:
 *   nanobench popf unfaithful: popf left IF=<n> after popping IF=<m>
 * then "nanobench ok" and exit value 0. A bad command line or a failed check prints
 * "FAILED: <what>" and exits with value 1, an unexpected exception exits with value 2.
 */
#include "guest.h"
#include "nanobench-lib.h"
#include "cpu-tables.h"
#include "pc-timer.h"

#define PG_P 0x001u
#define PG_W 0x002u
#define PG_U 0x004u

#define PAGE            4096u
#define REGION          0x40000000u             /* mapped through region_table */
#define PGFAULT_VA      REGION                  /* pgfault's page */
#define PTEMOD_VA       (REGION + PAGE)         /* ptemod's page */
#define PIC_MASTER_IMR  0x21                    /* the port `in` reads */
#define TIMER_HZ        10000u

#define EXIT_CHECK      1
#define EXIT_EXCEPTION  2

#define EFLAGS_IF       0x200u

/*
 * The two page directories are adjacent and 8 KiB-aligned, as are ptemod's two frames, so the
 * loops alternate between them by flipping address bit 12 (XOR 0x1000) in a register.
 */
static uint32_t page_directories[2][1024] __attribute__((aligned(8192)));
static uint32_t low_table[1024] __attribute__((aligned(4096)));      /* 0-4 MiB identity */
static uint32_t region_table[1024] __attribute__((aligned(4096)));   /* REGION */
static uint32_t ptemod_frames[2][1024] __attribute__((aligned(8192)));
static uint32_t pgfault_frame[1024] __attribute__((aligned(4096)));
static uint8_t ring0_stack[4096] __attribute__((aligned(4096)));     /* TSS ESP0 */
uint8_t nb_user_stack[4096] __attribute__((aligned(4096)));          /* ring 3's */

/* ---------------------------------------------------------------- timed loops */


uint64_t nb_empty(uint32_t n);
uint64_t nb_in(uint32_t n);
uint64_t nb_out(uint32_t n);
uint64_t nb_cli_sti(uint32_t n);
uint64_t nb_popf(uint32_t n);
uint64_t nb_call_ret(uint32_t n);
uint64_t nb_pgfault(uint32_t n, uint32_t va, volatile uint32_t *pte);
uint64_t nb_divzero(uint32_t n);
uint64_t nb_ptemod(uint32_t n, volatile uint32_t *pte, uint32_t va, uint32_t first_pte);
uint64_t nb_cr3(uint32_t n, uint32_t first_cr3);
uint64_t nb_xorshift(uint32_t n);
extern char nb_div_site[];

__asm__(".pushsection .text.nb_loops,\"ax\",@progbits\n"
        KERNEL_LOOP("nb_empty", "", "", "")
        KERNEL_LOOP("nb_in", "", "movl $" NB_TO_STRING(PIC_MASTER_IMR) ", %edx\n\t",
                    "inb %dx, %al\n\t")
        KERNEL_LOOP("nb_out", "", "", "outb %al, $0x80\n\t")
        KERNEL_LOOP("nb_cli_sti", "", "", "cli\n\tsti\n\t")
        /* ESI: EFLAGS with IF=0, EBX: with IF=1; the DECL after each pair sets ZF anew. */
        KERNEL_LOOP("nb_popf",
                    "pushfl\n\tpopl %ebx\n\tmovl %ebx, %esi\n\t"
                    "andl $~0x200, %esi\n\torl $0x200, %ebx\n\t", "",
                    "pushl %esi\n\tpopfl\n\tpushl %ebx\n\tpopfl\n\t")
        KERNEL_LOOP("nb_call_ret", "", "", "call nb_leaf\n\t")
        /* ESI: the page, EDI: its PTE. The read faults, the handler maps, the read completes;
         * then unmap: the PTE write alone would leave the translation in the TLB (§4.10.4). */
        KERNEL_LOOP("nb_pgfault", "movl 20(%esp), %esi\n\tmovl 24(%esp), %edi\n\t", "",
                    "movl (%esi), %eax\n\tmovl $0, (%edi)\n\tinvlpg (%esi)\n\t")
        KERNEL_LOOP("nb_divzero", "xorl %ebx, %ebx\n\t", "",
                    "nb_div_site:\n\tdivl %ebx\n\t")
        /* EDI: the PTE, ESI: the page, EBX: the PTE's value, which is also the marker in the
         * first dword of the frame it maps; a wrong marker leaves the loop through label 2. */
        KERNEL_LOOP("nb_ptemod",
                    "movl 20(%esp), %edi\n\tmovl 24(%esp), %esi\n\tmovl 28(%esp), %ebx\n\t", "",
                    "xorl $0x1000, %ebx\n\tmovl %ebx, (%edi)\n\tinvlpg (%esi)\n\t"
                    "cmpl (%esi), %ebx\n\tjne 2f\n\t")
        KERNEL_LOOP("nb_cr3", "movl 20(%esp), %ebx\n\t", "",
                    "xorl $0x1000, %ebx\n\tmovl %ebx, %cr3\n\t")
        KERNEL_LOOP("nb_xorshift", "movl $0x2545F491, %ebx\n\t", "", XORSHIFT_EBX)
        "nb_leaf:\n\t"                          /* call-ret's callee */
        "ret\n"
        /* The syscall handler: nothing but the return (SDM Vol. 3 §6.12.1: IRET pops EIP, CS,
         * EFLAGS, then ESP and SS because it returns to an outer ring). */
        "nb_syscall_entry:\n\t"
        "iretl\n"
        /* IRQ 0: count, then a non-specific EOI to the master 8259A (OCW2). */
        "nb_timer_entry:\n\t"
        "pushl %eax\n\t"
        "incl nb_timer_interrupts\n\t"
        "movb $0x20, %al\n\t"
        "outb %al, $0x20\n\t"
        "popl %eax\n\t"
        "iretl\n"
        ".popsection\n");

/*
 * uint64_t nb_run_user(void (*loop)(void), uint32_t n): runs a USER_LOOP at ring 3 and returns
 * its cycles. It drops to ring 3 with IRET (the frame of a return to an outer ring, SDM Vol. 3
 * §6.12.1: EIP, CS, EFLAGS, ESP, SS; IF set, IOPL 0) and comes back through INT 0x81, whose
 * handler, on the TSS's ring-0 stack, drops that frame and returns on the kernel stack saved
 * here. The interrupt gate cleared IF; it is set again as the rest of the kernel runs.
 */
uint64_t nb_run_user(void (*loop)(void), uint32_t n);
void nb_user_return(void);
void nb_syscall_entry(void);
void nb_timer_entry(void);
void nb_user_empty(void);
void nb_user_syscall(void);
extern char nb_user_code_begin[], nb_user_code_end[];
volatile uint32_t nb_kernel_esp;
volatile uint32_t nb_timer_interrupts;

__asm__(".pushsection .text.nb_run_user,\"ax\",@progbits\n"
        ".globl nb_run_user\n"
        "nb_run_user:\n\t"
        "pushl %ebp\n\t"
        "pushl %ebx\n\t"
        "pushl %esi\n\t"
        "pushl %edi\n\t"
        "movl %esp, nb_kernel_esp\n\t"
        "movl 20(%esp), %eax\n\t"
        "movl 24(%esp), %ecx\n\t"
        "movw $" NB_TO_STRING(SEL_UDATA) ", %dx\n\t"
        "movw %dx, %ds\n\t"
        "movw %dx, %es\n\t"
        "movw %dx, %fs\n\t"
        "movw %dx, %gs\n\t"
        "pushl $" NB_TO_STRING(SEL_UDATA) "\n\t"
        "pushl $nb_user_stack + 4096\n\t"
        "pushl $0x202\n\t"
        "pushl $" NB_TO_STRING(SEL_UCODE) "\n\t"
        "pushl %eax\n\t"
        "iretl\n"
        ".globl nb_user_return\n"
        "nb_user_return:\n\t"                   /* INT 0x81: EDX:EAX = the loop's cycles */
        "movw $" NB_TO_STRING(SEL_KDATA) ", %cx\n\t"
        "movw %cx, %ds\n\t"
        "movw %cx, %es\n\t"
        "movw %cx, %fs\n\t"
        "movw %cx, %gs\n\t"
        "movl nb_kernel_esp, %esp\n\t"
        "sti\n\t"
        "popl %edi\n\t"
        "popl %esi\n\t"
        "popl %ebx\n\t"
        "popl %ebp\n\t"
        "ret\n"
        ".popsection\n"
        /* Ring-3 code: a page of its own, the only code page with U/S set. */
        ".pushsection .text.nb_user,\"ax\",@progbits\n"
        ".balign 4096\n"
        "nb_user_code_begin:\n"
        USER_LOOP("nb_user_empty", "")
        USER_LOOP("nb_user_syscall", "int $0x80\n\t")
        "nb_user_code_end:\n"
        ".popsection\n");

/* ---------------------------------------------------------------- helpers */

static uint32_t address_of(const void *p)
{
    return (uint32_t)(uintptr_t)p;
}


static volatile uint32_t *region_pte(uint32_t va)
{
    return &region_table[(va - REGION) >> 12];
}


static void report_loop(const char *name, uint32_t n, uint64_t cycles)
{
    nanobench_report(name, "iterations", n, cycles, nb_empty(n));
}

/* ---------------------------------------------------------------- exceptions */

static volatile uint32_t pgfaults, divides;

void exception_dispatch(struct frame *f)
{
    if (f->vector == 14 && read_cr2() == PGFAULT_VA) {
        /* No INVLPG: a not-present entry is never cached (SDM Vol. 3 §4.10.4.3). */
        *region_pte(PGFAULT_VA) = address_of(pgfault_frame) | PG_W | PG_P;
        pgfaults++;
        return;
    }
    if (f->vector == 0 && f->eip == address_of(nb_div_site)) {
        /* #DE is a fault: the frame's EIP is the DIV itself (§6.15 "Interrupt 0"). */
        f->eip += 2;            /* F7 F3, divl %ebx */
        divides++;
        return;
    }
    fail_on_exception(f, EXIT_EXCEPTION);
}

/* ---------------------------------------------------------------- benchmarks */

static void bench_syscall(uint32_t n)
{
    uint64_t cycles = nb_run_user(nb_user_syscall, n);
    nanobench_report("syscall", "iterations", n, cycles, nb_run_user(nb_user_empty, n));
}

static void bench_in(uint32_t n)
{
    uint8_t v = inb(PIC_MASTER_IMR);
    if (v != 0xFF) {
        put_str("FAILED: in from port 0x21 (the 8259A's mask, set to 0xff) read ");
        put_hex32(v);
        put_char('\n');
        guest_exit(EXIT_CHECK);
    }
    report_loop("in", n, nb_in(n));
}

static void bench_out(uint32_t n)
{
    report_loop("out", n, nb_out(n));
}

static void bench_cli_sti(uint32_t n)
{
    report_loop("cli-sti", n, nb_cli_sti(n));
}

/* EFLAGS as PUSHF shows them after a POPF of flags with IF=0, then after one with IF=1. */
static void popf_effects(uint32_t *after_clear, uint32_t *after_set)
{
    uint32_t a, b;
    __asm__ volatile("pushfl\n\t"
                     "popl %%eax\n\t"
                     "andl $~0x200, %%eax\n\t"
                     "pushl %%eax\n\t"
                     "popfl\n\t"
                     "pushfl\n\t"
                     "popl %0\n\t"
                     "orl $0x200, %%eax\n\t"
                     "pushl %%eax\n\t"
                     "popfl\n\t"
                     "pushfl\n\t"
                     "popl %1"
                     : "=&r"(a), "=&r"(b) : : "eax", "memory", "cc");
    *after_clear = a;
    *after_set = b;
}

static void bench_popf(uint32_t n)
{
    uint32_t after_clear, after_set;
    popf_effects(&after_clear, &after_set);
    /* At CPL > IOPL POPF leaves IF as it was, without a fault: the loop would time nothing. */
    if ((after_clear & EFLAGS_IF) || !(after_set & EFLAGS_IF)) {
        int cleared_failed = (after_clear & EFLAGS_IF) != 0;
        put_str("nanobench popf unfaithful: popf left IF=");
        put_dec(cleared_failed ? 1 : 0);
        put_str(" after popping IF=");
        put_dec(cleared_failed ? 0 : 1);
        put_char('\n');
        __asm__ volatile("sti" : : : "memory");    /* in case it was IF=1 that did not stick */
        return;
    }
    report_loop("popf", n, nb_popf(n));
}

static void bench_call_ret(uint32_t n)
{
    report_loop("call-ret", n, nb_call_ret(n));
}

static void bench_pgfault(uint32_t n)
{
    *region_pte(PGFAULT_VA) = 0;
    invlpg(PGFAULT_VA);
    pgfaults = 0;
    uint64_t cycles = nb_pgfault(n, PGFAULT_VA, region_pte(PGFAULT_VA));
    nanobench_check_taken("pgfault: #PF taken", pgfaults, n);
    report_loop("pgfault", n, cycles);
}

static void bench_divzero(uint32_t n)
{
    divides = 0;
    uint64_t cycles = nb_divzero(n);
    nanobench_check_taken("divzero: #DE taken", divides, n);
    report_loop("divzero", n, cycles);
}

static void bench_ptemod(uint32_t n)
{
    volatile uint32_t *pte = region_pte(PTEMOD_VA);
    for (uint32_t i = 0; i < 2; i++)
        ptemod_frames[i][0] = address_of(ptemod_frames[i]) | PG_W | PG_P;
    *pte = ptemod_frames[0][0];
    invlpg(PTEMOD_VA);
    uint64_t cycles = nb_ptemod(n, pte, PTEMOD_VA, ptemod_frames[0][0]);
    if (nb_loop_left != 0) {
        put_str("FAILED: ptemod: the read after PTE write ");
        put_dec(n - nb_loop_left + 1);
        put_str(" and INVLPG did not see the new frame's marker\n");
        guest_exit(EXIT_CHECK);
    }
    report_loop("ptemod", n, cycles);
}

static void bench_cr3(uint32_t n)
{
    uint32_t first = address_of(page_directories[0]);
    uint64_t cycles = nb_cr3(n, first);
    write_cr3(first);
    report_loop("cr3", n, cycles);
}

/*
 * The timer's cost is a difference of two loops of the same work, with and without interrupts,
 * which a busy host disturbs by more than the interrupts cost: the work is split into
 * TIMER_ROUNDS rounds, each timed without and then with IRQ 0 unmasked, and the round whose
 * per-interrupt cost is the median is reported (a preemption of the host spoils one round, not
 * the result).
 */
static void timer_masked(void) { outb(PIC_MASTER_IMR, 0xFF); }       /* IRQ 0 masked */
static void timer_unmasked(void) { outb(PIC_MASTER_IMR, 0xFE); }     /* IRQ 0 only */

static void bench_timer(uint32_t n)
{
    set_interrupt_gate(0x20, nb_timer_entry, 0);
    outb(PIC_MASTER_IMR, 0xFF);
    start_timer_hz(TIMER_HZ);
    nanobench_timer_rounds(n, nb_xorshift, timer_unmasked, timer_masked, &nb_timer_interrupts);
}

/*
 * Default iteration counts, measured under vmm on a 2.1 GHz host: each benchmark takes roughly
 * 20-100 ms under its slowest engine. Under trap an IN, OUT, CLI or STI is emulated in the
 * native core (0.2-1 us) but a guest exception, an IRET or a MOV to CR3 goes out to the VMM
 * (20-30 us, as is every exception under direct); POPF and CALL/RET are slowest under bt.
 */
static const struct nanobench benchmarks[] = {
    {"syscall", 2000, bench_syscall},
    {"in", 100000, bench_in},
    {"out", 200000, bench_out},
    {"cli-sti", 50000, bench_cli_sti},
    {"popf", 1000000, bench_popf},
    {"call-ret", 1000000, bench_call_ret},
    {"pgfault", 2000, bench_pgfault},
    {"divzero", 2000, bench_divzero},
    {"ptemod", 10000, bench_ptemod},
    {"cr3", 2000, bench_cr3},
    {"timer", 45000000, bench_timer},
};

#define BENCHMARKS (sizeof benchmarks / sizeof benchmarks[0])


/* ---------------------------------------------------------------- set-up */

/* Both directories map 0-4 MiB and the region; the ring-3 code and stack pages get U/S. */
static void enable_paging(void)
{
    for (uint32_t i = 0; i < 1024; i++)
        low_table[i] = (i << 12) | PG_W | PG_P;
    for (uint32_t va = address_of(nb_user_code_begin) & ~(PAGE - 1);
         va < address_of(nb_user_code_end); va += PAGE)
        low_table[va >> 12] |= PG_U;
    low_table[address_of(nb_user_stack) >> 12] |= PG_U;
    for (uint32_t d = 0; d < 2; d++) {
        /* U/S in a PDE only allows it: a page is user-accessible if both levels say so. */
        page_directories[d][0] = address_of(low_table) | PG_U | PG_W | PG_P;
        page_directories[d][REGION >> 22] = address_of(region_table) | PG_W | PG_P;
    }
    write_cr3(address_of(page_directories[0]));
    uint32_t t;
    __asm__ volatile("mov %%cr0, %0\n\tor $0x80000000, %0\n\tmov %0, %%cr0" : "=&r"(t) : : "memory");
}


void kmain(uint32_t magic, const struct multiboot_info *mbi)
{
    uart_init();
    mb_require_magic(magic);

    int run_none;
    uint32_t iterations;
    const struct nanobench *selected = nanobench_select(mb_cmdline(mbi), benchmarks, BENCHMARKS, &run_none, &iterations);

    load_descriptors();
    load_user_segments(address_of(ring0_stack + sizeof ring0_stack));
    set_interrupt_gate(0x80, nb_syscall_entry, 3);
    set_interrupt_gate(0x81, nb_user_return, 3);
    enable_paging();
    /* OCW1: mask every IRQ line on both 8259As, so STI lets nothing in. */
    outb(PIC_MASTER_IMR, 0xFF);
    outb(0xA1, 0xFF);
    __asm__ volatile("sti" : : : "memory");

    nanobench_run(benchmarks, BENCHMARKS, selected, run_none, iterations);
}
