/*
 * cpufeatures - does every feature the CPU reports through CPUID really execute?
 *
 * A guest that believes CPUID picks code paths by it (a C library chooses its string routines
 * by the SSSE3 and SSE4 bits, Linux its vDSO entry by SEP), so a bit that is set for an
 * instruction the CPU cannot run stops that guest later, far from the cause. This kernel reads
 * CPUID leaf 1 (EDX and ECX) and, when leaf 0x80000000 lists it, leaf 0x80000001 (SDM Vol. 2A,
 * CPUID, "Feature Information" tables 3-10 and 3-11), enables what each family needs and
 * executes one or more representative instructions of it, checking the result where that is
 * cheap. Every fault is caught: #UD, #GP, #NM and #PF go through its own IDT to a handler that
 * records the vector and resumes at an address the probe set before the instruction
 * (probe_resume). One line per family:
 *
 *     feature <name>: advertised, executes
 *     feature <name>: advertised, #UD at <instruction>          (or #GP, #NM, #PF ...)
 *     feature <name>: advertised, wrong result at <instruction> (got <v>, expected <w>)
 *     feature <name>: not advertised, executes anyway           (tried for information only)
 *     feature <name>: not advertised, #UD at <instruction>
 *     feature <name>: advertised, not tried: <why>              (CX16, SYSCALL, LM; hypervisor)
 *     note: <what>                                              (machine state, not counted)
 *
 * and "feature <leaf>-bit<n>: advertised, no probe" for a set bit this kernel cannot check.
 * `unadvertised=0` on the command line skips the families that are not advertised
 * ("not advertised, not tried"). Then
 * "advertised families: <n>, failing: <m>" and the exit value: 0 when every advertised family
 * executes, 1 when one does not, 2 for an exception no probe expected.
 *
 * What each probe sets up: CR0.MP = 1, EM = 0, TS = 0 and NE = 1 for x87, MMX and SSE (SDM
 * Vol. 3A 2.5, 9.2); CR4.OSFXSR and OSXMMEXCPT for FXSAVE and SSE (Vol. 3A 13.1); a 16-byte
 * aligned 512-byte FXSAVE area; its own GDT with ring-3 segments and a TSS for the one probe
 * that runs at ring 3 (VME's protected-mode virtual interrupts); 32-bit paging with 4 MiB pages
 * for PSE and PSE-36, PAE paging for PAE and NX. Both 8259As are masked, so no interrupt
 * arrives while a probe runs with IF set.
 */
#include "guest.h"
#include "tables.h"

#define EXIT_OK         0
#define EXIT_FAILED     1
#define EXIT_EXCEPTION  2

#define A16 __attribute__((aligned(16)))
#define PAGE_ALIGNED __attribute__((aligned(4096)))

/* ---------------------------------------------------------------- fault capture */

/*
 * A probe stores the address to resume at in probe_resume right before the instruction under
 * test (ARM), so the handler needs no table of instruction lengths: a fault anywhere between
 * ARM and the label RESUME ends there, with the vector and error code recorded.
 */
volatile uint32_t probe_resume;
volatile int32_t fault_vector = -1;     /* global: the ring-3 probe reads it from assembly */
static volatile uint32_t fault_error;

#define ARM "movl $1f, %[resume]\n\t"
#define RESUME "\n1:\n\t"
#define RESUME_OP [resume] "=m"(probe_resume)

void cf_exception(struct frame *f)
{
    if (probe_resume != 0) {
        fault_vector = (int32_t)f->vector;
        fault_error = f->error;
        f->eip = probe_resume;
        probe_resume = 0;
        return;
    }
    put_str("FAILED: exception ");
    put_dec(f->vector);
    put_str(" error ");
    put_hex32(f->error);
    put_str(" at eip ");
    put_hex32(f->eip);
    put_str(" outside a probe\n");
    guest_exit(EXIT_EXCEPTION);
}

/* ---------------------------------------------------------------- probe results */

enum outcome { EXECUTES, FAULTS, WRONG };

static struct {
    enum outcome outcome;
    const char *at;             /* the instruction that faulted or gave a wrong result */
    uint32_t vector, error;
    uint32_t got_hi, got, want_hi, want;
    const char *why;            /* a wrong result that is not a number */
} res;

static void arm(void)
{
    fault_vector = -1;
}

/* Records a fault as the probe's outcome, unless an earlier failure already is. */
static void record_fault(const char *at, int32_t vector, uint32_t error)
{
    if (res.outcome == EXECUTES) {
        res.outcome = FAULTS;
        res.at = at;
        res.vector = (uint32_t)vector;
        res.error = error;
    }
}

/* After an ARM ... RESUME block: did its instruction fault? Records the first failure. */
static int faulted(const char *at)
{
    probe_resume = 0;
    if (fault_vector < 0)
        return 0;
    record_fault(at, fault_vector, fault_error);
    return 1;
}

static int wrong64(const char *at, uint32_t got_hi, uint32_t got, uint32_t want_hi, uint32_t want)
{
    if (got_hi == want_hi && got == want)
        return 0;
    if (res.outcome == EXECUTES) {
        res.outcome = WRONG;
        res.at = at;
        res.got_hi = got_hi;
        res.got = got;
        res.want_hi = want_hi;
        res.want = want;
        res.why = 0;
    }
    return 1;
}

static int wrong32(const char *at, uint32_t got, uint32_t want)
{
    return wrong64(at, 0, got, 0, want);
}

static int wrong_because(const char *at, int bad, const char *why)
{
    if (!bad)
        return 0;
    if (res.outcome == EXECUTES) {
        res.outcome = WRONG;
        res.at = at;
        res.why = why;
    }
    return 1;
}

/* One instruction (or a short sequence) under test: an asm statement that begins with ARM and
 * ends with RESUME; a fault ends the probe. */
#define TRY(at, ...)                      \
    do {                                  \
        arm();                            \
        __asm__ volatile(__VA_ARGS__);    \
        if (faulted(at))                  \
            return;                       \
    } while (0)
#define CHECK32(at, got, want) do { if (wrong32(at, got, want)) return; } while (0)
#define CHECK64(at, ghi, glo, whi, wlo) do { if (wrong64(at, ghi, glo, whi, wlo)) return; } while (0)
#define CHECK(at, ok, why) do { if (wrong_because(at, !(ok), why)) return; } while (0)

/* ---------------------------------------------------------------- CPU helpers */

#define CR0_MP 0x2u
#define CR0_EM 0x4u
#define CR0_TS 0x8u
#define CR0_NE 0x20u
#define CR0_PG 0x80000000u

#define CR4_VME        (1u << 0)
#define CR4_PVI        (1u << 1)
#define CR4_DE         (1u << 3)
#define CR4_PSE        (1u << 4)
#define CR4_PAE        (1u << 5)
#define CR4_MCE        (1u << 6)
#define CR4_PGE        (1u << 7)
#define CR4_OSFXSR     (1u << 9)
#define CR4_OSXMMEXCPT (1u << 10)
#define CR4_OSXSAVE    (1u << 18)
#define CR4_SMEP       (1u << 20)
#define CR4_SMAP       (1u << 21)

#define EFLAGS_IF  (1u << 9)
#define EFLAGS_VIF (1u << 19)

#define MSR_IA32_TSC        0x10u
#define MSR_MTRRCAP         0xFEu
#define MSR_SYSENTER_CS     0x174u
#define MSR_SYSENTER_ESP    0x175u
#define MSR_SYSENTER_EIP    0x176u
#define MSR_MCG_CAP         0x179u
#define MSR_MTRR_PHYSBASE0  0x200u
#define MSR_PAT             0x277u
#define MSR_MC0_STATUS      0x401u
#define MSR_EFER            0xC0000080u
#define MSR_TSC_AUX         0xC0000103u
#define EFER_NXE            (1u << 11)

struct regs4 {
    uint32_t eax, ebx, ecx, edx;
};

static struct regs4 cpuid(uint32_t leaf)
{
    struct regs4 r;
    __asm__ volatile("cpuid" : "=a"(r.eax), "=b"(r.ebx), "=c"(r.ecx), "=d"(r.edx) : "a"(leaf), "c"(0));
    return r;
}

static inline uint32_t read_cr0(void)
{
    uint32_t v;
    __asm__ volatile("mov %%cr0, %0" : "=r"(v));
    return v;
}

static inline uint32_t read_cr4(void)
{
    uint32_t v;
    __asm__ volatile("mov %%cr4, %0" : "=r"(v));
    return v;
}

/* CR and MSR writes can fault where a feature is missing: probes use these and report it. */
static int try_write_cr0(uint32_t v)
{
    arm();
    __asm__ volatile(ARM "mov %[v], %%cr0" RESUME : RESUME_OP : [v] "r"(v) : "memory");
    return faulted("mov to cr0");
}

static int try_write_cr3(uint32_t v)
{
    arm();
    __asm__ volatile(ARM "mov %[v], %%cr3" RESUME : RESUME_OP : [v] "r"(v) : "memory");
    return faulted("mov to cr3");
}

static int try_write_cr4(uint32_t v)
{
    arm();
    __asm__ volatile(ARM "mov %[v], %%cr4" RESUME : RESUME_OP : [v] "r"(v) : "memory");
    return faulted("mov to cr4");
}

static int try_rdmsr(uint32_t msr, uint32_t *hi, uint32_t *lo, const char *at)
{
    uint32_t a = 0, d = 0;
    arm();
    __asm__ volatile(ARM "rdmsr" RESUME : RESUME_OP, "+a"(a), "+d"(d) : "c"(msr) : "memory");
    *hi = d;
    *lo = a;
    return faulted(at);
}

static int try_wrmsr(uint32_t msr, uint32_t hi, uint32_t lo, const char *at)
{
    arm();
    __asm__ volatile(ARM "wrmsr" RESUME : RESUME_OP : "c"(msr), "a"(lo), "d"(hi) : "memory");
    return faulted(at);
}

/* Sets CR4 bits, reads CR4 back; restores the old value. */
static void cr4_bit_sticks(uint32_t bit)
{
    uint32_t old = read_cr4();
    if (try_write_cr4(old | bit))
        return;
    uint32_t now = read_cr4();
    try_write_cr4(old);
    CHECK32("mov from cr4", now & bit, bit);
}

/* ---------------------------------------------------------------- x87, MMX, FXSR, SSE */

static uint32_t scratch[4] A16;
static uint8_t fxarea[512] A16;
static uint8_t fxarea2[512] A16;

static const uint32_t f_1234[4] A16 = {0x3F800000, 0x40000000, 0x40400000, 0x40800000};      /* 1 2 3 4 */
static const uint32_t f_10_40[4] A16 = {0x41200000, 0x41A00000, 0x41F00000, 0x42200000};     /* 10 20 30 40 */

static void probe_fpu(void)
{
    uint32_t one = 0;
    TRY("fninit", ARM "fninit" RESUME : RESUME_OP : : "memory");
    TRY("fld1", ARM "fld1" RESUME : RESUME_OP : : "memory");
    TRY("fstp", ARM "fstps %[o]" RESUME : RESUME_OP, [o] "=m"(one) : : "memory");
    CHECK32("fld1", one, 0x3F800000u);     /* 1.0f */
}

static void probe_tsc(void)
{
    uint32_t lo1, hi1, lo2, hi2;
    TRY("rdtsc", ARM "rdtsc" RESUME : RESUME_OP, "=a"(lo1), "=d"(hi1) : : "memory");
    for (volatile int i = 0; i < 1000; i++)
        ;
    TRY("rdtsc", ARM "rdtsc" RESUME : RESUME_OP, "=a"(lo2), "=d"(hi2) : : "memory");
    CHECK("rdtsc", hi2 > hi1 || (hi2 == hi1 && lo2 > lo1), "the TSC did not advance");
}

/* Set when RDMSR of IA32_TSC works but does not follow RDTSC (reported, not counted). */
static int ia32_tsc_stuck;
static uint32_t ia32_tsc_hi, ia32_tsc_lo;

static void probe_msr(void)
{
    uint32_t hi, lo, t_lo, t_hi;
    /* IA32_TIME_STAMP_COUNTER (SDM Vol. 4, table 2-2): architectural where TSC is reported. */
    if (try_rdmsr(MSR_IA32_TSC, &hi, &lo, "rdmsr 0x10"))
        return;
    arm();
    __asm__ volatile(ARM "rdtsc" RESUME : RESUME_OP, "=a"(t_lo), "=d"(t_hi) : : "memory");
    if (fault_vector >= 0) {    /* no TSC: nothing to compare with */
        probe_resume = 0;
        return;
    }
    probe_resume = 0;
    if (hi == 0 && lo == 0 && (t_hi | t_lo) != 0) {
        ia32_tsc_stuck = 1;
        ia32_tsc_hi = hi;
        ia32_tsc_lo = lo;
    }
}

static void probe_cx8(void)
{
    static uint64_t target = 0x1111111122222222ull;
    uint8_t zf;
    uint32_t a = 0x22222222, d = 0x11111111;
    TRY("cmpxchg8b", ARM "lock cmpxchg8b %[m]\n\tsetz %[zf]" RESUME
        : RESUME_OP, [m] "+m"(target), [zf] "=q"(zf), "+a"(a), "+d"(d)
        : "b"(0x44444444), "c"(0x33333333) : "memory", "cc");
    CHECK32("cmpxchg8b", zf, 1);
    CHECK64("cmpxchg8b", (uint32_t)(target >> 32), (uint32_t)target, 0x33333333u, 0x44444444u);
}

static void probe_cmov(void)
{
    uint32_t v = 1;
    TRY("cmove", ARM "cmpl %%ecx, %%ecx\n\tcmovel %[two], %[v]" RESUME
        : RESUME_OP, [v] "+r"(v) : [two] "r"(2u), "c"(0) : "memory", "cc");
    CHECK32("cmove", v, 2);
}

static void probe_mmx(void)
{
    static const uint32_t a[2] __attribute__((aligned(8))) = {0x05060708, 0x01020304};
    static const uint32_t ones[2] __attribute__((aligned(8))) = {0x01010101, 0x01010101};
    uint32_t lo, hi;
    TRY("movq mm0", ARM "movq %[a], %%mm0" RESUME : RESUME_OP : [a] "m"(a) : "memory");
    TRY("paddb mm0", ARM "paddb %[b], %%mm0" RESUME : RESUME_OP : [b] "m"(ones) : "memory");
    TRY("movq mm0", ARM "movq %%mm0, %[o]" RESUME : RESUME_OP, [o] "=m"(scratch) : : "memory");
    TRY("emms", ARM "emms" RESUME : RESUME_OP : : "memory");
    lo = scratch[0];
    hi = scratch[1];
    CHECK64("paddb mm0", hi, lo, 0x02030405u, 0x06070809u);
}

static void probe_fxsr(void)
{
    uint16_t cw = 0;
    TRY("fninit", ARM "fninit" RESUME : RESUME_OP : : "memory");
    TRY("fxsave", ARM "fxsave %[a]" RESUME : RESUME_OP, [a] "=m"(fxarea) : : "memory");
    /* FCW is the first word of the FXSAVE image (SDM Vol. 1, table 10-2); FNINIT sets 0x037F. */
    CHECK32("fxsave", (uint32_t)(fxarea[0] | (fxarea[1] << 8)), 0x037Fu);
    for (int i = 0; i < 512; i++)
        fxarea2[i] = fxarea[i];
    fxarea2[0] = 0x7F;
    fxarea2[1] = 0x02;          /* FCW 0x027F: precision 53 bits */
    TRY("fxrstor", ARM "fxrstor %[a]" RESUME : RESUME_OP : [a] "m"(fxarea2) : "memory");
    TRY("fnstcw", ARM "fnstcw %[c]" RESUME : RESUME_OP, [c] "=m"(cw) : : "memory");
    TRY("fninit", ARM "fninit" RESUME : RESUME_OP : : "memory");
    CHECK32("fxrstor", cw, 0x027Fu);
}

/* MXCSR as the guest found it, when that is not its power-up value 0x1F80 (SDM Vol. 3A
 * table 9-1; all SIMD exceptions masked): reported, not counted, as it is reset state. */
static int mxcsr_at_entry_odd;
static uint32_t mxcsr_at_entry;

static void probe_sse(void)
{
    uint32_t csr = 0;
    const uint32_t masked = 0x1F80;
    TRY("stmxcsr", ARM "stmxcsr %[c]" RESUME : RESUME_OP, [c] "=m"(csr) : : "memory");
    if (csr != masked) {
        mxcsr_at_entry_odd = 1;
        mxcsr_at_entry = csr;
    }
    TRY("ldmxcsr", ARM "ldmxcsr %[c]" RESUME : RESUME_OP : [c] "m"(masked) : "memory");
    TRY("stmxcsr", ARM "stmxcsr %[c]" RESUME : RESUME_OP, [c] "=m"(csr) : : "memory");
    CHECK32("ldmxcsr", csr, masked);
    TRY("movaps", ARM "movaps %[a], %%xmm0" RESUME : RESUME_OP : [a] "m"(f_1234) : "memory");
    TRY("addps", ARM "addps %[b], %%xmm0" RESUME : RESUME_OP : [b] "m"(f_10_40) : "memory");
    TRY("movaps", ARM "movaps %%xmm0, %[o]" RESUME : RESUME_OP, [o] "=m"(scratch) : : "memory");
    CHECK32("addps", scratch[0], 0x41300000u);   /* 11 */
    CHECK32("addps", scratch[3], 0x42300000u);   /* 44 */
}

static void probe_sse2(void)
{
    static const uint32_t a[4] A16 = {0xFFFFFFFF, 0, 7, 0};
    static const uint32_t b[4] A16 = {1, 0, 1, 0};
    TRY("movdqa", ARM "movdqa %[a], %%xmm0" RESUME : RESUME_OP : [a] "m"(a) : "memory");
    TRY("paddq", ARM "paddq %[b], %%xmm0" RESUME : RESUME_OP : [b] "m"(b) : "memory");
    TRY("movdqa", ARM "movdqa %%xmm0, %[o]" RESUME : RESUME_OP, [o] "=m"(scratch) : : "memory");
    /* The carry crosses the dword: a PADDD would give 0 in the first quadword. */
    CHECK64("paddq", scratch[1], scratch[0], 1u, 0u);
    CHECK32("paddq", scratch[2], 8u);
}

static void probe_sse3(void)
{
    static const uint8_t unaligned[20] A16 = {0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19};
    TRY("movaps", ARM "movaps %[a], %%xmm0\n\tmovaps %[b], %%xmm1" RESUME : RESUME_OP
        : [a] "m"(f_1234), [b] "m"(f_10_40) : "memory");
    TRY("haddps", ARM "haddps %%xmm1, %%xmm0" RESUME : RESUME_OP : : "memory");
    TRY("movaps", ARM "movaps %%xmm0, %[o]" RESUME : RESUME_OP, [o] "=m"(scratch) : : "memory");
    CHECK32("haddps", scratch[0], 0x40400000u);  /* 1 + 2 */
    CHECK32("haddps", scratch[3], 0x428C0000u);  /* 30 + 40 */
    TRY("lddqu", ARM "lddqu 1(%[p]), %%xmm2" RESUME : RESUME_OP : [p] "r"(unaligned) : "memory");
    TRY("movdqa", ARM "movdqa %%xmm2, %[o]" RESUME : RESUME_OP, [o] "=m"(scratch) : : "memory");
    CHECK32("lddqu", scratch[0], 0x04030201u);
}

static void probe_ssse3(void)
{
    static const uint32_t bytes[4] A16 = {0x03020100, 0x07060504, 0x0B0A0908, 0x0F0E0D0C};
    static const uint32_t reverse[4] A16 = {0x0C0D0E0F, 0x08090A0B, 0x04050607, 0x00010203};
    static const uint32_t minus5[4] A16 = {0xFBFBFBFB, 0xFBFBFBFB, 0xFBFBFBFB, 0xFBFBFBFB};
    TRY("movdqa", ARM "movdqa %[a], %%xmm0\n\tmovdqa %[m], %%xmm1" RESUME : RESUME_OP
        : [a] "m"(bytes), [m] "m"(reverse) : "memory");
    TRY("pshufb", ARM "pshufb %%xmm1, %%xmm0" RESUME : RESUME_OP : : "memory");
    TRY("movdqa", ARM "movdqa %%xmm0, %[o]" RESUME : RESUME_OP, [o] "=m"(scratch) : : "memory");
    CHECK32("pshufb", scratch[0], 0x0C0D0E0Fu);
    TRY("movdqa", ARM "movdqa %[a], %%xmm0\n\tmovdqa %[m], %%xmm1" RESUME : RESUME_OP
        : [a] "m"(bytes), [m] "m"(reverse) : "memory");
    TRY("palignr", ARM "palignr $4, %%xmm1, %%xmm0" RESUME : RESUME_OP : : "memory");
    TRY("movdqa", ARM "movdqa %%xmm0, %[o]" RESUME : RESUME_OP, [o] "=m"(scratch) : : "memory");
    CHECK32("palignr", scratch[0], 0x08090A0Bu);  /* (xmm0:xmm1) >> 32: xmm1's second dword */
    CHECK32("palignr", scratch[3], 0x03020100u);  /* and xmm0's first */
    TRY("pabsb", ARM "pabsb %[m], %%xmm0" RESUME : RESUME_OP : [m] "m"(minus5) : "memory");
    TRY("movdqa", ARM "movdqa %%xmm0, %[o]" RESUME : RESUME_OP, [o] "=m"(scratch) : : "memory");
    CHECK32("pabsb", scratch[0], 0x05050505u);
}

static void probe_sse41(void)
{
    static const uint32_t a[4] A16 = {2, 3, 4, 5};
    static const uint32_t b[4] A16 = {10, 20, 30, 40};
    uint32_t v = 0;
    TRY("movdqa", ARM "movdqa %[a], %%xmm0" RESUME : RESUME_OP : [a] "m"(a) : "memory");
    TRY("pmulld", ARM "pmulld %[b], %%xmm0" RESUME : RESUME_OP : [b] "m"(b) : "memory");
    TRY("pextrd", ARM "pextrd $2, %%xmm0, %[v]" RESUME : RESUME_OP, [v] "=r"(v) : : "memory");
    CHECK32("pmulld", v, 120u);
    uint8_t zf = 0;
    TRY("ptest", ARM "ptest %[b], %%xmm0\n\tsetz %[zf]" RESUME : RESUME_OP, [zf] "=q"(zf) : [b] "m"(b) : "memory", "cc");
    CHECK32("ptest", zf, 0u);   /* {20,60,120,200} AND {10,20,30,40} is not all zero */
}

static void probe_sse42(void)
{
    static const uint32_t a[4] A16 = {5, 0, 0, 0};
    static const uint32_t b[4] A16 = {3, 0, 9, 0};
    uint32_t crc = 0xFFFFFFFF;
    TRY("crc32", ARM "crc32l %[d], %[c]" RESUME : RESUME_OP, [c] "+r"(crc) : [d] "r"(0x12345678u) : "memory");
    CHECK32("crc32", crc, 0x4DECE20Cu);         /* CRC-32C, polynomial 0x1EDC6F41 */
    TRY("movdqa", ARM "movdqa %[a], %%xmm0" RESUME : RESUME_OP : [a] "m"(a) : "memory");
    TRY("pcmpgtq", ARM "pcmpgtq %[b], %%xmm0" RESUME : RESUME_OP : [b] "m"(b) : "memory");
    TRY("movdqa", ARM "movdqa %%xmm0, %[o]" RESUME : RESUME_OP, [o] "=m"(scratch) : : "memory");
    CHECK64("pcmpgtq", scratch[1], scratch[0], 0xFFFFFFFFu, 0xFFFFFFFFu);
    CHECK64("pcmpgtq", scratch[3], scratch[2], 0u, 0u);
}

static void probe_popcnt(void)
{
    uint32_t n = 0;
    TRY("popcnt", ARM "popcntl %[v], %[n]" RESUME : RESUME_OP, [n] "=r"(n) : [v] "r"(0xF0F00F0Fu) : "memory", "cc");
    CHECK32("popcnt", n, 16u);
}

static void probe_pclmulqdq(void)
{
    static const uint32_t three[4] A16 = {3, 0, 0, 0};
    TRY("movdqa", ARM "movdqa %[a], %%xmm0" RESUME : RESUME_OP : [a] "m"(three) : "memory");
    TRY("pclmulqdq", ARM "pclmulqdq $0, %[a], %%xmm0" RESUME : RESUME_OP : [a] "m"(three) : "memory");
    TRY("movdqa", ARM "movdqa %%xmm0, %[o]" RESUME : RESUME_OP, [o] "=m"(scratch) : : "memory");
    CHECK32("pclmulqdq", scratch[0], 5u);       /* (x + 1)(x + 1) = x^2 + 1 */
}

static void probe_aes(void)
{
    /* One AES round of an all-zero state with an all-zero key: S-box(0) = 0x63 in every byte,
     * which ShiftRows and MixColumns leave as it is (FIPS-197 5.1). */
    TRY("pxor", ARM "pxor %%xmm0, %%xmm0\n\tpxor %%xmm1, %%xmm1" RESUME : RESUME_OP : : "memory");
    TRY("aesenc", ARM "aesenc %%xmm1, %%xmm0" RESUME : RESUME_OP : : "memory");
    TRY("movdqa", ARM "movdqa %%xmm0, %[o]" RESUME : RESUME_OP, [o] "=m"(scratch) : : "memory");
    CHECK32("aesenc", scratch[0], 0x63636363u);
}

static void probe_movbe(void)
{
    static const uint32_t word = 0x11223344;
    uint32_t v = 0;
    TRY("movbe", ARM "movbel %[m], %[v]" RESUME : RESUME_OP, [v] "=r"(v) : [m] "m"(word) : "memory");
    CHECK32("movbe", v, 0x44332211u);
}

static void probe_rdrand(void)
{
    uint32_t v;
    TRY("rdrand", ARM "rdrand %[v]" RESUME : RESUME_OP, [v] "=r"(v) : : "memory", "cc");
    (void)v;
}

static void probe_monitor(void)
{
    /* MONITOR only (MWAIT could sleep); needs CPL 0 (SDM Vol. 2B, MONITOR). */
    TRY("monitor", ARM "monitor" RESUME : RESUME_OP : "a"(scratch), "c"(0), "d"(0) : "memory");
}

/* Whether the family being probed is advertised. */
static int probing_advertised;

static void probe_xsave(void)
{
    /* XGETBV needs CR4.OSXSAVE (SDM Vol. 2C, XGETBV). Where XSAVE is not advertised that bit is
     * reserved and left alone: QEMU 7.2 loops on a MOV to CR4 that sets it instead of raising
     * #GP, and without it XGETBV is #UD anyway. */
    uint32_t old = read_cr4(), lo = 0, hi = 0;
    if (probing_advertised && try_write_cr4(old | CR4_OSXSAVE))
        return;
    arm();
    __asm__ volatile(ARM "xgetbv" RESUME : RESUME_OP, "+a"(lo), "+d"(hi) : "c"(0) : "memory");
    int bad = faulted("xgetbv");
    try_write_cr4(old);
    if (bad)
        return;
    CHECK32("xgetbv", lo & 1u, 1u);             /* XCR0 bit 0 (x87) is always 1 */
}

static void probe_clflush(void)
{
    TRY("clflush", ARM "clflush %[m]" RESUME : RESUME_OP : [m] "m"(scratch[0]) : "memory");
}

/* ---------------------------------------------------------------- control registers, MSRs */

static void probe_de(void)
{
    /* With CR4.DE set, a reference to DR4 or DR5 is #UD (SDM Vol. 3B 18.2.2); the probe wants
     * that fault, so it arms by hand. */
    uint32_t old = read_cr4(), v;
    if (try_write_cr4(old | CR4_DE))
        return;
    arm();
    __asm__ volatile(ARM "mov %%dr4, %[v]" RESUME : RESUME_OP, [v] "=r"(v) : : "memory");
    probe_resume = 0;
    int32_t vector = fault_vector;
    try_write_cr4(old);
    CHECK("mov from dr4", vector == 6, "no #UD with CR4.DE set");
}

static void probe_mce(void)
{
    cr4_bit_sticks(CR4_MCE);
}

static void probe_pge(void)
{
    cr4_bit_sticks(CR4_PGE);
}

static void probe_pat(void)
{
    uint32_t hi, lo;
    if (try_rdmsr(MSR_PAT, &hi, &lo, "rdmsr 0x277"))
        return;
    /* Power-up value: WB WT UC- UC in PA0-3 and again in PA4-7 (SDM Vol. 3A 12.12.4). */
    CHECK64("rdmsr 0x277", hi, lo, 0x00070406u, 0x00070406u);
    if (try_wrmsr(MSR_PAT, hi, (lo & ~0xFF00u) | 0x0100u, "wrmsr 0x277"))  /* PA1 = WC */
        return;
    uint32_t hi2, lo2;
    if (try_rdmsr(MSR_PAT, &hi2, &lo2, "rdmsr 0x277"))
        return;
    try_wrmsr(MSR_PAT, hi, lo, "wrmsr 0x277");
    CHECK64("wrmsr 0x277", hi2, lo2, 0x00070406u, 0x00070106u);
}

static void probe_mtrr(void)
{
    uint32_t hi, lo;
    if (try_rdmsr(MSR_MTRRCAP, &hi, &lo, "rdmsr 0xfe"))
        return;
    /* IA32_MTRRCAP: VCNT in bits 7:0, FIX in bit 8 (SDM Vol. 3A 12.11.2.1). */
    CHECK("rdmsr 0xfe", (lo & 0xFF) != 0 && (lo & 0x100) != 0, "IA32_MTRRCAP reports no variable or no fixed ranges");
    uint32_t ohi, olo;
    if (try_rdmsr(MSR_MTRR_PHYSBASE0, &ohi, &olo, "rdmsr 0x200"))
        return;
    if (try_wrmsr(MSR_MTRR_PHYSBASE0, 0, 0x00000006, "wrmsr 0x200"))  /* base 0, WB; mask stays invalid */
        return;
    if (try_rdmsr(MSR_MTRR_PHYSBASE0, &hi, &lo, "rdmsr 0x200"))
        return;
    try_wrmsr(MSR_MTRR_PHYSBASE0, ohi, olo, "wrmsr 0x200");
    CHECK64("wrmsr 0x200", hi, lo, 0u, 6u);
}

static void probe_mca(void)
{
    uint32_t hi, lo;
    if (try_rdmsr(MSR_MCG_CAP, &hi, &lo, "rdmsr 0x179"))
        return;
    /* IA32_MCG_CAP bits 7:0: the number of error-reporting banks (SDM Vol. 3B 16.3.1.1). */
    CHECK("rdmsr 0x179", (lo & 0xFF) != 0, "IA32_MCG_CAP reports no banks");
    if (try_rdmsr(MSR_MC0_STATUS, &hi, &lo, "rdmsr 0x401"))
        return;
}

/* ---------------------------------------------------------------- SYSENTER */

static uint8_t sep_stack[1024] A16;
volatile uint32_t sep_saved_esp, sep_reached;
extern char sep_target[];

/* Not inlined or cloned: the asm defines the global label sep_target. */
static __attribute__((noinline, noclone)) void probe_sep(void)
{
    uint32_t ohi, olo;
    if (try_rdmsr(MSR_SYSENTER_CS, &ohi, &olo, "rdmsr 0x174"))
        return;
    if (try_wrmsr(MSR_SYSENTER_CS, 0, 0x08, "wrmsr 0x174") ||
        try_wrmsr(MSR_SYSENTER_ESP, 0, (uint32_t)(uintptr_t)(sep_stack + sizeof sep_stack), "wrmsr 0x175") ||
        try_wrmsr(MSR_SYSENTER_EIP, 0, (uint32_t)(uintptr_t)sep_target, "wrmsr 0x176"))
        return;
    /* SYSENTER from ring 0 to ring 0 (SDM Vol. 2B, SYSENTER): CS = 0x08, SS = 0x10, ESP and
     * EIP from the MSRs. The target puts the stack back and carries on after the instruction. */
    sep_reached = 0;
    arm();
    __asm__ volatile(ARM
                     "movl %%esp, sep_saved_esp\n\t"
                     "sysenter\n\t"
                     "jmp 1f\n"
                     ".globl sep_target\n"
                     "sep_target:\n\t"
                     "movl $1, sep_reached\n\t"
                     "movl sep_saved_esp, %%esp"
                     RESUME : RESUME_OP : : "memory");
    int bad = faulted("sysenter");
    try_wrmsr(MSR_SYSENTER_CS, ohi, olo, "wrmsr 0x174");
    if (bad)
        return;
    CHECK("sysenter", sep_reached, "SYSENTER fell through to the next instruction");
}

/* ---------------------------------------------------------------- VME (ring 3) */

/*
 * Protected-mode virtual interrupts, which the VME bit also reports (SDM Vol. 3B 20.4): with
 * CR4.PVI set, STI and CLI at CPL 3 with IOPL 0 set and clear EFLAGS.VIF instead of raising
 * #GP. The probe drops to ring 3 through IRET, runs STI, PUSHF, CLI, PUSHF there and comes
 * back through INT 0x81 (a DPL-3 gate), which restores the kernel stack saved by run_user.
 */
uint8_t user_stack[1024] A16;
volatile uint32_t user_saved_esp;
volatile uint32_t pvi_after_sti, pvi_after_cli;
volatile int32_t pvi_sti_fault, pvi_cli_fault;     /* the vector, or -1 */

void run_user(void (*code)(void));
void user_back(void);
void pvi_user(void);

__asm__(
    ".pushsection .text.run_user,\"ax\",@progbits\n"
    ".globl run_user\n"
    "run_user:\n\t"
    "pushl %ebp\n\tpushl %ebx\n\tpushl %esi\n\tpushl %edi\n\t"
    "movl %esp, user_saved_esp\n\t"
    "movl 20(%esp), %eax\n\t"
    "movw $0x23, %cx\n\tmovw %cx, %ds\n\tmovw %cx, %es\n\t"
    "pushl $0x23\n\t"
    "pushl $user_stack + 1024\n\t"
    "pushl $0x2\n\t"                    /* IF = 0, IOPL = 0 */
    "pushl $0x1B\n\t"
    "pushl %eax\n\t"
    "iretl\n"
    ".globl user_back\n"
    "user_back:\n\t"                    /* INT 0x81 from ring 3 */
    "movw $0x10, %ax\n\tmovw %ax, %ds\n\tmovw %ax, %es\n\t"
    "movl user_saved_esp, %esp\n\t"
    "popl %edi\n\tpopl %esi\n\tpopl %ebx\n\tpopl %ebp\n\t"
    "ret\n"
    ".globl pvi_user\n"
    "pvi_user:\n\t"                     /* ring 3 */
    "movl $-1, fault_vector\n\t"
    "movl $1f, probe_resume\n\t"
    "sti\n"
    "1:\tpushfl\n\tpopl pvi_after_sti\n\t"
    "movl $0, probe_resume\n\t"
    "movl fault_vector, %eax\n\tmovl %eax, pvi_sti_fault\n\t"
    "movl $2f, probe_resume\n\t"
    "cli\n"
    "2:\tpushfl\n\tpopl pvi_after_cli\n\t"
    "movl $0, probe_resume\n\t"
    "movl fault_vector, %eax\n\tmovl %eax, pvi_cli_fault\n\t"
    "int $0x81\n"
    ".popsection\n");

static void probe_vme(void)
{
    uint32_t old = read_cr4();
    if (try_write_cr4(old | CR4_VME | CR4_PVI))
        return;
    pvi_after_sti = pvi_after_cli = 0;
    run_user(pvi_user);
    try_write_cr4(old);
    if (pvi_sti_fault >= 0) {
        record_fault("sti at ring 3", pvi_sti_fault, 0);
        return;
    }
    if (pvi_cli_fault >= 0) {
        record_fault("cli at ring 3", pvi_cli_fault, 0);
        return;
    }
    CHECK32("sti at ring 3", pvi_after_sti & (EFLAGS_VIF | EFLAGS_IF), EFLAGS_VIF);
    CHECK32("cli at ring 3", pvi_after_cli & (EFLAGS_VIF | EFLAGS_IF), 0u);
}

/* ---------------------------------------------------------------- paging: PSE, PSE-36, PAE, NX */

#define PG_P  0x001u
#define PG_W  0x002u
#define PG_PS 0x080u

static uint32_t pd32[1024] PAGE_ALIGNED;
static uint64_t pdpt[4] __attribute__((aligned(32)));
static uint64_t pae_pd_low[512] PAGE_ALIGNED;
static uint64_t pae_pd_high[512] PAGE_ALIGNED;
static uint64_t pae_pt[512] PAGE_ALIGNED;
static uint8_t code_page[4096] PAGE_ALIGNED;   /* RET, executed through two mappings */
static volatile uint32_t marker = 0x600DF00D;

#define ALIAS32     0x40000000u         /* 4 MiB page onto physical 0 */
#define ALIAS_PSE36 0x40400000u         /* 4 MiB page onto physical 4 GiB (PDE bit 13) */

/* 32-bit paging with 4 MiB pages (SDM Vol. 3A 4.3): identity 0-4 MiB and the two aliases. */
static int paging32_on(uint32_t alias_pde)
{
    for (int i = 0; i < 1024; i++)
        pd32[i] = 0;
    pd32[0] = PG_P | PG_W | PG_PS;
    pd32[ALIAS32 >> 22] = PG_P | PG_W | PG_PS;
    pd32[ALIAS_PSE36 >> 22] = alias_pde;
    uint32_t cr4 = read_cr4();
    if (try_write_cr4(cr4 | CR4_PSE))
        return -1;
    if (try_write_cr3((uint32_t)(uintptr_t)pd32) || try_write_cr0(read_cr0() | CR0_PG)) {
        try_write_cr4(cr4);
        return -1;
    }
    return 0;
}

static void paging_off(uint32_t cr4_clear)
{
    try_write_cr0(read_cr0() & ~CR0_PG);
    try_write_cr4(read_cr4() & ~cr4_clear);
}

static void probe_pse(void)
{
    if (paging32_on(0) != 0)
        return;
    uint32_t v = 0;
    arm();
    __asm__ volatile(ARM "movl (%[a]), %[v]" RESUME : RESUME_OP, [v] "=r"(v)
                     : [a] "r"(ALIAS32 + (uint32_t)(uintptr_t)&marker) : "memory");
    int bad = faulted("mov through a 4 MiB page");
    paging_off(CR4_PSE);
    if (bad)
        return;
    CHECK32("mov through a 4 MiB page", v, 0x600DF00Du);
}

static void probe_pse36(void)
{
    /* Bits 20:13 of a 4 MiB PDE are physical-address bits 39:32 (SDM Vol. 3A 4.3, table 4-4):
     * bit 13 puts the page at 4 GiB, where there is no RAM. Reading it must not see the
     * marker that lies at the same offset below 4 GiB. */
    if (paging32_on((1u << 13) | PG_P | PG_W | PG_PS) != 0)
        return;
    uint32_t v = 0;
    arm();
    __asm__ volatile(ARM "movl (%[a]), %[v]" RESUME : RESUME_OP, [v] "=r"(v)
                     : [a] "r"(ALIAS_PSE36 + (uint32_t)(uintptr_t)&marker) : "memory");
    int bad = faulted("mov through a PSE-36 page");
    paging_off(CR4_PSE);
    if (bad)
        return;
    CHECK("mov through a PSE-36 page", v != 0x600DF00Du, "the 4 MiB page at 4 GiB read RAM below 4 GiB");
}

#define ALIAS_PAE   0x40200000u         /* 2 MiB page onto physical 0 */
#define XD_PAGE     0x40000000u         /* code_page, execute-disable */
#define EXEC_PAGE   0x40001000u         /* code_page, executable */
#define PTE_XD_HI   0x80000000u         /* bit 63 */

/* PAE paging (SDM Vol. 3A 4.4): 0-4 MiB identity with 2 MiB pages, at 1 GiB a page table
 * mapping code_page twice (with and without XD) and a 2 MiB alias of physical 0. */
static int paging_pae_on(void)
{
    uint32_t code = (uint32_t)(uintptr_t)code_page;
    for (int i = 0; i < 512; i++)
        pae_pd_low[i] = pae_pd_high[i] = pae_pt[i] = 0;
    pae_pd_low[0] = 0x000000u | PG_P | PG_W | PG_PS;
    pae_pd_low[1] = 0x200000u | PG_P | PG_W | PG_PS;
    pae_pd_high[0] = (uint32_t)(uintptr_t)pae_pt | PG_P | PG_W;
    pae_pd_high[1] = 0x000000u | PG_P | PG_W | PG_PS;
    pae_pt[0] = ((uint64_t)PTE_XD_HI << 32) | code | PG_P | PG_W;
    pae_pt[1] = code | PG_P | PG_W;
    pdpt[0] = (uint32_t)(uintptr_t)pae_pd_low | PG_P;
    pdpt[1] = (uint32_t)(uintptr_t)pae_pd_high | PG_P;
    pdpt[2] = pdpt[3] = 0;
    code_page[0] = 0xC3;        /* RET */
    code_page[1] = 0xC3;
    uint32_t cr4 = read_cr4();
    if (try_write_cr4(cr4 | CR4_PAE))
        return -1;
    if (try_write_cr3((uint32_t)(uintptr_t)pdpt) || try_write_cr0(read_cr0() | CR0_PG)) {
        try_write_cr4(cr4);
        return -1;
    }
    return 0;
}

static void probe_pae(void)
{
    if (paging_pae_on() != 0)
        return;
    uint32_t v = 0;
    arm();
    __asm__ volatile(ARM "movl (%[a]), %[v]" RESUME : RESUME_OP, [v] "=r"(v)
                     : [a] "r"(ALIAS_PAE + (uint32_t)(uintptr_t)&marker) : "memory");
    int bad = faulted("mov through a PAE 2 MiB page");
    paging_off(CR4_PAE);
    if (bad)
        return;
    CHECK32("mov through a PAE 2 MiB page", v, 0x600DF00Du);
}

volatile uint32_t call_saved_esp;

/* Calls addr (a RET). A fault there resumes after the call with the stack put back; returns
 * its vector (the error code is in fault_error), or -1. */
static int32_t call_at(uint32_t addr)
{
    arm();
    __asm__ volatile(ARM
                     "movl %%esp, call_saved_esp\n\t"
                     "call *%[a]"
                     RESUME
                     "movl call_saved_esp, %%esp"
                     : RESUME_OP : [a] "r"(addr) : "memory", "eax", "ecx", "edx");
    probe_resume = 0;
    return fault_vector;
}

static void probe_nx(void)
{
    /* IA32_EFER.NXE turns bit 63 of PAE entries into execute-disable (SDM Vol. 3A 4.6.2):
     * a fetch from such a page is a #PF with P and I/D (bit 4) in the error code (4.7). */
    uint32_t ehi, elo, hi, lo;
    if (try_rdmsr(MSR_EFER, &ehi, &elo, "rdmsr 0xc0000080"))
        return;
    if (try_wrmsr(MSR_EFER, ehi, elo | EFER_NXE, "wrmsr 0xc0000080"))
        return;
    if (try_rdmsr(MSR_EFER, &hi, &lo, "rdmsr 0xc0000080") ||
        wrong32("wrmsr 0xc0000080", lo & EFER_NXE, EFER_NXE) || paging_pae_on() != 0) {
        try_wrmsr(MSR_EFER, ehi, elo, "wrmsr 0xc0000080");
        return;
    }
    int32_t exec_vector = call_at(EXEC_PAGE);
    uint32_t exec_error = fault_error;
    int32_t xd_vector = exec_vector < 0 ? call_at(XD_PAGE) : -1;
    uint32_t xd_error = fault_error;
    paging_off(CR4_PAE);
    try_wrmsr(MSR_EFER, ehi, elo, "wrmsr 0xc0000080");
    if (exec_vector >= 0) {
        record_fault("call into an executable page", exec_vector, exec_error);
        return;
    }
    CHECK("call into an execute-disable page", xd_vector >= 0, "it ran");
    CHECK32("call into an execute-disable page", (uint32_t)xd_vector, 14u);
    CHECK32("call into an execute-disable page", xd_error & 0x11u, 0x11u);
}

/* SMEP and SMAP (SDM Vol. 3A 4.6.1): with CR4.SMEP a supervisor-mode fetch from a user page is
 * a #PF with I/D in the error code; with CR4.SMAP a supervisor-mode read of a user page is a #PF
 * unless EFLAGS.AC is set (STAC sets it, CLAC clears it). code_page is made a user page at
 * EXEC_PAGE (its PDE and PTE get U/S). */
#define PG_U  0x004u

static int paging_pae_user_on(uint32_t cr4_bit)
{
    if (paging_pae_on() != 0)
        return -1;
    pae_pd_high[0] |= PG_U;
    pae_pt[1] |= PG_U;
    if (try_write_cr4(read_cr4() | cr4_bit) || try_write_cr3((uint32_t)(uintptr_t)pdpt)) {
        paging_off(CR4_PAE | cr4_bit);
        return -1;
    }
    return 0;
}

static void probe_smep(void)
{
    if (paging_pae_user_on(CR4_SMEP) != 0)
        return;
    int32_t vector = call_at(EXEC_PAGE);
    uint32_t error = fault_error;
    paging_off(CR4_PAE | CR4_SMEP);
    CHECK("call into a user page at CPL 0", vector >= 0, "it ran");
    CHECK32("call into a user page at CPL 0", (uint32_t)vector, 14u);
    CHECK32("call into a user page at CPL 0", error & 0x15u, 0x11u);
}

static void probe_smap(void)
{
    if (paging_pae_user_on(CR4_SMAP) != 0)
        return;
    uint32_t v = 0, denied = 0;
    arm();
    __asm__ volatile(ARM "stac" RESUME : RESUME_OP : : "memory");
    int bad = faulted("stac");
    if (!bad) {
        arm();
        __asm__ volatile(ARM "movzbl (%[a]), %[v]" RESUME : RESUME_OP, [v] "=r"(v) : [a] "r"(EXEC_PAGE) : "memory");
        bad = faulted("read of a user page after stac");
    }
    if (!bad) {
        arm();
        __asm__ volatile(ARM "clac" RESUME : RESUME_OP : : "memory");
        bad = faulted("clac");
    }
    int32_t vector = -1;
    uint32_t error = 0;
    if (!bad) {
        arm();
        __asm__ volatile(ARM "movzbl (%[a]), %[v]" RESUME : RESUME_OP, [v] "+r"(denied) : [a] "r"(EXEC_PAGE) : "memory");
        probe_resume = 0;
        vector = fault_vector;
        error = fault_error;
    }
    paging_off(CR4_PAE | CR4_SMAP);
    if (bad)
        return;
    CHECK32("read of a user page after stac", v, 0xC3u);
    CHECK("read of a user page after clac", vector >= 0, "it read the page");
    CHECK32("read of a user page after clac", (uint32_t)vector, 14u);
    CHECK32("read of a user page after clac", error & 0x17u, 0x01u);
}

static void probe_rdtscp(void)
{
    /* RDTSCP returns the TSC and IA32_TSC_AUX in ECX (SDM Vol. 2B, RDTSCP). */
    uint32_t lo1, hi1, lo2, hi2, aux = 0;
    if (try_wrmsr(MSR_TSC_AUX, 0, 0x1234u, "wrmsr 0xc0000103"))
        return;
    TRY("rdtscp", ARM "rdtscp" RESUME : RESUME_OP, "=a"(lo1), "=d"(hi1), "=c"(aux) : : "memory");
    CHECK32("rdtscp", aux, 0x1234u);
    TRY("rdtscp", ARM "rdtscp" RESUME : RESUME_OP, "=a"(lo2), "=d"(hi2), "=c"(aux) : : "memory");
    CHECK("rdtscp", hi2 > hi1 || (hi2 == hi1 && lo2 > lo1), "the TSC did not advance");
}

static void probe_apic(void)
{
    /* The local APIC's version register at its default base (SDM Vol. 3A 10.4.8): open bus
     * (all ones or zeros) where there is none. */
    uint32_t v = 0;
    TRY("mov from 0xfee00030", ARM "movl 0xFEE00030, %[v]" RESUME : RESUME_OP, [v] "=r"(v) : : "memory");
    CHECK("mov from 0xfee00030", v != 0xFFFFFFFFu && v != 0, "no APIC version register");
}

/*
 * The local APIC timer's TSC-deadline mode (SDM Vol. 3A 10.5.4.1): with the LVT timer entry in
 * that mode (masked: no interrupt is wanted here), IA32_TSC_DEADLINE (0x6E0) reads back a deadline
 * far ahead, and a deadline just ahead expires: the MSR reads 0 again within about a second of TSC.
 */
static void probe_tsc_deadline(void)
{
    volatile uint32_t *svr = (volatile uint32_t *)0xFEE000F0, *lvt_timer = (volatile uint32_t *)0xFEE00320;
    uint32_t old_svr = *svr, old_lvt = *lvt_timer, hi, lo, t_lo, t_hi;
    *svr = old_svr | 0x100;                         /* software-enabled */
    *lvt_timer = (2u << 17) | (1u << 16) | 0x40;    /* TSC-deadline mode, masked, vector 0x40 */
    __asm__ volatile("rdtsc" : "=a"(t_lo), "=d"(t_hi));
    if (try_wrmsr(0x6E0, t_hi + 0x1000, t_lo, "wrmsr 0x6e0 (far)") || try_rdmsr(0x6E0, &hi, &lo, "rdmsr 0x6e0"))
        goto out;
    if (wrong64("rdmsr 0x6e0", hi, lo, t_hi + 0x1000, t_lo))
        goto out;
    __asm__ volatile("rdtsc" : "=a"(t_lo), "=d"(t_hi));
    if (try_wrmsr(0x6E0, t_hi, t_lo + 0x10000 < t_lo ? t_lo : t_lo + 0x10000, "wrmsr 0x6e0 (near)"))
        goto out;
    for (;;) {
        uint32_t n_lo, n_hi;
        if (try_rdmsr(0x6E0, &hi, &lo, "rdmsr 0x6e0 (expiry)"))
            goto out;
        if ((hi | lo) == 0)
            break;
        __asm__ volatile("rdtsc" : "=a"(n_lo), "=d"(n_hi));
        if (n_hi > t_hi + 1) {                      /* 2^32 TSC ticks: a second or two */
            wrong_because("rdmsr 0x6e0 (expiry)", 1, "the deadline never expired");
            goto out;
        }
    }
out:
    *lvt_timer = old_lvt;
    *svr = old_svr;
}

/* ---------------------------------------------------------------- the families */

enum reg { L1_EDX, L1_ECX, X1_EDX, X1_ECX, L7_EBX };
static const char *const reg_names[] = {"leaf1-edx", "leaf1-ecx", "ext1-edx", "ext1-ecx", "leaf7-ebx"};

struct family {
    const char *name;
    enum reg reg;
    uint8_t bit;
    void (*probe)(void);        /* 0: cannot be tried here (said so in `why`) */
    const char *why;
    int flag;                   /* a bit that reports, rather than enables, anything */
};

#define PROBE(name, reg, bit, probe) {name, reg, bit, probe, 0, 0}
#define UNTRIED(name, reg, bit, why) {name, reg, bit, 0, why, 0}
#define FLAG(name, reg, bit, why) {name, reg, bit, 0, why, 1}

/* SDM Vol. 2A, CPUID, tables 3-10 (ECX) and 3-11 (EDX); leaf 0x80000001 in table 3-8. */
static const struct family families[] = {
    PROBE("fpu", L1_EDX, 0, probe_fpu),
    PROBE("vme", L1_EDX, 1, probe_vme),
    PROBE("de", L1_EDX, 2, probe_de),
    PROBE("pse", L1_EDX, 3, probe_pse),
    PROBE("tsc", L1_EDX, 4, probe_tsc),
    PROBE("msr", L1_EDX, 5, probe_msr),
    PROBE("pae", L1_EDX, 6, probe_pae),
    PROBE("mce", L1_EDX, 7, probe_mce),
    PROBE("cx8", L1_EDX, 8, probe_cx8),
    PROBE("apic", L1_EDX, 9, probe_apic),
    PROBE("sep", L1_EDX, 11, probe_sep),
    PROBE("mtrr", L1_EDX, 12, probe_mtrr),
    PROBE("pge", L1_EDX, 13, probe_pge),
    PROBE("mca", L1_EDX, 14, probe_mca),
    PROBE("cmov", L1_EDX, 15, probe_cmov),
    PROBE("pat", L1_EDX, 16, probe_pat),
    PROBE("pse36", L1_EDX, 17, probe_pse36),
    PROBE("clflush", L1_EDX, 19, probe_clflush),
    PROBE("mmx", L1_EDX, 23, probe_mmx),
    PROBE("fxsr", L1_EDX, 24, probe_fxsr),
    PROBE("sse", L1_EDX, 25, probe_sse),
    PROBE("sse2", L1_EDX, 26, probe_sse2),
    PROBE("sse3", L1_ECX, 0, probe_sse3),
    PROBE("pclmulqdq", L1_ECX, 1, probe_pclmulqdq),
    PROBE("monitor", L1_ECX, 3, probe_monitor),
    PROBE("ssse3", L1_ECX, 9, probe_ssse3),
    UNTRIED("cx16", L1_ECX, 13, "CMPXCHG16B exists only in 64-bit mode"),
    PROBE("sse4.1", L1_ECX, 19, probe_sse41),
    PROBE("sse4.2", L1_ECX, 20, probe_sse42),
    PROBE("movbe", L1_ECX, 22, probe_movbe),
    PROBE("popcnt", L1_ECX, 23, probe_popcnt),
    PROBE("tsc-deadline", L1_ECX, 24, probe_tsc_deadline),
    PROBE("aes", L1_ECX, 25, probe_aes),
    PROBE("xsave", L1_ECX, 26, probe_xsave),
    PROBE("rdrand", L1_ECX, 30, probe_rdrand),
    FLAG("hypervisor", L1_ECX, 31, "it says the CPU is virtual and enables nothing"),
    UNTRIED("syscall", X1_EDX, 11, "SYSCALL is a 64-bit-mode instruction on Intel processors"),
    PROBE("nx", X1_EDX, 20, probe_nx),
    PROBE("rdtscp", X1_EDX, 27, probe_rdtscp),
    UNTRIED("lm", X1_EDX, 29, "64-bit mode is outside a 32-bit guest"),
    PROBE("smep", L7_EBX, 7, probe_smep),
    PROBE("smap", L7_EBX, 20, probe_smap),
};

#define NFAMILIES (sizeof families / sizeof families[0])

static const char *vector_name(uint32_t v)
{
    switch (v) {
    case 6: return "#UD";
    case 7: return "#NM";
    case 13: return "#GP";
    case 14: return "#PF";
    case 16: return "#MF";
    case 19: return "#XM";
    default: return 0;
    }
}

static void print_outcome(void)
{
    if (res.outcome == EXECUTES) {
        put_str("executes");
        return;
    }
    if (res.outcome == FAULTS) {
        const char *name = vector_name(res.vector);
        if (name) {
            put_str(name);
        } else {
            put_str("exception ");
            put_dec(res.vector);
        }
        put_str(" at ");
        put_str(res.at);
        if (res.vector == 13 || res.vector == 14) {
            put_str(" (error ");
            put_hex32(res.error);
            put_char(')');
        }
        return;
    }
    put_str("wrong result at ");
    put_str(res.at);
    if (res.why) {
        put_str(" (");
        put_str(res.why);
        put_char(')');
        return;
    }
    put_str(" (got ");
    put_hex64(res.got_hi, res.got);
    put_str(", expected ");
    put_hex64(res.want_hi, res.want);
    put_char(')');
}

/* The state every probe starts from: x87 and SSE usable (SDM Vol. 3A 2.5, 13.1.3). */
static void baseline(void)
{
    uint32_t cr0 = read_cr0();
    try_write_cr0((cr0 | CR0_MP | CR0_NE) & ~(CR0_EM | CR0_TS));
    try_write_cr4(read_cr4() | CR4_OSFXSR | CR4_OSXMMEXCPT);
}

void kmain(uint32_t magic, const struct multiboot_info *mbi)
{
    uart_init();
    mb_require_magic(magic);
    load_tables(user_back);

    /* OCW1: mask every IRQ on both 8259As; the VME probe may set IF for a moment. */
    outb(0x21, 0xFF);
    outb(0xA1, 0xFF);

    uint32_t try_unadvertised = 1;
    cmdline_u32(mb_cmdline(mbi), "unadvertised", &try_unadvertised);

    struct regs4 l1 = cpuid(1);
    struct regs4 x0 = cpuid(0x80000000u);
    struct regs4 x1 = {0, 0, 0, 0};
    if (x0.eax >= 0x80000001u && x0.eax <= 0x8000FFFFu)
        x1 = cpuid(0x80000001u);
    struct regs4 l0 = cpuid(0);
    struct regs4 l7 = {0, 0, 0, 0};
    if (l0.eax >= 7)
        l7 = cpuid(7);
    uint32_t bits[5] = {l1.edx, l1.ecx, x1.edx, x1.ecx, l7.ebx};

    put_str("cpuid 1: edx ");
    put_hex32(l1.edx);
    put_str(" ecx ");
    put_hex32(l1.ecx);
    put_str("; 0x80000001: edx ");
    put_hex32(x1.edx);
    put_str(" ecx ");
    put_hex32(x1.ecx);
    put_str("; 7: ebx ");
    put_hex32(l7.ebx);
    put_char('\n');

    uint32_t advertised = 0, failing = 0, known[5] = {0, 0, 0, 0, 0};
    for (uint32_t i = 0; i < NFAMILIES; i++) {
        const struct family *fam = &families[i];
        int on = (bits[fam->reg] >> fam->bit) & 1;
        known[fam->reg] |= 1u << fam->bit;
        put_str("feature ");
        put_str(fam->name);
        put_str(on ? ": advertised" : ": not advertised");
        if (on && !fam->flag)
            advertised++;
        if (!fam->probe) {
            put_str(", not tried: ");
            put_str(fam->why);
            if (on && !fam->flag)
                failing++;
            put_char('\n');
            continue;
        }
        if (!on && !try_unadvertised) {
            put_str(", not tried\n");
            continue;
        }
        baseline();
        probing_advertised = on;
        res.outcome = EXECUTES;
        fam->probe();
        put_str(", ");
        if (!on && res.outcome == EXECUTES)
            put_str("executes anyway");
        else
            print_outcome();
        put_char('\n');
        if (on && res.outcome != EXECUTES)
            failing++;
        if (fam->probe == probe_msr && ia32_tsc_stuck) {
            put_str("note: rdmsr of IA32_TSC (0x10) reads ");
            put_hex64(ia32_tsc_hi, ia32_tsc_lo);
            put_str(" while rdtsc counts\n");
        }
        if (fam->probe == probe_sse && mxcsr_at_entry_odd) {
            put_str("note: MXCSR at entry was ");
            put_hex32(mxcsr_at_entry);
            put_str(", not its power-up value 0x00001f80\n");
        }
    }

    /* A set bit this kernel has no family for is not known to work either. */
    for (int r = 0; r < 5; r++) {
        uint32_t unknown = bits[r] & ~known[r];
        for (int b = 0; b < 32; b++) {
            if (!((unknown >> b) & 1))
                continue;
            put_str("feature ");
            put_str(reg_names[r]);
            put_str("-bit");
            put_dec((uint32_t)b);
            put_str(": advertised, no probe\n");
            advertised++;
            failing++;
        }
    }

    put_str("advertised families: ");
    put_dec(advertised);
    put_str(", failing: ");
    put_dec(failing);
    put_char('\n');
    guest_exit(failing ? EXIT_FAILED : EXIT_OK);
}
