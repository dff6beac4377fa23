/*
 * kvmpv - KVM's paravirtual interface as a guest kernel uses it (Documentation/virt/kvm/x86/
 * cpuid.rst, msr.rst, hypercalls.rst), one line per check:
 *   a. CPUID.1:ECX bit 31 (a hypervisor) and, only with it, leaf 0x40000000's "KVMKVMKVM"
 *      signature and leaf 0x40000001's features (the ones this guest uses are printed); any
 *      other answer is "no KVM interface";
 *   b. hypercalls: VMCALL and VMMCALL from ring 0 return KVM_HC_VAPIC_POLL_IRQ's 0, -KVM_ENOSYS
 *      (-1000) for an unknown number and for KICK_CPU (PV_UNHALT is not offered), and VMCALL
 *      from ring 3 returns -KVM_EPERM (-1); without the interface both instructions raise #UD;
 *   c. kvmclock (MSR_KVM_SYSTEM_TIME_NEW): the time structure is filled in with an even version,
 *      a multiplier and the stable bit, its time advances across a spin and by less than a
 *      second; the wall clock (MSR_KVM_WALL_CLOCK_NEW) says it is after 2023;
 *   d. PV EOI (MSR_KVM_PV_EOI_EN): the local APIC timer's interrupt arrives with the flag set;
 *      the handler clears the flag instead of writing EOI, and the same vector can be delivered
 *      again (it could not while still in service), with ISR empty; once PV EOI is turned off the
 *      flag stays clear and the handler writes EOI;
 *   e. steal time (MSR_KVM_STEAL_TIME, where offered): the area gets an even version ("not
 *      offered" on a host that keeps no run delays).
 * Prints "kvmpv ok" and exits with value 0; a failed check prints "FAILED: ..." and exits with
 * value 1; an unexpected exception exits with value 2.
 */
#include "guest.h"
#include "cpu-tables.h"

#define KVM_CPUID_SIGNATURE 0x40000000u
#define KVM_CPUID_FEATURES  0x40000001u
#define FEATURE_CLOCKSOURCE2 (1u << 3)
#define FEATURE_STEAL_TIME   (1u << 5)
#define FEATURE_PV_EOI       (1u << 6)
#define FEATURE_NOP_IO_DELAY (1u << 1)
#define FEATURE_STABLE_BIT   (1u << 24)

#define MSR_KVM_WALL_CLOCK_NEW  0x4b564d00u
#define MSR_KVM_SYSTEM_TIME_NEW 0x4b564d01u
#define MSR_KVM_STEAL_TIME      0x4b564d03u
#define MSR_KVM_PV_EOI_EN       0x4b564d04u

#define HC_VAPIC_POLL_IRQ 1u
#define HC_KICK_CPU       5u
#define HC_UNKNOWN        0x1234u
#define KVM_ENOSYS_RESULT ((uint32_t)-1000)
#define KVM_EPERM_RESULT  ((uint32_t)-1)

#define APIC_BASE      0xFEE00000u
#define APIC_EOI       0x0B0u
#define APIC_SVR       0x0F0u
#define APIC_ISR       0x100u
#define APIC_LVT_TIMER 0x320u
#define APIC_TIMER_INITIAL 0x380u
#define APIC_TIMER_DIVIDE  0x3E0u
#define TIMER_VECTOR   0x40u
#define SPIN_LIMIT     200000000u

struct pvclock_time_info {
    uint32_t version, pad0;
    uint64_t tsc_timestamp, system_time;
    uint32_t mul;
    int8_t shift;
    uint8_t flags, pad[2];
} __attribute__((packed));

struct pvclock_wall_clock {
    uint32_t version, sec, nsec;
} __attribute__((packed));

struct steal_time {
    uint64_t steal;
    uint32_t version, flags;
    uint8_t preempted, pad8[3];
    uint32_t pad[11];
} __attribute__((packed));

static volatile struct pvclock_time_info time_info __attribute__((aligned(64)));
static volatile struct pvclock_wall_clock wall_clock __attribute__((aligned(64)));
static volatile struct steal_time steal __attribute__((aligned(64)));
static volatile uint32_t pv_eoi_flag __attribute__((aligned(64)));

static volatile uint32_t ud_count, timer_count, flag_seen, user_result;
static volatile uint32_t write_eoi_in_handler;
uint8_t ring0_stack[4096] __attribute__((aligned(16)));
uint8_t user_stack[4096] __attribute__((aligned(16)));
volatile uint32_t kernel_esp;

static void fail(const char *what)
{
    guest_fail(what, 1);
}

static void cpuid(uint32_t leaf, uint32_t *a, uint32_t *b, uint32_t *c, uint32_t *d)
{
    __asm__ volatile("cpuid" : "=a"(*a), "=b"(*b), "=c"(*c), "=d"(*d) : "a"(leaf), "c"(0));
}

static void wrmsr(uint32_t index, uint64_t value)
{
    __asm__ volatile("wrmsr" : : "c"(index), "a"((uint32_t)value), "d"((uint32_t)(value >> 32)) : "memory");
}

static uint64_t rdtsc(void)
{
    uint32_t lo, hi;
    __asm__ volatile("rdtsc" : "=a"(lo), "=d"(hi));
    return ((uint64_t)hi << 32) | lo;
}

static uint32_t apic_read(uint32_t reg)
{
    return *(volatile uint32_t *)(APIC_BASE + reg);
}

static void apic_write(uint32_t reg, uint32_t value)
{
    *(volatile uint32_t *)(APIC_BASE + reg) = value;
}

/* The two hypercall instructions (they raise #UD without a hypervisor: the handler skips them). */
static uint32_t vmcall(uint32_t nr)
{
    uint32_t result = nr;
    __asm__ volatile(".byte 0x0f, 0x01, 0xc1" : "+a"(result) : "b"(0), "c"(0), "d"(0), "S"(0) : "memory");
    return result;
}

static uint32_t vmmcall(uint32_t nr)
{
    uint32_t result = nr;
    __asm__ volatile(".byte 0x0f, 0x01, 0xd9" : "+a"(result) : "b"(0), "c"(0), "d"(0), "S"(0) : "memory");
    return result;
}

void exception_dispatch(struct frame *f)
{
    if (f->vector == 6) {
        ud_count++;
        f->eip += 3;            /* past the VMCALL or VMMCALL */
        return;
    }
    fail_on_exception(f, 2);
}

/* The APIC timer: counts, notes the PV EOI flag, and ends the interrupt one way or the other. */
void timer_entry(void);
void timer_dispatch(void)
{
    timer_count++;
    if (pv_eoi_flag & 1) {
        flag_seen++;
        pv_eoi_flag &= ~1u;     /* Linux's kvm_guest_apic_eoi_write: the flag instead of EOI */
    } else {
        apic_write(APIC_EOI, 0);
    }
}
__asm__(".text\n"
        "timer_entry:\n"
        "    pushal\n"
        "    call timer_dispatch\n"
        "    popal\n"
        "    iretl\n");

/*
 * Ring 3 makes one VMCALL and comes back through INT 0x81, whose handler drops the ring-3 frame
 * and returns on the kernel stack saved here (as the nanobench guest does).
 */
void run_user_vmcall(void);
void user_return(void);
__asm__(".text\n"
        "run_user_vmcall:\n"
        "    pushal\n"
        "    movl %esp, kernel_esp\n"
        "    movw $0x23, %dx\n"
        "    movw %dx, %ds\n"
        "    movw %dx, %es\n"
        "    pushl $0x23\n"
        "    pushl $user_stack + 4096\n"
        "    pushl $0x2\n"                  /* IF clear at ring 3 */
        "    pushl $0x1b\n"
        "    pushl $user_code\n"
        "    iretl\n"
        "user_code:\n"
        "    movl $1, %eax\n"               /* KVM_HC_VAPIC_POLL_IRQ */
        "    .byte 0x0f, 0x01, 0xc1\n"
        "    int $0x81\n"
        "user_return:\n"
        "    movl %eax, user_result\n"
        "    movw $0x10, %cx\n"
        "    movw %cx, %ds\n"
        "    movw %cx, %es\n"
        "    movl kernel_esp, %esp\n"
        "    popal\n"
        "    ret\n");

static void check_hypercalls(int offered)
{
    if (!offered) {
        vmcall(HC_VAPIC_POLL_IRQ);
        vmmcall(HC_VAPIC_POLL_IRQ);
        if (ud_count != 2)
            fail("VMCALL and VMMCALL without a hypervisor did not both raise #UD");
        put_str("vmcall and vmmcall: #UD\n");
        return;
    }
    if (vmcall(HC_VAPIC_POLL_IRQ) != 0 || vmmcall(HC_VAPIC_POLL_IRQ) != 0)
        fail("KVM_HC_VAPIC_POLL_IRQ did not return 0");
    if (vmcall(HC_UNKNOWN) != KVM_ENOSYS_RESULT || vmmcall(HC_UNKNOWN) != KVM_ENOSYS_RESULT)
        fail("an unknown hypercall did not return -KVM_ENOSYS");
    if (vmcall(HC_KICK_CPU) != KVM_ENOSYS_RESULT)
        fail("KVM_HC_KICK_CPU without PV_UNHALT did not return -KVM_ENOSYS");
    if (ud_count != 0)
        fail("a hypercall raised #UD");
    put_str("hypercalls: poll-irq 0, unknown -1000, kick-cpu -1000 (vmcall and vmmcall)\n");
    run_user_vmcall();
    if (user_result != KVM_EPERM_RESULT)
        fail("a hypercall from ring 3 did not return -KVM_EPERM");
    put_str("hypercall from ring 3: -1\n");
}

static uint64_t kvmclock_now(void)
{
    uint32_t version;
    uint64_t ns;
    do {
        version = time_info.version;
        __asm__ volatile("" : : : "memory");
        uint64_t delta = rdtsc() - time_info.tsc_timestamp;
        if (time_info.shift < 0)
            delta >>= -time_info.shift;
        else
            delta <<= time_info.shift;
        /* (delta * mul) >> 32 without a 128-bit product: split delta in halves. */
        uint64_t mul = time_info.mul;
        ns = time_info.system_time + ((delta >> 32) * mul) + (((delta & 0xFFFFFFFFu) * mul) >> 32);
        __asm__ volatile("" : : : "memory");
    } while ((version & 1) || version != time_info.version);
    return ns;
}

static void check_kvmclock(void)
{
    wrmsr(MSR_KVM_SYSTEM_TIME_NEW, (uint32_t)(uintptr_t)&time_info | 1);
    if ((time_info.version & 1) || time_info.version == 0 || time_info.mul == 0 || !(time_info.flags & 1))
        fail("kvmclock's time structure was not filled in (version, multiplier, stable bit)");
    uint64_t t1 = kvmclock_now();
    for (volatile uint32_t spin = 0; spin < 100000; spin++) {
    }
    uint64_t t2 = kvmclock_now();
    if (t2 <= t1 || t2 - t1 >= 1000000000u)
        fail("kvmclock did not advance by less than a second across a short spin");
    wrmsr(MSR_KVM_WALL_CLOCK_NEW, (uint32_t)(uintptr_t)&wall_clock);
    if ((wall_clock.version & 1) || wall_clock.sec < 1700000000u || wall_clock.nsec >= 1000000000u)
        fail("kvmclock's wall clock is not a time after 2023");
    put_str("kvmclock: advances, stable, wall clock after 2023\n");
}

static void wait_for_timer(uint32_t count)
{
    apic_write(APIC_TIMER_INITIAL, 1000);
    for (uint32_t spin = 0; timer_count < count; spin++) {
        if (spin == SPIN_LIMIT)
            fail("the local APIC timer's interrupt did not arrive");
    }
}

static void check_pv_eoi(void)
{
    set_interrupt_gate(TIMER_VECTOR, timer_entry, 0);
    /* OCW1: the 8259As masked; the APIC software-enabled, its timer one-shot at TIMER_VECTOR. */
    outb(0x21, 0xFF);
    outb(0xA1, 0xFF);
    apic_write(APIC_SVR, 0x1FF);
    apic_write(APIC_TIMER_DIVIDE, 0xB);
    apic_write(APIC_LVT_TIMER, TIMER_VECTOR);
    wrmsr(MSR_KVM_PV_EOI_EN, (uint32_t)(uintptr_t)&pv_eoi_flag | 1);
    __asm__ volatile("sti" : : : "memory");
    wait_for_timer(1);
    /* The same vector again: delivered only if the first one's EOI (the flag) took effect. */
    wait_for_timer(2);
    if (flag_seen != 2)
        fail("the PV EOI flag was not set for the timer's interrupts");
    if (apic_read(APIC_ISR + (TIMER_VECTOR / 32) * 0x10) & (1u << (TIMER_VECTOR % 32)))
        fail("the timer's vector is still in service after its PV EOI");
    wrmsr(MSR_KVM_PV_EOI_EN, 0);
    wait_for_timer(3);
    wait_for_timer(4);
    __asm__ volatile("cli" : : : "memory");
    if (flag_seen != 2)
        fail("the PV EOI flag was set after PV EOI was turned off");
    put_str("pv eoi: two interrupts ended by the flag, two by EOI\n");
}

static void check_steal_time(void)
{
    wrmsr(MSR_KVM_STEAL_TIME, (uint32_t)(uintptr_t)&steal | 1);
    if ((steal.version & 1) || steal.version == 0)
        fail("the steal-time area was not filled in");
    wrmsr(MSR_KVM_STEAL_TIME, 0);
    put_str("steal time: registered\n");
}

void kmain(uint32_t magic, const struct multiboot_info *mbi)
{
    (void)mbi;
    uart_init();
    mb_require_magic(magic);
    load_descriptors();
    load_user_segments((uint32_t)(uintptr_t)(ring0_stack + sizeof ring0_stack));
    set_interrupt_gate(0x81, user_return, 3);

    uint32_t a, b, c, d;
    cpuid(1, &a, &b, &c, &d);
    int offered = 0;
    uint32_t features = 0;
    if (c & (1u << 31)) {
        uint32_t max;
        cpuid(KVM_CPUID_SIGNATURE, &max, &b, &c, &d);
        offered = b == 0x4b4d564b && c == 0x564b4d56 && d == 0x4d && max >= KVM_CPUID_FEATURES;
    }
    if (offered) {
        cpuid(KVM_CPUID_FEATURES, &features, &b, &c, &d);
        put_str("hypervisor: KVMKVMKVM, features");
        if (features & FEATURE_CLOCKSOURCE2)
            put_str(" clocksource2");
        if (features & FEATURE_NOP_IO_DELAY)
            put_str(" nop-io-delay");
        if (features & FEATURE_PV_EOI)
            put_str(" pv-eoi");
        if (features & FEATURE_STABLE_BIT)
            put_str(" stable-bit");
        put_char('\n');
    } else {
        put_str("no KVM interface\n");   /* (QEMU's TCG sets the hypervisor bit, with its own leaves) */
    }
    check_hypercalls(offered);
    if (offered) {
        if (!(features & FEATURE_CLOCKSOURCE2) || !(features & FEATURE_PV_EOI))
            fail("kvmclock or PV EOI is not offered");
        check_kvmclock();
        check_pv_eoi();
        if (features & FEATURE_STEAL_TIME)
            check_steal_time();
        else
            put_str("steal time: not offered\n");  /* (a host that keeps no run delays) */
    }
    put_str("kvmpv ok\n");
    guest_exit(0);
}
