/*
 * bench.c - the paravirtual kernel's benchmark mode (`bench=1`, with `only=NAME` and
 * `iterations=N` as the nanobench guest takes them): the operations of guests/nanobench that a
 * paravirtual kernel has, done its way, timed with the same loops and printed in the same lines,
 * so that `vmm bench compare` sets them beside the native guest's under the other engines.
 *   syscall   INT 0x80 from ring 3 to an entry that returns at once with the iret hypercall
 *   cli-sti   masking and unmasking events: two stores to the shared-info page, and the check
 *             of the pending flag that an unmask needs
 *   call-ret  CALL to a function that returns (nothing paravirtual: the reference)
 *   pgfault   touch a not-present page: #PF through the trap table, the handler maps it with
 *             update_va_mapping; then unmap it (update_va_mapping)
 *   divzero   DIV by zero: #DE through the trap table, the handler skips the instruction
 *   ptemod    update_va_mapping of a page (the PTE and the page's translation), read through it
 *   cr3       new_baseptr between two pinned address spaces
 *   timer     a 10 kHz periodic timer's events, taken by the event callback while the kernel computes
 * IN, OUT and POPF have no paravirtual form here: the kernel does no port I/O and has no IF.
 */
#include "guest.h"
#include "cpu-tables.h"
#include "nanobench-lib.h"
#include "pvkernel.h"

#define REGION      0x48000000u     /* a table of its own for pgfault and ptemod */
#define PGFAULT_VA  REGION
#define PTEMOD_VA   (REGION + PAGE)
#define TIMER_HZ    10000u

uint64_t pvb_empty(uint32_t n);
uint64_t pvb_mask(uint32_t n, volatile uint8_t *mask);
uint64_t pvb_call_ret(uint32_t n);
uint64_t pvb_pgfault(uint32_t n, uint32_t va);
uint64_t pvb_divzero(uint32_t n);
uint64_t pvb_ptemod(uint32_t n);
uint64_t pvb_cr3(uint32_t n, uint32_t first, uint32_t both, void *stub);
uint64_t pvb_xorshift(uint32_t n);
uint64_t pvb_run_user(void (*loop)(void), uint32_t n);
void pvb_user_empty(void);
void pvb_user_syscall(void);
void pvb_syscall_entry(void);
void pvb_user_return(void);
void pvb_unmap(void);
int pvb_ptemod_step(void);
extern char pvb_div_site[];
volatile uint32_t pvb_kernel_esp;

__asm__(".pushsection .text.pvb_loops,\"ax\",@progbits\n"
        KERNEL_LOOP("pvb_empty", "", "", "")
        /* ESI: the mask byte; the pending flag is the byte before it. */
        KERNEL_LOOP("pvb_mask", "movl 20(%esp), %esi\n\t", "",
                    "movb $1, (%esi)\n\tmovb $0, (%esi)\n\tcmpb $0, -1(%esi)\n\tjne 2f\n\t")
        KERNEL_LOOP("pvb_call_ret", "", "", "call pvb_leaf\n\t")
        /* ESI: the page. The read faults and the handler maps it; pvb_unmap takes it away. */
        KERNEL_LOOP("pvb_pgfault", "movl 20(%esp), %esi\n\t", "",
                    "movl (%esi), %eax\n\tpushl %ecx\n\tcall pvb_unmap\n\tpopl %ecx\n\t")
        KERNEL_LOOP("pvb_divzero", "xorl %ebx, %ebx\n\t", "", "pvb_div_site:\n\tdivl %ebx\n\t")
        KERNEL_LOOP("pvb_ptemod", "", "",
                    "pushl %ecx\n\tcall pvb_ptemod_step\n\tpopl %ecx\n\ttestl %eax, %eax\n\tjz 2f\n\t")
        /* EBX: the directory to load, ESI: the two directories XORed, EDI: new_baseptr's stub
         * (which changes no register but EAX, its result: nonzero leaves the loop). */
        KERNEL_LOOP("pvb_cr3", "movl 20(%esp), %ebx\n\tmovl 24(%esp), %esi\n\tmovl 28(%esp), %edi\n\t", "",
                    "xorl %esi, %ebx\n\tcall *%edi\n\ttestl %eax, %eax\n\tjnz 2f\n\t")
        KERNEL_LOOP("pvb_xorshift", "movl $0x2545F491, %ebx\n\t", "", XORSHIFT_EBX)
        "pvb_leaf:\n\t"
        "ret\n"
        /* INT 0x80's entry: straight back with the iret hypercall (its stub pushes EAX). */
        "pvb_syscall_entry:\n\t"
        "jmp " IRET_STUB "\n"
        /* pvb_run_user(loop, n): to ring 3 with the iret hypercall; back through INT 0x81. */
        ".globl pvb_run_user\n"
        "pvb_run_user:\n\t"
        "pushl %ebp\n\t"
        "pushl %ebx\n\t"
        "pushl %esi\n\t"
        "pushl %edi\n\t"
        "movl %esp, pvb_kernel_esp\n\t"
        "movl 20(%esp), %eax\n\t"
        "movl 24(%esp), %ecx\n\t"
        "call user_stack_top\n\t"
        "movl 20(%esp), %edx\n\t"
        "pushl $" NB_TO_STRING(SEL_UDATA) "\n\t"
        "pushl %eax\n\t"
        "pushl $0x202\n\t"
        "pushl $" NB_TO_STRING(SEL_UCODE) "\n\t"
        "pushl %edx\n\t"
        "movl 44(%esp), %ecx\n\t"
        "jmp " IRET_STUB "\n"
        /* INT 0x81 from ring 3: EDX:EAX = the loop's cycles; the data segments were nulled. */
        "pvb_user_return:\n\t"
        "movw $" NB_TO_STRING(SEL_KDATA) ", %cx\n\t"
        "movw %cx, %ds\n\t"
        "movw %cx, %es\n\t"
        "movw %cx, %fs\n\t"
        "movw %cx, %gs\n\t"
        "movl pvb_kernel_esp, %esp\n\t"
        "popl %edi\n\t"
        "popl %esi\n\t"
        "popl %ebx\n\t"
        "popl %ebp\n\t"
        "ret\n"
        USER_LOOP("pvb_user_empty", "")
        USER_LOOP("pvb_user_syscall", "int $0x80\n\t")
        ".popsection\n");

static uint32_t region_table;           /* physical: the table that maps REGION */
static uint32_t ptemod_frames[2];
static uint32_t ptemod_next;
static uint32_t spaces[2];
static volatile uint32_t pgfaults, divides;
static uint32_t pgfault_frame;

/* Mappings made with A and D set, as a kernel that expects the page to be used at once makes
 * them: the VMM fills them straight into the shadow, with no fault at the first access. */
#define PG_AD 0x060u

void pvb_unmap(void)
{
    map_page(PGFAULT_VA, 0);
}

int pvb_ptemod_step(void)
{
    ptemod_next ^= 1;
    uint32_t frame = ptemod_frames[ptemod_next];
    map_page(PTEMOD_VA, frame | PG_AD | PG_W | PG_P);
    return *(volatile uint32_t *)(uintptr_t)PTEMOD_VA == frame;
}

static int bench_exception(struct pv_frame *f)
{
    if (f->vector == 14 && shared_info->fault_address == PGFAULT_VA) {
        map_page(PGFAULT_VA, pgfault_frame | PG_AD | PG_W | PG_P);
        pgfaults++;
        return 1;
    }
    if (f->vector == 0 && f->eip == (uint32_t)(uintptr_t)pvb_div_site) {
        f->eip += 2;            /* F7 F3, divl %ebx */
        divides++;
        return 1;
    }
    return 0;
}

static void report_loop(const char *name, uint32_t n, uint64_t cycles)
{
    nanobench_report(name, "iterations", n, cycles, pvb_empty(n));
}

static void bench_syscall(uint32_t n)
{
    uint64_t cycles = pvb_run_user(pvb_user_syscall, n);
    nanobench_report("syscall", "iterations", n, cycles, pvb_run_user(pvb_user_empty, n));
}

static void bench_mask(uint32_t n) { report_loop("cli-sti", n, pvb_mask(n, &shared_info->upcall_mask)); }
static void bench_call_ret(uint32_t n) { report_loop("call-ret", n, pvb_call_ret(n)); }

static void bench_pgfault(uint32_t n)
{
    pgfaults = 0;
    uint64_t cycles = pvb_pgfault(n, PGFAULT_VA);
    nanobench_check_taken("pgfault: #PF taken", pgfaults, n);
    report_loop("pgfault", n, cycles);
}

static void bench_divzero(uint32_t n)
{
    divides = 0;
    uint64_t cycles = pvb_divzero(n);
    nanobench_check_taken("divzero: #DE taken", divides, n);
    report_loop("divzero", n, cycles);
}

static void bench_ptemod(uint32_t n)
{
    uint64_t cycles = pvb_ptemod(n);
    if (nb_loop_left != 0)
        guest_fail("ptemod: the read after mmu_update and tlb_flush did not see the new frame's marker", 1);
    report_loop("ptemod", n, cycles);
}

static void bench_cr3(uint32_t n)
{
    uint64_t cycles = pvb_cr3(n, spaces[0], spaces[0] ^ spaces[1], hypercall_page + HC_NEW_BASEPTR * 32);
    if (nb_loop_left != 0)
        guest_fail("cr3: new_baseptr refused a pinned directory", 1);
    load_base(kernel_directory());
    report_loop("cr3", n, cycles);
}

static void timer_ticking(void) { hypercall1(HC_SET_PERIODIC_TIMER, 1000000000u / TIMER_HZ); }
static void timer_quiet(void) { hypercall1(HC_SET_PERIODIC_TIMER, 0); }

static void bench_timer(uint32_t n)
{
    nanobench_timer_rounds(n, pvb_xorshift, timer_ticking, timer_quiet, &timer_events);
}

static const struct nanobench benchmarks[] = {
    {"syscall", 2000, bench_syscall},
    {"cli-sti", 1000000, bench_mask},
    {"call-ret", 1000000, bench_call_ret},
    {"pgfault", 2000, bench_pgfault},
    {"divzero", 2000, bench_divzero},
    {"ptemod", 10000, bench_ptemod},
    {"cr3", 2000, bench_cr3},
    {"timer", 45000000, bench_timer},
};
#define BENCHMARKS (sizeof benchmarks / sizeof benchmarks[0])

/* Two address spaces for cr3: copies of the kernel's directory, made read-only and pinned. */
static void build_spaces(void)
{
    uint32_t kernel = kernel_directory();
    for (uint32_t k = 0; k < 2; k++) {
        uint32_t pd = alloc_frame();
        for (uint32_t i = 0; i < 1024; i++)
            ((volatile uint32_t *)(uintptr_t)pd)[i] = ((volatile uint32_t *)(uintptr_t)kernel)[i];
        make_read_only(pd);
        load_base(pd);
        spaces[k] = pd;
    }
    load_base(kernel);
}

void pv_bench(const char *cmdline)
{
    int run_none;
    uint32_t iterations;
    const struct nanobench *selected = nanobench_select(cmdline, benchmarks, BENCHMARKS, &run_none, &iterations);
    static struct trap_info traps[] = {
        { 0, 0, SEL_KCODE, 0 }, { 14, 0, SEL_KCODE, 0 }, { 0x80, 3, SEL_KCODE, 0 }, { 0x81, 3, SEL_KCODE, 0 },
        { 0, 0, 0, 0 },
    };
    extern void entry_0(void), entry_14(void);
    traps[0].address = (uint32_t)(uintptr_t)entry_0;
    traps[1].address = (uint32_t)(uintptr_t)entry_14;
    traps[2].address = (uint32_t)(uintptr_t)pvb_syscall_entry;
    traps[3].address = (uint32_t)(uintptr_t)pvb_user_return;
    if (hypercall1(HC_SET_TRAP_TABLE, (uint32_t)(uintptr_t)traps) != 0)
        guest_fail("set_trap_table", 1);
    exception_hook = bench_exception;
    /* REGION's table, and the frames pgfault and ptemod map there (each ptemod frame holds its own address). */
    region_table = alloc_table();
    mmu(kernel_directory() + (REGION >> 22) * 4, region_table | PG_W | PG_P);
    pgfault_frame = alloc_frame();
    for (uint32_t i = 0; i < 2; i++) {
        ptemod_frames[i] = alloc_frame();
        *(volatile uint32_t *)(uintptr_t)ptemod_frames[i] = ptemod_frames[i];
    }
    build_spaces();
    nanobench_run(benchmarks, BENCHMARKS, selected, run_none, iterations);
}
