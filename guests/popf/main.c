/*
 * popf - the classic hole in x86 virtualisation (Robin & Irvine, USENIX Security 2000):
 * POPF is not privileged. At CPL 0 it loads EFLAGS.IF from the stack; at CPL > IOPL it leaves
 * IF alone without faulting (SDM Vol. 2B, POPF), so a deprivileged guest kernel cannot be
 * trapped when it tries to disable interrupts this way. CLI, by contrast, faults there.
 *
 * With its own GDT and IDT (every exception is reported and ends the run) and both 8259As
 * masked (OCW1 0xFF on ports 0x21 and 0xA1) so that nothing actually arrives, the guest
 * executes STI, then
 *     pushf ; pop eax ; and eax, ~0x200 ; push eax ; popf      (the POPF is at popf_site)
 * and reads EFLAGS back with PUSHF: at ring 0 it prints "popf cleared IF", otherwise
 * "popf left IF set". Then CLI and "cli cleared IF", and the RPL of CS as read with
 * "mov ax, cs" ("cs rpl 0" at ring 0). Then what VERR and VERW (SDM Vol. 2B) say, as ZF, of the
 * kernel's code and data selectors, the data selector with RPL 3 (which its DPL 0 refuses) and
 * the null selector: "verr code 1 data 1 rpl3 0 null 0 verw code 0 data 1 rpl3 0 null 0" (VERW
 * with a memory operand, as Linux runs it on each return to user mode). Exit value 0; 1 if STI or CLI did not
 * do their job, 2 for an unexpected exception.
 */
#include "guest.h"
#include "cpu-tables.h"

#define EFLAGS_IF 0x200u

void exception_dispatch(struct frame *f)
{
    fail_on_exception(f, 2);
}

static inline uint32_t read_eflags(void)
{
    uint32_t v;
    __asm__ volatile("pushfl\n\tpopl %0" : "=r"(v) : : "memory");
    return v;
}

/*
 * STI, then the POPF attempt to clear IF. One asm statement so that nothing comes between
 * them; noinline so that the global label popf_site exists exactly once.
 */
static __attribute__((noinline)) void sti_then_popf(uint32_t *after_sti, uint32_t *after_popf)
{
    uint32_t a, b;
    __asm__ volatile("sti\n\t"
                     "pushfl\n\t"
                     "popl %%eax\n\t"
                     "movl %%eax, %0\n\t"
                     "andl $~0x200, %%eax\n\t"
                     "pushl %%eax\n\t"
                     ".globl popf_site\n\t"
                     ".type popf_site, @function\n"
                     "popf_site:\n\t"
                     "popfl\n\t"
                     "pushfl\n\t"
                     "popl %%eax"
                     : "=&r"(a), "=&a"(b) : : "memory", "cc");
    *after_sti = a;
    *after_popf = b;
}

/* ZF after VERR with a register operand, VERW with a memory one. */
static uint32_t verr(uint16_t selector)
{
    uint8_t zf;
    __asm__ volatile("verr %w1\n\tsetz %0" : "=q"(zf) : "r"(selector) : "cc");
    return zf;
}

static uint32_t verw(uint16_t selector)
{
    uint8_t zf;
    __asm__ volatile("verw %1\n\tsetz %0" : "=q"(zf) : "m"(selector) : "cc");
    return zf;
}

static void put_verify(const char *name, uint32_t (*verify)(uint16_t))
{
    static const uint16_t selectors[] = {0x08, SEL_KDATA, SEL_KDATA | 3, 0};
    static const char *const names[] = {" code ", " data ", " rpl3 ", " null "};
    put_str(name);
    for (unsigned i = 0; i < 4; i++) {
        put_str(names[i]);
        put_dec(verify(selectors[i]));
    }
}

void kmain(uint32_t magic, const struct multiboot_info *mbi)
{
    (void)mbi;
    uart_init();
    mb_require_magic(magic);
    load_descriptors();

    /* OCW1: mask every IRQ line on both 8259As, so STI lets nothing in. */
    outb(0x21, 0xFF);
    outb(0xA1, 0xFF);

    uint32_t after_sti, after_popf;
    sti_then_popf(&after_sti, &after_popf);
    if (!(after_sti & EFLAGS_IF)) {
        __asm__ volatile("cli");
        put_str("FAILED: sti left IF clear\n");
        guest_exit(1);
    }
    put_str(after_popf & EFLAGS_IF ? "popf left IF set\n" : "popf cleared IF\n");

    __asm__ volatile("cli" : : : "memory");
    if (read_eflags() & EFLAGS_IF) {
        put_str("FAILED: cli left IF set\n");
        guest_exit(1);
    }
    put_str("cli cleared IF\n");

    uint16_t cs;
    __asm__ volatile("movw %%cs, %0" : "=r"(cs));
    put_str("cs rpl ");
    put_dec(cs & 3u);
    put_char('\n');
    put_verify("verr", verr);
    put_char(' ');
    put_verify("verw", verw);
    put_char('\n');
    guest_exit(0);
}
