/*
 * frames - exception frames and return addresses hold the addresses of the guest's own code,
 * one line per step:
 *   a. #DE from a DIV in a function that is not inlined: the frame's EIP is the DIV (a fault,
 *      SDM Vol. 3 §6.15 "Interrupt 0"); the handler moves EIP past it and the function goes on;
 *   b. INT3 in a function: the frame's EIP is the instruction after the INT3 (a trap, §6.15
 *      "Interrupt 3");
 *   c. #PF in a function reading a not-present page: EIP is the faulting MOV, CR2 the address
 *      read, error code 0 (§6.15 "Interrupt 14", §4.7); the handler maps the page and the MOV
 *      is restarted;
 *   d. return addresses: __builtin_return_address(0) in a function called from an asm CALL is
 *      the label after that CALL, and in a function called from C it follows a CALL (E8 rel32)
 *      of that function inside its caller; an asm function that reads [esp] sees the label after
 *      its CALL; a function that adds 5 to its return address makes the RET skip the 5-byte MOV
 *      after the CALL; PUSH + RET goes where the pushed address says;
 *   e. a timer interrupt taken inside a loop: the 8254 at 1 kHz through the 8259A (IRQ 0 at
 *      vector 0x20, the only line unmasked), STI, and a loop between two labels until 20 ticks
 *      have arrived: the handler records every frame's EIP, each lies within the loop (an
 *      interrupt is taken at an instruction boundary, its frame holds the next instruction,
 *      §6.6 and §6.12.1);
 *   f. REP MOVSD faulting half-way: 2048 dwords copied to a destination 1024 bytes before the
 *      end of a present page, followed by a not-present page: the #PF frame holds EIP at the
 *      instruction, ECX the dwords left (1792), ESI and EDI the element that faulted (Vol. 2B
 *      "REP/REPE/REPZ/REPNE/REPNZ": a repeated string instruction is suspended with its
 *      registers pointing at the next element and resumed by the return from the handler);
 *      the handler maps the page, the copy completes and every dword arrives.
 * Prints "frames ok" and exits with value 0; a failed check prints "FAILED: ..." and exits with
 * value 1, an unexpected exception exits with value 2.
 */
#include "guest.h"
#include "cpu-tables.h"
#include "pc-timer.h"

#define PG_P 0x001u
#define PG_W 0x002u

#define PAGE            4096u
#define REGION          0x40000000u             /* 4 MiB mapped through region_table */
#define PF_PAGE         REGION                  /* step c */
#define PF_OFFSET       0x10u
#define COPY_PAGE0      (REGION + 0x10000u)     /* step f: present */
#define COPY_PAGE1      (REGION + 0x11000u)     /* step f: not present until the #PF */
#define COPY_PAGE2      (REGION + 0x12000u)     /* step f: present */
#define COPY_DWORDS     2048u
#define COPY_DEST       (COPY_PAGE1 - 1024u)
#define TICKS           20
#define STRINGIFY(x)    #x
#define TO_STRING(x)    STRINGIFY(x)
#define SPIN_LIMIT      0x40000000u

#define EXIT_CHECK      1
#define EXIT_EXCEPTION  2

enum { PF_FRAME, COPY_FRAME0, COPY_FRAME1, COPY_FRAME2, FRAME_COUNT };

static uint32_t page_directory[1024] __attribute__((aligned(4096)));
static uint32_t low_table[1024] __attribute__((aligned(4096)));      /* 0-4 MiB identity */
static uint32_t region_table[1024] __attribute__((aligned(4096)));   /* REGION */
static uint8_t frames[FRAME_COUNT][PAGE] __attribute__((aligned(4096)));
static uint32_t copy_source[COPY_DWORDS];

/* Labels inside the functions below (each is noipa: exactly one copy, never inlined). */
extern char div_site[], div_resume[], int3_after[], pf_site[], ra_site_c[], ra_site_asm[],
    ra_skipped[], ra_pushed[], timer_loop_start[], timer_loop_end[], rep_site[];

/* ---------------------------------------------------------------- helpers */

static void fail(const char *what)
{
    guest_fail(what, EXIT_CHECK);
}

static void fail_value(const char *what, uint32_t got, uint32_t expected)
{
    put_str("FAILED: ");
    put_str(what);
    put_str(": ");
    put_hex32(got);
    put_str(", expected ");
    put_hex32(expected);
    put_char('\n');
    guest_exit(EXIT_CHECK);
}

static uint32_t address_of(const void *p)
{
    return (uint32_t)(uintptr_t)p;
}

static volatile uint32_t *region_pte(uint32_t va)
{
    return &region_table[(va - REGION) >> 12];
}

static void map(uint32_t va, unsigned frame)
{
    *region_pte(va) = address_of(frames[frame]) | PG_W | PG_P;
}

/* ---------------------------------------------------------------- exceptions */

enum expect { EXPECT_NONE, EXPECT_DE, EXPECT_BP, EXPECT_PF_READ, EXPECT_PF_REP };

static volatile enum expect expecting = EXPECT_NONE;
/* What the handler saw in the frame of the expected exception. */
static volatile uint32_t seen_count, seen_eip, seen_cr2, seen_error, seen_ecx, seen_esi, seen_edi;

void exception_dispatch(struct frame *f)
{
    enum expect e = expecting;
    int match = (e == EXPECT_DE && f->vector == 0) || (e == EXPECT_BP && f->vector == 3) ||
                ((e == EXPECT_PF_READ || e == EXPECT_PF_REP) && f->vector == 14);
    if (!match)
        fail_on_exception(f, EXIT_EXCEPTION);
    expecting = EXPECT_NONE;
    seen_count++;
    seen_eip = f->eip;
    seen_error = f->error;
    seen_ecx = f->ecx;
    seen_esi = f->esi;
    seen_edi = f->edi;
    if (f->vector == 14)
        seen_cr2 = read_cr2();
    switch (e) {
    case EXPECT_DE:
        f->eip = address_of(div_resume);    /* skip the DIV */
        f->eax = 0xD1D1D1D1u;               /* the quotient the function returns instead */
        break;
    case EXPECT_PF_READ:
        map(PF_PAGE, PF_FRAME);     /* not-present entries are not cached (§4.10.4.3) */
        break;
    case EXPECT_PF_REP:
        map(COPY_PAGE1, COPY_FRAME1);
        break;
    default:
        break;
    }
}

static void arm(enum expect e)
{
    seen_count = 0;
    seen_eip = seen_cr2 = seen_error = seen_ecx = seen_esi = seen_edi = 0xFFFFFFFFu;
    expecting = e;
}

static void expect_one(const char *what)
{
    if (seen_count != 1 || expecting != EXPECT_NONE) {
        put_str("FAILED: ");
        put_str(what);
        put_str(": the exception was not taken\n");
        guest_exit(EXIT_CHECK);
    }
}

/* ---------------------------------------------------------------- a. #DE */

static __attribute__((noipa)) uint32_t divide(uint32_t dividend, uint32_t divisor)
{
    uint32_t q;
    __asm__ volatile("xorl %%edx, %%edx\n"
                     "div_site:\n\t"
                     "divl %2\n"
                     "div_resume:"
                     : "=a"(q) : "a"(dividend), "r"(divisor) : "edx", "cc");
    return q;
}

static void divide_error(void)
{
    volatile uint32_t zero = 0;
    arm(EXPECT_DE);
    uint32_t q = divide(1234, zero);
    expect_one("#DE");
    if (seen_eip != address_of(div_site))
        fail_value("#DE frame eip", seen_eip, address_of(div_site));
    if (q != 0xD1D1D1D1u)
        fail_value("#DE: the function did not go on after the skipped DIV", q, 0xD1D1D1D1u);
    if (divide(1234, 10) != 123)
        fail("DIV after the #DE");
    put_str("de eip ok\n");
}

/* ---------------------------------------------------------------- b. INT3 */

static __attribute__((noipa)) uint32_t breakpoint(uint32_t x)
{
    __asm__ volatile("int3\n"
                     "int3_after:" : "+r"(x) : : "memory");
    return x + 1;
}

static void int3_frame(void)
{
    arm(EXPECT_BP);
    uint32_t r = breakpoint(41);
    expect_one("int3");
    if (seen_eip != address_of(int3_after))
        fail_value("int3 frame eip", seen_eip, address_of(int3_after));
    if (r != 42)
        fail("int3: the function did not go on after the INT3");
    put_str("int3 eip ok\n");
}

/* ---------------------------------------------------------------- c. #PF */

static __attribute__((noipa)) uint32_t read_at(uint32_t va)
{
    uint32_t v;
    __asm__ volatile("pf_site:\n\t"
                     "movl (%1), %0" : "=r"(v) : "r"(va) : "memory");
    return v;
}

static void page_fault_frame(void)
{
    *(volatile uint32_t *)(frames[PF_FRAME] + PF_OFFSET) = 0x600DF00Du;
    arm(EXPECT_PF_READ);
    uint32_t v = read_at(PF_PAGE + PF_OFFSET);
    expect_one("#PF");
    if (seen_eip != address_of(pf_site))
        fail_value("#PF frame eip", seen_eip, address_of(pf_site));
    if (seen_cr2 != PF_PAGE + PF_OFFSET)
        fail_value("#PF cr2", seen_cr2, PF_PAGE + PF_OFFSET);
    if (seen_error != 0)
        fail_value("#PF error code (supervisor read, not present)", seen_error, 0);
    if (v != 0x600DF00Du)
        fail_value("#PF: the restarted MOV read", v, 0x600DF00Du);
    put_str("pf eip ok\n");
}

/* ---------------------------------------------------------------- d. return addresses */

uint32_t return_address_c(void);
uint32_t return_address_asm(void);
uint32_t skip_five(void);
uint32_t caller_of_inner(void);
uint32_t inner(void);

/* Called from an asm CALL below: its return address is the label after that CALL. */
__attribute__((noipa)) uint32_t return_address_c(void)
{
    return address_of(__builtin_return_address(0));
}

/* Called from C: its return address follows the CALL to it in caller_of_inner. */
__attribute__((noipa)) uint32_t inner(void)
{
    return address_of(__builtin_return_address(0));
}

__attribute__((noipa)) uint32_t caller_of_inner(void)
{
    uint32_t ra = inner();
    __asm__ volatile("" : "+r"(ra));   /* work after the call: a CALL, not a tail JMP */
    return ra;
}

/* return_address_asm: EAX = [ESP], the return address. skip_five: returns 5 bytes further. */
__asm__(".text\n"
        "return_address_asm:\n"
        "    movl (%esp), %eax\n"
        "    ret\n"
        "skip_five:\n"
        "    addl $5, (%esp)\n"
        "    ret\n");

static __attribute__((noipa)) void return_addresses(void)
{
    uint32_t from_c, from_asm, skipped, pushed;
    __asm__ volatile("call return_address_c\n"
                     "ra_site_c:"
                     : "=a"(from_c) : : "ecx", "edx", "memory", "cc");
    if (from_c != address_of(ra_site_c))
        fail_value("__builtin_return_address(0) after an asm CALL", from_c, address_of(ra_site_c));

    __asm__ volatile("call return_address_asm\n"
                     "ra_site_asm:"
                     : "=a"(from_asm) : : "ecx", "edx", "memory", "cc");
    if (from_asm != address_of(ra_site_asm))
        fail_value("return address read from the stack", from_asm, address_of(ra_site_asm));

    __asm__ volatile("xorl %0, %0\n\t"
                     "call skip_five\n\t"
                     "movl $1, %0\n"                /* B8 imm32: the 5 bytes skipped */
                     "ra_skipped:"
                     : "=&a"(skipped) : : "memory", "cc");
    if (skipped != 0)
        fail("a RET to a return address changed on the stack ran the skipped MOV");

    __asm__ volatile("movl $2, %0\n\t"
                     "pushl $ra_pushed\n\t"
                     "ret\n\t"
                     "movl $3, %0\n"                /* never runs */
                     "ra_pushed:"
                     : "=&a"(pushed) : : "memory", "cc");
    if (pushed != 2)
        fail("PUSH + RET did not go to the pushed address");

    /* C calls C: the return address follows an E8 rel32 whose target is inner(). */
    uint32_t ra = caller_of_inner(), caller = address_of((const void *)caller_of_inner);
    const uint8_t *call = (const uint8_t *)(uintptr_t)(ra - 5);
    uint32_t rel = (uint32_t)call[1] | (uint32_t)call[2] << 8 | (uint32_t)call[3] << 16 |
                   (uint32_t)call[4] << 24;
    if (ra <= caller || ra - caller >= 256 || call[0] != 0xE8 ||
        ra + rel != address_of((const void *)inner))
        fail_value("__builtin_return_address(0) is not after the CALL in its caller", ra, caller);
    put_str("return addresses ok\n");
}

/* ---------------------------------------------------------------- e. timer */

volatile uint32_t timer_ticks;
volatile uint32_t timer_eips[TICKS];
void timer_entry(void);
/* IRQ 0: records the frame's EIP for the first TICKS ticks, counts, EOI (8259A OCW2). */
__asm__(".text\n"
        "timer_entry:\n"
        "    pushl %eax\n"
        "    pushl %edx\n"
        "    movl timer_ticks, %eax\n"
        "    cmpl $" TO_STRING(TICKS) ", %eax\n"
        "    jae 1f\n"
        "    movl 8(%esp), %edx\n"              /* the frame's EIP, under the two pushes */
        "    movl %edx, timer_eips(,%eax,4)\n"
        "1:  incl %eax\n"
        "    movl %eax, timer_ticks\n"
        "    movb $0x20, %al\n"
        "    outb %al, $0x20\n"
        "    popl %edx\n"
        "    popl %eax\n"
        "    iretl\n");

/* Spins between timer_loop_start and timer_loop_end until TICKS ticks; returns spins left. */
static __attribute__((noipa)) uint32_t spin_until_ticks(void)
{
    uint32_t left;
    __asm__ volatile("movl %1, %%ecx\n\t"
                     "xorl %%edx, %%edx\n\t"
                     "sti\n"
                     "timer_loop_start:\n\t"
                     "addl %%ecx, %%edx\n\t"
                     "roll $3, %%edx\n\t"
                     "cmpl %2, timer_ticks\n\t"
                     "jae 1f\n\t"
                     "decl %%ecx\n\t"
                     "jnz timer_loop_start\n"
                     "1:\n"
                     "timer_loop_end:\n\t"
                     "cli"
                     : "=&c"(left)
                     : "i"(SPIN_LIMIT), "i"(TICKS)
                     : "edx", "memory", "cc");
    return left;
}

static void timer_in_loop(void)
{
    set_interrupt_gate(0x20, timer_entry, 0);
    start_timer_1khz();

    uint32_t left = spin_until_ticks();
    outb(0x21, 0xFF);           /* mask IRQ 0 again: nothing arrives after this step */
    if (left == 0 || timer_ticks < TICKS)
        fail("timer: the loop ended before 20 timer interrupts arrived");
    uint32_t start = address_of(timer_loop_start), end = address_of(timer_loop_end);
    for (uint32_t i = 0; i < TICKS; i++) {
        if (timer_eips[i] < start || timer_eips[i] > end) {
            put_str("FAILED: timer tick ");
            put_dec(i);
            put_str(" interrupted eip ");
            put_hex32(timer_eips[i]);
            put_str(", outside the loop ");
            put_hex32(start);
            put_char('-');
            put_hex32(end);
            put_char('\n');
            guest_exit(EXIT_CHECK);
        }
    }
    put_str("timer eips ok: ");
    put_dec(TICKS);
    put_str(" ticks in loop\n");
}

/* ---------------------------------------------------------------- f. REP MOVSD */

static __attribute__((noipa)) void copy_dwords(uint32_t dest, const uint32_t *src, uint32_t n,
                                               uint32_t after[3])
{
    uint32_t d = dest, s = address_of(src), c = n;
    __asm__ volatile("rep_site:\n\t"
                     "rep movsl"
                     : "+D"(d), "+S"(s), "+c"(c) : : "memory");
    after[0] = c;
    after[1] = s;
    after[2] = d;
}

static uint32_t copy_pattern(uint32_t i)
{
    return i * 0x01000193u ^ 0xC0FFEE00u;
}

static void rep_movsd_fault(void)
{
    map(COPY_PAGE0, COPY_FRAME0);
    *region_pte(COPY_PAGE1) = 0;
    map(COPY_PAGE2, COPY_FRAME2);
    for (uint32_t i = 0; i < COPY_DWORDS; i++)
        copy_source[i] = copy_pattern(i);

    uint32_t after[3];
    arm(EXPECT_PF_REP);
    copy_dwords(COPY_DEST, copy_source, COPY_DWORDS, after);
    expect_one("rep movsd #PF");
    uint32_t fit = (COPY_PAGE1 - COPY_DEST) / 4;
    uint32_t esi = address_of(copy_source) + fit * 4;
    put_str("rep movsd fault: ecx ");
    put_dec(seen_ecx);
    put_str(seen_esi == esi ? " esi ok" : " esi BAD");
    put_str(seen_edi == COPY_PAGE1 ? " edi ok" : " edi BAD");
    put_char('\n');
    if (seen_ecx != COPY_DWORDS - fit)
        fail_value("rep movsd #PF: ecx", seen_ecx, COPY_DWORDS - fit);
    if (seen_esi != esi)
        fail_value("rep movsd #PF: esi", seen_esi, esi);
    if (seen_edi != COPY_PAGE1)
        fail_value("rep movsd #PF: edi", seen_edi, COPY_PAGE1);
    if (seen_eip != address_of(rep_site))
        fail_value("rep movsd #PF: eip", seen_eip, address_of(rep_site));
    if (seen_cr2 != COPY_PAGE1)
        fail_value("rep movsd #PF: cr2", seen_cr2, COPY_PAGE1);
    if (seen_error != 2)
        fail_value("rep movsd #PF: error code (supervisor write, not present)", seen_error, 2);

    if (after[0] != 0 || after[1] != address_of(copy_source) + COPY_DWORDS * 4 ||
        after[2] != COPY_DEST + COPY_DWORDS * 4)
        fail("rep movsd: ecx, esi or edi wrong after the copy completed");
    const volatile uint32_t *dest = (const volatile uint32_t *)(uintptr_t)COPY_DEST;
    for (uint32_t i = 0; i < COPY_DWORDS; i++)
        if (dest[i] != copy_pattern(i)) {
            put_str("FAILED: rep movsd: dword ");
            put_dec(i);
            put_str(" is ");
            put_hex32(dest[i]);
            put_str(", expected ");
            put_hex32(copy_pattern(i));
            put_char('\n');
            guest_exit(EXIT_CHECK);
        }
    put_str("copy ok\n");
}

/* ---------------------------------------------------------------- main */

static void enable_paging(void)
{
    for (uint32_t i = 0; i < 1024; i++)
        low_table[i] = (i << 12) | PG_W | PG_P;
    page_directory[0] = address_of(low_table) | PG_W | PG_P;
    page_directory[REGION >> 22] = address_of(region_table) | PG_W | PG_P;
    __asm__ volatile("mov %0, %%cr3" : : "r"(address_of(page_directory)) : "memory");
    uint32_t t;
    __asm__ volatile("mov %%cr0, %0\n\tor $0x80000000, %0\n\tmov %0, %%cr0" : "=&r"(t) : : "memory");
}

void kmain(uint32_t magic, const struct multiboot_info *mbi)
{
    (void)mbi;
    uart_init();
    mb_require_magic(magic);
    load_descriptors();
    enable_paging();
    divide_error();
    int3_frame();
    page_fault_frame();
    return_addresses();
    timer_in_loop();
    rep_movsd_fault();
    put_str("frames ok\n");
    guest_exit(0);
}
