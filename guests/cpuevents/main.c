/*
 * cpuevents - events the CPU guarantees to a kernel, one line each:
 *   a. ud2: an invalid opcode raises #UD (SDM Vol. 3 §6.15, interrupt 6) at the instruction;
 *      the handler skips it and the kernel goes on;
 *   b. int3 and int 0x80 from ring 0: the handlers run (gate DPL 0 and 3 are both reachable
 *      from CPL 0, §6.12.1.1) and see the kernel's own CS (RPL 0) in the frame;
 *   c. self-modifying code: a loop that patches the imm32 of a MOV a few dozen bytes ahead in
 *      its own page and runs it, 100 times with a new value each time (§8.1.3: a store to code
 *      is seen by the next fetch after a jump);
 *   d. the interrupt shadow: with a 1 kHz PIT, a loop that begins right after STI gets timer
 *      interrupts (STI delays them by one instruction only, §6.8.3): 100 ticks;
 *   e. moffs and ModRM MOVs at linear 0xFFE00010 (in the top 4 MiB, where a VMM may keep its
 *      own pages): with paging off it is open bus (all ones, writes dropped); with paging on,
 *      mapped to a RAM page, reads and writes reach that page;
 *   f. CR4 bits the CPU does not have: MOV to CR4 with LA57 (bit 12) or SMEP (bit 20) set, which
 *      CPUID does not offer, raises #GP(0) at the instruction and leaves CR4 as it was (SDM
 *      Vol. 3 §2.5);
 *   g. the local APIC's MSR: RDMSR of IA32_APIC_BASE (0x1B) reads the APIC's base, enabled, on
 *      the bootstrap processor (0xFEE00900, SDM Vol. 3 §11.4.4);
 *   h. MSRs the CPU does not have: on a 32-bit CPU without NX, long mode or RDTSCP (vmm's default
 *      model, qemu32), RDMSR of
 *      IA32_EFER, IA32_LSTAR, IA32_KERNEL_GS_BASE and IA32_TSC_AUX, and WRMSR of IA32_EFER, raise
 *      #GP(0) at the instruction (SDM Vol. 2B, RDMSR and WRMSR), while IA32_TIME_STAMP_COUNTER
 *      reads.
 * Prints "cpuevents ok" and exits with value 0; a failed check prints "FAILED: ..." and exits
 * with value 1; an unexpected exception exits with value 2.
 */
#include "guest.h"
#include "cpu-tables.h"
#include "pc-timer.h"

#define PG_P  0x001u
#define PG_W  0x002u
#define PG_PS 0x080u

#define HOLE_ADDRESS   0xFFE00010u
#define SHADOW_TICKS   100u
#define SPIN_LIMIT     1000000000u

static volatile uint32_t ud_count, ud_eip, bp_count, bp_cs, soft_count, soft_cs, ticks;
static volatile uint32_t gp_count, gp_eip, gp_error;

extern char ud2_site[], cr4_write_site[], rdmsr_site[], wrmsr_site[];

static void fail(const char *what)
{
    guest_fail(what, 1);
}

void exception_dispatch(struct frame *f)
{
    if (f->vector == 6) {
        ud_count++;
        ud_eip = f->eip;
        f->eip += 2;            /* past the ud2 */
        return;
    }
    if (f->vector == 3) {       /* a trap: EIP is already past the int3 */
        bp_count++;
        bp_cs = f->cs;
        return;
    }
    if (f->vector == 13 && f->eip == (uint32_t)(uintptr_t)cr4_write_site) {
        gp_count++;
        gp_eip = f->eip;
        gp_error = f->error;
        f->eip += 3;            /* past the mov cr4, eax */
        return;
    }
    if (f->vector == 13 && (f->eip == (uint32_t)(uintptr_t)rdmsr_site || f->eip == (uint32_t)(uintptr_t)wrmsr_site)) {
        gp_count++;
        gp_error = f->error;
        f->eip += 2;            /* past the rdmsr or wrmsr */
        return;
    }
    fail_on_exception(f, 2);
}

/* Gates the shared stubs do not cover: INT 0x80 and the timer (IRQ 0 at vector 0x20). */
void soft_interrupt_entry(void);
void timer_entry(void);
__asm__(".text\n"
        "soft_interrupt_entry:\n"
        "    pushl %eax\n"
        "    movl 8(%esp), %eax\n"          /* the frame's CS */
        "    movl %eax, soft_cs\n"
        "    incl soft_count\n"
        "    popl %eax\n"
        "    iretl\n"
        "timer_entry:\n"
        "    pushl %eax\n"
        "    incl ticks\n"
        "    movb $0x20, %al\n"             /* non-specific EOI (8259A OCW2) */
        "    outb %al, $0x20\n"
        "    popl %eax\n"
        "    iretl\n");

/* Patches the MOV below and runs it, 100 times; returns the sum of what the MOV loaded.
 * With spin > 0 it computes that long between the patch and the jump (the VMM ends runs). */
uint32_t smc_loop(uint32_t spin);
__asm__(".text\n"
        ".balign 256\n"                     /* the loop and its target share one page */
        "smc_loop:\n"
        "    pushl %ebx\n"
        "    pushl %esi\n"
        "    xorl %eax, %eax\n"
        "    movl $1, %ecx\n"
        "1:  imull $7, %ecx, %edx\n"
        "    movl %edx, smc_imm\n"
        "    movl 12(%esp), %esi\n"
        "3:  testl %esi, %esi\n"
        "    jz 4f\n"
        "    decl %esi\n"
        "    jmp 3b\n"
        "4:  jmp 2f\n"
        "    .fill 32, 1, 0x90\n"
        "2:  .byte 0xBB\n"                  /* mov ebx, imm32 */
        "smc_imm:\n"
        "    .long 0\n"
        "    addl %ebx, %eax\n"
        "    incl %ecx\n"
        "    cmpl $101, %ecx\n"
        "    jb 1b\n"
        "    popl %esi\n"
        "    popl %ebx\n"
        "    ret\n");

static void check_ud(void)
{
    __asm__ volatile("ud2_site: ud2" : : : "memory");
    put_str("ud2: #UD at ");
    put_hex32(ud_eip);
    put_str(", handled ");
    put_dec(ud_count);
    put_str(" time(s)\n");
    if (ud_count != 1 || ud_eip != (uint32_t)(uintptr_t)ud2_site)
        fail("ud2 did not raise #UD at the instruction");
}

static void check_software_interrupts(void)
{
    set_interrupt_gate(0x80, soft_interrupt_entry, 3);
    __asm__ volatile("int3" : : : "memory");
    __asm__ volatile("int $0x80" : : : "memory");
    put_str("int3: #BP handled, frame cs ");
    put_hex32(bp_cs);
    put_str("; int 0x80: handled, frame cs ");
    put_hex32(soft_cs);
    put_char('\n');
    if (bp_count != 1 || soft_count != 1 || bp_cs != 0x08 || soft_cs != 0x08)
        fail("software interrupts from ring 0");
}

static void check_self_modifying_code(void)
{
    uint32_t sum = smc_loop(0), slow = smc_loop(100000);
    put_str("self-modifying code: sum ");
    put_dec(sum);
    put_str(", with time slices between patch and run ");
    put_dec(slow);
    put_char('\n');
    if (sum != 7u * 5050u || slow != 7u * 5050u)
        fail("a patched instruction ran with stale bytes");
}

static void check_interrupt_shadow(void)
{
    set_interrupt_gate(0x20, timer_entry, 0);
    start_timer_1khz();

    uint32_t spins;
    /* One translated block from the loop's head to its only branch, so every iteration
     * starts right after the STI's address: exits, polls and slices all see that address. */
    __asm__ volatile("xorl %%ecx, %%ecx\n\t"
                     "sti\n"
                     "1:\tincl %%ecx\n\t"   /* the loop's head is the instruction after STI */
                     "cmpl %1, ticks\n\t"
                     "sbbl %%edx, %%edx\n\t"  /* -1 while ticks < SHADOW_TICKS */
                     "cmpl %2, %%ecx\n\t"
                     "sbbl %%eax, %%eax\n\t"  /* -1 while spins < SPIN_LIMIT */
                     "andl %%edx, %%eax\n\t"
                     "jnz 1b\n\t"
                     "cli"
                     : "=&c"(spins)
                     : "i"(SHADOW_TICKS), "i"(SPIN_LIMIT)
                     : "eax", "edx", "memory", "cc");
    outb(0x21, 0xFF);
    put_str("timer after sti: ");
    put_dec(ticks >= SHADOW_TICKS ? SHADOW_TICKS : ticks);
    put_str(" ticks\n");
    if (ticks < SHADOW_TICKS)
        fail("timer interrupts starved in a loop that starts right after STI");
}

static uint32_t hole_read_moffs(void)
{
    uint32_t v;
    __asm__ volatile("movl 0xFFE00010, %0" : "=a"(v) : : "memory");
    return v;
}

static uint8_t hole_read_moffs8(void)
{
    uint8_t v;
    __asm__ volatile("movb 0xFFE00011, %0" : "=a"(v) : : "memory");
    return v;
}

static void hole_write_moffs(uint32_t v)
{
    __asm__ volatile("movl %0, 0xFFE00010" : : "a"(v) : "memory");
}

static uint32_t hole_read_modrm(void)
{
    return *(volatile uint32_t *)(uintptr_t)HOLE_ADDRESS;
}

static uint32_t page_directory[1024] __attribute__((aligned(4096)));
static uint32_t top_table[1024] __attribute__((aligned(4096)));
static volatile uint32_t top_page[1024] __attribute__((aligned(4096)));

static void check_top_of_linear_space(void)
{
    hole_write_moffs(0x12345678u);
    uint32_t a = hole_read_moffs(), b = hole_read_modrm();
    uint8_t c = hole_read_moffs8();
    /* Open bus reads all ones on a PC (and on this VMM), all zeros on QEMU 7.2. */
    int open_bus = a == b && (a == 0xFFFFFFFFu || a == 0) && c == (uint8_t)a;
    put_str("0xffe00010, paging off: ");
    put_str(open_bus ? "open bus" : "not open bus: ");
    if (!open_bus)
        put_hex32(a);
    put_char('\n');
    if (!open_bus)
        fail("physical 0xffe00010 is not open bus");

    for (uint32_t i = 0; i < 16; i++)
        page_directory[i] = (i << 22) | PG_PS | PG_W | PG_P;
    page_directory[1023] = (uint32_t)(uintptr_t)top_table | PG_W | PG_P;
    top_table[(HOLE_ADDRESS >> 12) & 0x3FF] = (uint32_t)(uintptr_t)top_page | PG_W | PG_P;
    top_page[4] = 0xA1B2C3D4u;
    uint32_t t;
    __asm__ volatile("mov %%cr4, %0\n\tor $0x10, %0\n\tmov %0, %%cr4" : "=&r"(t) : : "memory");
    __asm__ volatile("mov %0, %%cr3" : : "r"(page_directory) : "memory");
    __asm__ volatile("mov %%cr0, %0\n\tor $0x80000000, %0\n\tmov %0, %%cr0" : "=&r"(t) : : "memory");
    a = hole_read_moffs();
    b = hole_read_modrm();
    c = hole_read_moffs8();
    hole_write_moffs(0x600DF00Du);
    put_str("0xffe00010, mapped: moffs ");
    put_hex32(a);
    put_str(", modrm ");
    put_hex32(b);
    put_str(", byte ");
    put_hex32(c);
    put_str(", written ");
    put_hex32(top_page[4]);
    put_char('\n');
    if (a != 0xA1B2C3D4u || b != 0xA1B2C3D4u || c != 0xC3 || top_page[4] != 0x600DF00Du)
        fail("a MOV at 0xffe00010 missed the page the guest mapped there");
}

/* MOV CR4, EAX at a known address (one copy, however the caller's loop is compiled). */
void write_cr4_at_site(uint32_t value);
__asm__(".text\n"
        "write_cr4_at_site:\n"
        "    movl 4(%esp), %eax\n"
        "cr4_write_site:\n"
        "    movl %eax, %cr4\n"
        "    ret\n");

static uint32_t read_cr4_value(void)
{
    uint32_t v;
    __asm__ volatile("mov %%cr4, %0" : "=r"(v));
    return v;
}

static void check_unsupported_cr4_bits(void)
{
    static const uint32_t bits[] = {1u << 12, 1u << 20};  /* LA57, SMEP */
    uint32_t before = read_cr4_value(), refused = 0;
    for (uint32_t i = 0; i < sizeof bits / sizeof bits[0]; i++) {
        uint32_t count = gp_count;
        write_cr4_at_site(before | bits[i]);
        if (gp_count == count + 1 && gp_error == 0 && read_cr4_value() == before)
            refused++;
    }
    put_str("mov cr4 with LA57, SMEP: ");
    put_dec(refused);
    put_str(" of 2 refused with #GP(0)\n");
    if (refused != 2)
        fail("a CR4 bit the CPU does not offer was taken");
}

static void check_apic_base_msr(void)
{
    uint32_t low, high;
    __asm__ volatile("rdmsr" : "=a"(low), "=d"(high) : "c"(0x1Bu));
    put_str("rdmsr IA32_APIC_BASE: ");
    put_hex64(high, low);
    put_char('\n');
    if (high != 0 || low != 0xFEE00900u)
        fail("IA32_APIC_BASE does not read as the local APIC's base, enabled, on the BSP");
}

/* RDMSR and WRMSR of ECX at known addresses (EDX:EAX zero for the write). */
void rdmsr_at_site(uint32_t index);
void wrmsr_at_site(uint32_t index);
__asm__(".text\n"
        "rdmsr_at_site:\n"
        "    movl 4(%esp), %ecx\n"
        "rdmsr_site:\n"
        "    rdmsr\n"
        "    ret\n"
        "wrmsr_at_site:\n"
        "    movl 4(%esp), %ecx\n"
        "    xorl %eax, %eax\n"
        "    xorl %edx, %edx\n"
        "wrmsr_site:\n"
        "    wrmsr\n"
        "    ret\n");

static int msr_refused(void (*access)(uint32_t), uint32_t index)
{
    uint32_t count = gp_count;
    access(index);
    return gp_count == count + 1 && gp_error == 0;
}

static void check_absent_msrs(void)
{
    static const uint32_t reads[] = {0xC0000080u, 0xC0000082u, 0xC0000102u, 0xC0000103u};
    uint32_t refused = 0;
    for (uint32_t i = 0; i < sizeof reads / sizeof reads[0]; i++)
        refused += msr_refused(rdmsr_at_site, reads[i]);
    refused += msr_refused(wrmsr_at_site, 0xC0000080u);
    int tsc_refused = msr_refused(rdmsr_at_site, 0x10u);
    put_str("rdmsr EFER, LSTAR, KERNEL_GS_BASE, TSC_AUX, wrmsr EFER: ");
    put_dec(refused);
    put_str(" of 5 refused with #GP(0); rdmsr TSC ");
    put_str(tsc_refused ? "refused\n" : "reads\n");
    if (refused != 5 || tsc_refused)
        fail("an MSR the CPU does not have was taken, or one it has refused");
}

void kmain(uint32_t magic, const struct multiboot_info *mbi)
{
    (void)mbi;
    uart_init();
    mb_require_magic(magic);
    load_descriptors();
    check_ud();
    check_software_interrupts();
    check_self_modifying_code();
    check_interrupt_shadow();
    check_top_of_linear_space();
    check_unsupported_cr4_bits();
    check_apic_base_msr();
    check_absent_msrs();
    put_str("cpuevents ok\n");
    guest_exit(0);
}
