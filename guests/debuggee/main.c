/*
 * debuggee - a small, predictable target for source-level debugging (GDB through the VMM's
 * GDB stub). build-guests.sh compiles it with -g -O0: every local keeps its stack slot and
 * every statement its own line, so a gdb batch script can break on lines and print variables.
 *
 * It loads its own GDT and IDT (every exception is reported and ends the run), then turns on
 * 32-bit paging with 4 KiB pages: physical 0-4 MiB identity-mapped (the image sits at 1 MiB)
 * plus one page at linear HIGH_VADDR (0xC0000000) backed by the page-aligned buffer
 * marker_page. It writes MARKER through the high address and reads it back through the
 * identity map: a debugger that translates linear addresses sees MARKER at 0xC0000000, while
 * physical 0xC0000000 (far above RAM) holds nothing of the kind.
 *
 * Then kmain calls step_here(n) for n = 1, 2, 3; each call stores n in the global `watched`
 * (a watchpoint sees 0 -> 1 -> 2 -> 3) and returns its local, 3n + 1. Output:
 *     debuggee start
 *     paging on: linear 0xc0000000 -> physical <&marker_page>, marker 0x600df00d
 *     step_here 1 -> 4
 *     step_here 2 -> 7
 *     step_here 3 -> 10
 *     debuggee done watched=3
 * (with spin=1, "spinning until a debugger sets release" after the paging line, and a loop
 * until a debugger sets `release`) and exit value 5 (QEMU status 11), so a debugger sees a distinctive exit status. A failed
 * check prints "FAILED: <what>" and exits with value 1, an exception exits with value 2.
 */
#include "guest.h"
#include "cpu-tables.h"

#define PG_P  0x001u            /* present */
#define PG_W  0x002u            /* writable */

#define PAGE        4096u
#define HIGH_VADDR  0xC0000000u /* linear address of the marker page; not its physical one */
#define MARKER      0x600DF00Du
#define EXIT_DONE   5u          /* (5 << 1) | 1 = status 11 */

/* Global, not static: gdb finds them by name (print watched, watch watched, x &marker_page). */
uint32_t watched;
/* With spin=1 on the command line, the guest spins until a debugger sets this (a classic
 * wait-for-debugger loop), so that a test can interrupt a guest that is surely running. */
volatile uint32_t release;
uint32_t marker_page[PAGE / 4] __attribute__((aligned(4096)));

static uint32_t page_dir[1024] __attribute__((aligned(4096)));
static uint32_t identity_table[1024] __attribute__((aligned(4096)));  /* 0-4 MiB */
static uint32_t high_table[1024] __attribute__((aligned(4096)));      /* 0xC0000000-0xC03FFFFF */

void exception_dispatch(struct frame *f)
{
    fail_on_exception(f, 2);
}

static void fail(const char *what)
{
    put_str("FAILED: ");
    put_str(what);
    put_char('\n');
    guest_exit(1);
}

static void enable_paging(void)
{
    for (uint32_t i = 0; i < 1024; i++)
        identity_table[i] = (i * PAGE) | PG_W | PG_P;
    high_table[(HIGH_VADDR >> 12) & 0x3FF] = (uint32_t)(uintptr_t)marker_page | PG_W | PG_P;
    page_dir[0] = (uint32_t)(uintptr_t)identity_table | PG_W | PG_P;
    page_dir[HIGH_VADDR >> 22] = (uint32_t)(uintptr_t)high_table | PG_W | PG_P;

    uint32_t t;
    __asm__ volatile("mov %0, %%cr3" : : "r"((uint32_t)(uintptr_t)page_dir) : "memory");
    __asm__ volatile("mov %%cr0, %0\n\tor $0x80000000, %0\n\tmov %0, %%cr0" : "=&r"(t) : : "memory");

    /* Written through the high mapping, read back through the identity map of the same frame. */
    *(volatile uint32_t *)(uintptr_t)HIGH_VADDR = MARKER;
    uint32_t seen = *(volatile uint32_t *)marker_page;
    put_str("paging on: linear ");
    put_hex32(HIGH_VADDR);
    put_str(" -> physical ");
    put_hex32((uint32_t)(uintptr_t)marker_page);
    put_str(", marker ");
    put_hex32(seen);
    put_char('\n');
    if (seen != MARKER)
        fail("the marker written at the high address is not in marker_page");
}

/* noinline: a real call with its own frame, so "break step_here" and "finish" work. */
__attribute__((noinline)) uint32_t step_here(uint32_t n)
{
    uint32_t local = n * 3 + 1;
    watched = n;
    return local;
}

void kmain(uint32_t magic, const struct multiboot_info *mbi)
{
    uart_init();
    mb_require_magic(magic);
    put_str("debuggee start\n");
    load_descriptors();
    enable_paging();

    uint32_t spin;
    if (cmdline_u32(mb_cmdline(mbi), "spin", &spin) && spin) {
        put_str("spinning until a debugger sets release\n");
        while (!release)
            ;
    }

    for (uint32_t n = 1; n <= 3; n++) {
        uint32_t result = step_here(n);
        put_str("step_here ");
        put_dec(n);
        put_str(" -> ");
        put_dec(result);
        put_char('\n');
    }

    put_str("debuggee done watched=");
    put_dec(watched);
    put_char('\n');
    if (watched != 3)
        fail("watched is not 3");
    guest_exit(EXIT_DONE);
}
