/*
 * selfmod - self-modifying and remapped code under paging, one line per step:
 *   a. same-page SMC: a routine copied into a page of its own patches the imm32 of a
 *      `mov ebx, imm32` nine bytes past the store, jumps to it and adds what it loaded, 1000
 *      times with a new value each time;
 *   b. cross-page SMC: a routine in one page rewrites the imm32 of `mov eax, imm32; ret` in
 *      another page and calls it, 1000 times;
 *   c. remapped code: linear 0x40000000 is mapped in turn onto three frames holding
 *      `mov eax, 1/2/3; ret`, with INVLPG for the first two and a CR3 reload for the third;
 *   d. an instruction straddling two pages: `mov eax, imm32` starts 2 bytes before the end of
 *      page A (0x40002000), its last 3 immediate bytes and the code after it are on page B
 *      (0x40003000); page B is remapped onto another frame, then made not present: the #PF
 *      names page B in CR2 and the instruction's start on page A as EIP, and after the handler
 *      maps B back the IRET restarts the instruction, which completes;
 *   e. code patched through another mapping: the frames behind c and d are written through the
 *      identity map, i.e. at other linear addresses than the ones the code runs at;
 *   f. two routines in one page (`mov eax, imm32; ret` at offsets 0 and 64), both run, then
 *      both patched before either runs again, 100 times: the second store must not leave the
 *      second routine as it ran before.
 *
 * Self-modifying code (SDM Vol. 3 §8.1.3, "Handling Self- and Cross-Modifying Code"): a store
 * to an instruction followed by a jump to it is seen by the fetch after the jump (option 1 of
 * the section's processor-agnostic sequence); every patch here is followed by a JMP, a CALL or
 * a RET before the patched instruction runs. A store made through a different linear address
 * than the one the code is fetched from needs a serializing instruction before the code runs
 * (same section, last paragraph): step e executes CPUID. Changed page-table entries are made
 * visible with INVLPG or a CR3 load (§4.10.4.1); a not-present entry is never cached, so the
 * #PF handler maps page B back without either (§4.10.4.3).
 *
 * Prints "selfmod ok" and exits with value 0; a failed check prints "FAILED: ..." and exits
 * with value 1, an unexpected exception exits with value 2.
 */
#include "guest.h"
#include "cpu-tables.h"

#define PG_P 0x001u
#define PG_W 0x002u

#define PAGE            4096u
#define REGION          0x40000000u             /* 4 MiB mapped through region_table */
#define REMAP_VA        REGION                  /* step c */
#define STRADDLE_A      (REGION + 0x2000u)      /* step d: page A */
#define STRADDLE_B      (REGION + 0x3000u)      /* step d: page B */
#define STRADDLE_START  (STRADDLE_B - 2u)       /* the MOV's B8 */
#define SMC_ITERATIONS  1000u
#define REMAP_ROUNDS    3u
#define CALLS_PER_MAP   3u
#define PAIR_ROUNDS     100u
#define PAIR_SECOND     64u                     /* step f: the second routine's offset */

#define EXIT_CHECK      1
#define EXIT_EXCEPTION  2

/* Physical frames (the identity map makes their linear addresses physical ones too). */
enum { SAME_PAGE, PATCHER, CALLEE, F1, F2, F3, FA, FB1, FB2, PAIR, FRAME_COUNT };

static uint32_t page_directory[1024] __attribute__((aligned(4096)));
static uint32_t low_table[1024] __attribute__((aligned(4096)));      /* 0-4 MiB identity */
static uint32_t region_table[1024] __attribute__((aligned(4096)));   /* REGION */
static uint8_t frames[FRAME_COUNT][PAGE] __attribute__((aligned(4096)));

typedef uint32_t (*code2_fn)(uint32_t, uint32_t);
typedef uint32_t (*code0_fn)(void);

/*
 * Templates, copied into frames[] and run there (never where they are assembled). Both are
 * cdecl functions of two arguments that return a sum and keep EBX, ESI and EDI.
 *
 * smc_same(base, n): base is the address the copy runs at. For i = 1..n it stores i * 0x01010101
 * into the imm32 of the `mov ebx, imm32` at smc_same_target (the store's first byte is 9 bytes
 * before that immediate), jumps to it and adds EBX to the sum.
 *
 * smc_cross(callee, n): for i = 1..n it stores i * 0x9E3779B9 into the imm32 of the
 * `mov eax, imm32; ret` at callee (another page), calls it and adds EAX to the sum.
 */
extern const uint8_t smc_same_begin[], smc_same_end[], smc_cross_begin[], smc_cross_end[];
__asm__(".section .rodata.smc_templates,\"a\",@progbits\n"
        ".balign 16\n"
        "smc_same_begin:\n"
        "    pushl %ebx\n"
        "    pushl %esi\n"
        "    pushl %edi\n"
        "    movl 16(%esp), %esi\n"
        "    movl 20(%esp), %edi\n"
        "    xorl %eax, %eax\n"
        "    movl $1, %ecx\n"
        "1:  imull $0x01010101, %ecx, %edx\n"
        "    movl %edx, (smc_same_target + 1 - smc_same_begin)(%esi)\n"
        "    jmp 2f\n"                          /* the taken jump SDM §8.1.3 asks for */
        "2:\n"
        "smc_same_target:\n"
        "    movl $0xDEADBEEF, %ebx\n"          /* BB imm32: patched before every run */
        "    addl %ebx, %eax\n"
        "    incl %ecx\n"
        "    cmpl %edi, %ecx\n"
        "    jbe 1b\n"
        "    popl %edi\n"
        "    popl %esi\n"
        "    popl %ebx\n"
        "    ret\n"
        "smc_same_end:\n"
        ".balign 16\n"
        "smc_cross_begin:\n"
        "    pushl %ebx\n"
        "    pushl %esi\n"
        "    pushl %edi\n"
        "    movl 16(%esp), %esi\n"
        "    movl 20(%esp), %edi\n"
        "    xorl %ebx, %ebx\n"
        "    movl $1, %ecx\n"
        "1:  imull $0x9E3779B9, %ecx, %edx\n"
        "    movl %edx, 1(%esi)\n"              /* the callee's imm32 */
        "    pushl %ecx\n"
        "    call *%esi\n"
        "    popl %ecx\n"
        "    addl %eax, %ebx\n"
        "    incl %ecx\n"
        "    cmpl %edi, %ecx\n"
        "    jbe 1b\n"
        "    movl %ebx, %eax\n"
        "    popl %edi\n"
        "    popl %esi\n"
        "    popl %ebx\n"
        "    ret\n"
        "smc_cross_end:\n"
        ".previous\n");

/* ---------------------------------------------------------------- helpers */

static void fail(const char *what)
{
    guest_fail(what, EXIT_CHECK);
}

/* CPUID is serializing (SDM Vol. 3 §8.3): the fetches after it see every earlier store. */
static inline void serialize(void)
{
    uint32_t a = 0, b, c = 0, d;
    __asm__ volatile("cpuid" : "+a"(a), "=b"(b), "+c"(c), "=d"(d) : : "memory");
}

static uint32_t frame_address(unsigned frame)
{
    return (uint32_t)(uintptr_t)frames[frame];
}

static volatile uint32_t *region_pte(uint32_t va)
{
    return &region_table[(va - REGION) >> 12];
}

/* Points va at the frame (the caller flushes the old translation as the step requires). */
static void map(uint32_t va, unsigned frame)
{
    *region_pte(va) = frame_address(frame) | PG_W | PG_P;
}

static void copy_bytes(uint8_t *to, const uint8_t *from, uint32_t n)
{
    while (n--)
        *to++ = *from++;
}

/* `mov eax, imm32; ret` at the start of a frame full of INT3s. */
static void write_return_value(unsigned frame, uint32_t value)
{
    uint8_t *p = frames[frame];
    for (uint32_t i = 0; i < PAGE; i++)
        p[i] = 0xCC;
    p[0] = 0xB8;
    p[1] = (uint8_t)value;
    p[2] = (uint8_t)(value >> 8);
    p[3] = (uint8_t)(value >> 16);
    p[4] = (uint8_t)(value >> 24);
    p[5] = 0xC3;
}

static uint32_t call_at(uint32_t va)
{
    return ((code0_fn)(uintptr_t)va)();
}

/* ---------------------------------------------------------------- page faults */

static volatile uint32_t pf_armed, pf_count, pf_cr2, pf_eip, pf_error;

void exception_dispatch(struct frame *f)
{
    if (f->vector == 14 && pf_armed) {
        pf_armed = 0;
        pf_count++;
        pf_cr2 = read_cr2();
        pf_eip = f->eip;
        pf_error = f->error;
        map(STRADDLE_B, FB1);   /* not-present entries are not cached: no INVLPG (§4.10.4.3) */
        return;                 /* IRET restarts the MOV at its first byte on page A */
    }
    fail_on_exception(f, EXIT_EXCEPTION);
}

/* ---------------------------------------------------------------- steps */

static void enable_paging(void)
{
    for (uint32_t i = 0; i < 1024; i++)
        low_table[i] = (i << 12) | PG_W | PG_P;
    page_directory[0] = (uint32_t)(uintptr_t)low_table | PG_W | PG_P;
    page_directory[REGION >> 22] = (uint32_t)(uintptr_t)region_table | PG_W | PG_P;
    write_cr3((uint32_t)(uintptr_t)page_directory);
    uint32_t t;
    __asm__ volatile("mov %%cr0, %0\n\tor $0x80000000, %0\n\tmov %0, %%cr0" : "=&r"(t) : : "memory");
}

static void put_sum_line(const char *what, uint32_t sum)
{
    put_str(what);
    put_str(": ");
    put_dec(SMC_ITERATIONS);
    put_str(" patches, sum ");
    put_hex32(sum);
    put_char('\n');
}

static void same_page_smc(void)
{
    copy_bytes(frames[SAME_PAGE], smc_same_begin, (uint32_t)(smc_same_end - smc_same_begin));
    uint32_t base = frame_address(SAME_PAGE), expected = 0;
    for (uint32_t i = 1; i <= SMC_ITERATIONS; i++)
        expected += i * 0x01010101u;
    code2_fn run = (code2_fn)(uintptr_t)base;
    uint32_t first = run(base, SMC_ITERATIONS);
    uint32_t again = run(base, SMC_ITERATIONS);     /* starts from the last patch's bytes */
    put_sum_line("same-page smc", first);
    if (first != expected || again != expected)
        fail("same-page smc: a patched immediate ran with stale bytes");
}

static void cross_page_smc(void)
{
    copy_bytes(frames[PATCHER], smc_cross_begin, (uint32_t)(smc_cross_end - smc_cross_begin));
    write_return_value(CALLEE, 0xDEADBEEFu);
    uint32_t expected = 0;
    for (uint32_t i = 1; i <= SMC_ITERATIONS; i++)
        expected += i * 0x9E3779B9u;
    code2_fn run = (code2_fn)(uintptr_t)frame_address(PATCHER);
    uint32_t first = run(frame_address(CALLEE), SMC_ITERATIONS);
    uint32_t again = run(frame_address(CALLEE), SMC_ITERATIONS);
    put_sum_line("cross-page smc", first);
    if (first != expected || again != expected)
        fail("cross-page smc: the patched function ran with stale bytes");
}

/* Calls REMAP_VA a few times; every call must return `expected`. */
static uint32_t call_remapped(uint32_t expected)
{
    uint32_t v = 0;
    for (uint32_t k = 0; k < CALLS_PER_MAP; k++) {
        v = call_at(REMAP_VA);
        if (v != expected) {
            put_str("FAILED: remap: linear ");
            put_hex32(REMAP_VA);
            put_str(" returned ");
            put_dec(v);
            put_str(", expected ");
            put_dec(expected);
            put_str(" from the frame it maps to now\n");
            guest_exit(EXIT_CHECK);
        }
    }
    return v;
}

static void remapped_code(void)
{
    write_return_value(F1, 1);
    write_return_value(F2, 2);
    write_return_value(F3, 3);
    uint32_t seen[3] = {0, 0, 0};
    map(REMAP_VA, F1);          /* was not present: nothing to flush */
    for (uint32_t round = 0; round < REMAP_ROUNDS; round++) {
        if (round) {
            map(REMAP_VA, F1);
            invlpg(REMAP_VA);
        }
        seen[0] = call_remapped(1);
        map(REMAP_VA, F2);
        invlpg(REMAP_VA);
        seen[1] = call_remapped(2);
        map(REMAP_VA, F3);
        write_cr3(read_cr3());  /* flushes every translation: no global pages here */
        seen[2] = call_remapped(3);
    }
    put_str("remap:");
    for (uint32_t i = 0; i < 3; i++) {
        put_char(' ');
        put_dec(seen[i]);
    }
    put_char('\n');
}

static void straddling_instruction(void)
{
    /* Page A: INT3s, then B8 44 (mov eax, imm32 with imm byte 0) in its last two bytes. */
    for (uint32_t i = 0; i < PAGE; i++)
        frames[FA][i] = 0xCC;
    frames[FA][PAGE - 2] = 0xB8;
    frames[FA][PAGE - 1] = 0x44;
    /* Two frames for page B: imm bytes 1-3 and what follows. */
    static const uint8_t b1[] = {0x11, 0x22, 0x33, 0xC3};               /* ; ret */
    static const uint8_t b2[] = {0xAA, 0xBB, 0xCC, 0x40, 0xC3};         /* ; inc eax; ret */
    for (uint32_t i = 0; i < PAGE; i++)
        frames[FB1][i] = frames[FB2][i] = 0xCC;
    copy_bytes(frames[FB1], b1, sizeof b1);
    copy_bytes(frames[FB2], b2, sizeof b2);
    map(STRADDLE_A, FA);
    map(STRADDLE_B, FB1);

    uint32_t v1 = call_at(STRADDLE_START);
    uint32_t v1_again = call_at(STRADDLE_START);
    map(STRADDLE_B, FB2);
    invlpg(STRADDLE_B);
    uint32_t v2 = call_at(STRADDLE_START);
    uint32_t v2_again = call_at(STRADDLE_START);
    put_str("straddle: ");
    put_hex32(v1);
    put_char(' ');
    put_hex32(v2);
    put_char('\n');
    if (v1 != 0x33221144u || v1_again != v1)
        fail("straddle: wrong value with page B on its first frame");
    if (v2 != 0xCCBBAA45u || v2_again != v2)
        fail("straddle: page B's new frame not seen after INVLPG");

    /* Page B not present: the fetch of the MOV's bytes there faults (§6.15, interrupt 14). */
    *region_pte(STRADDLE_B) = 0;
    invlpg(STRADDLE_B);
    pf_count = 0;
    pf_cr2 = pf_eip = pf_error = 0xFFFFFFFFu;
    pf_armed = 1;
    uint32_t v3 = call_at(STRADDLE_START);
    pf_armed = 0;
    int cr2_ok = pf_cr2 == STRADDLE_B, eip_ok = pf_eip == STRADDLE_START;
    put_str("straddle fault: cr2 ");
    put_str(cr2_ok ? "ok" : "BAD");
    put_str(" eip ");
    put_str(eip_ok ? "ok" : "BAD");
    put_char('\n');
    if (pf_count != 1) {
        put_str("FAILED: straddle fault: ");
        put_dec(pf_count);
        put_str(" page faults, expected 1\n");
        guest_exit(EXIT_CHECK);
    }
    if (!cr2_ok || !eip_ok || pf_error != 0) {
        /* Error code 0: supervisor-mode read (fetches set I/D only with NX or SMEP, §4.7). */
        put_str("FAILED: straddle fault: cr2 ");
        put_hex32(pf_cr2);
        put_str(" eip ");
        put_hex32(pf_eip);
        put_str(" error ");
        put_hex32(pf_error);
        put_str(", expected cr2 ");
        put_hex32(STRADDLE_B);
        put_str(" eip ");
        put_hex32(STRADDLE_START);
        put_str(" error 0x00000000\n");
        guest_exit(EXIT_CHECK);
    }
    put_str("straddle resumed: ");
    put_hex32(v3);
    put_char('\n');
    if (v3 != 0x33221144u)
        fail("straddle: the restarted MOV did not load page B's bytes from the frame mapped back");
}

static void patch_through_alias(void)
{
    /* Step c's page runs F1 again, and is run once before the patch. */
    map(REMAP_VA, F1);
    invlpg(REMAP_VA);
    if (call_at(REMAP_VA) != 1)
        fail("alias patch: linear 0x40000000 does not run the first frame");
    /* The imm32 of F1's MOV, written at F1's identity address, not at 0x40000001. */
    *(volatile uint32_t *)(uintptr_t)(frame_address(F1) + 1) = 7;
    serialize();
    uint32_t a = call_at(REMAP_VA);

    /* Byte 2 of the straddling MOV's imm32, on page B's frame (FB1 since the fault). */
    if (call_at(STRADDLE_START) != 0x33221144u)
        fail("alias patch: the straddling MOV before the patch");
    *(volatile uint8_t *)(uintptr_t)(frame_address(FB1) + 1) = 0x55;
    serialize();
    uint32_t b = call_at(STRADDLE_START);
    put_str("alias patch: ");
    put_hex32(a);
    put_char(' ');
    put_hex32(b);
    put_char('\n');
    if (a != 7)
        fail("alias patch: a write to the frame through the identity map was not seen at 0x40000000");
    if (b != 0x33551144u)
        fail("alias patch: a write to page B's frame was not seen by the MOV starting on page A");
}

static void two_routines_in_one_page(void)
{
    volatile uint8_t *page = frames[PAIR];
    const uint32_t at[2] = {0, PAIR_SECOND};
    for (unsigned k = 0; k < 2; k++) {
        page[at[k]] = 0xB8;                     /* mov eax, imm32 */
        page[at[k] + 5] = 0xC3;                 /* ret */
    }
    uint32_t right = 0;
    for (uint32_t round = 1; round <= PAIR_ROUNDS; round++) {
        for (unsigned k = 0; k < 2; k++)
            *(volatile uint32_t *)(page + at[k] + 1) = round * 2 + k;
        uint32_t first = ((code0_fn)(uintptr_t)(page + at[0]))();
        uint32_t second = ((code0_fn)(uintptr_t)(page + at[1]))();
        if (first == round * 2 && second == round * 2 + 1)
            right++;
    }
    put_str("one page, two routines patched: ");
    put_dec(right);
    put_str(" of ");
    put_dec(PAIR_ROUNDS);
    put_str(" rounds right\n");
    if (right != PAIR_ROUNDS)
        fail("a routine patched after another one in its page ran as it was");
}

void kmain(uint32_t magic, const struct multiboot_info *mbi)
{
    (void)mbi;
    uart_init();
    mb_require_magic(magic);
    load_descriptors();
    enable_paging();
    same_page_smc();
    cross_page_smc();
    remapped_code();
    straddling_instruction();
    patch_through_alias();
    two_routines_in_one_page();
    put_str("selfmod ok\n");
    guest_exit(0);
}
