/*
 * pvkernel - a paravirtual kernel for vmm's `paravirt` engine (docs/paravirt-abi.md).
 *
 * It does the work of three native sample guests, written against the hypercall ABI instead of
 * the hardware, and prints their lines where the work is the same:
 *   - `paging`: demand paging of 0x40000000-0x41FFFFFF (8192 pages), A/D bits, three address
 *     spaces, remapping, page faults for a read and a write (with a slow handler too). Its page
 *     tables are read-only to it: every change is an mmu_update hypercall, every CR3 load a
 *     new_baseptr, every INVLPG a tlb_flush; the fault address comes from the shared-info page;
 *   - `rings`: a ring-3 process making system calls (INT 0x80 through a DPL-3 entry of its
 *     virtual trap table) and taking a page fault; it enters ring 3 with the iret hypercall;
 *   - `timer`: 50 timer events (set_timer and block, delivered to its event callback).
 * Then what only a paravirtual kernel has: events held back by the mask and delivered once
 * unmasked, and the VMM's refusals of page-table updates that would break isolation.
 * Prints "pvkernel ok" and shuts down with value 0; a failed check prints "FAILED: ..." and
 * shuts down with 1, an unexpected exception with 2, too little RAM with 4.
 *
 * Command line: `privileged=cli` (or `hlt`, `cr3`) executes that privileged instruction after
 * the start-up, which a paravirtual kernel never does: the VMM ends the run naming it.
 *
 * Memory: the image at 1 MiB; page tables from a pool at 2-3 MiB that is zeroed before paging
 * and mapped read-only; other frames from 4 MiB up; 0-64 MiB identity-mapped with 4 KiB pages.
 */
#include "guest.h"
#include "cpu-tables.h"
#include "paging-steps.h"
#include "pv.h"
#include "pvkernel.h"

#define PG_A 0x020u
#define PG_D 0x040u

#define IDENTITY_END  0x04000000u       /* 64 MiB */
#define POOL_BASE     0x00200000u
#define POOL_END      0x00300000u
#define FRAMES_START  0x00400000u
#define DEMAND_PAGES  PAGING_DEMAND_PAGES
#define SPACES        3u
#define SPACE_VADDR   0x50000000u
#define SWITCHES      300u
#define USER_MISSING  0x60000000u       /* a user page that is not present until ring 3 reads it */
#define TIMER_EVENTS  50u
#define TIMER_PERIOD_NS 10000000u

#define EXIT_CHECK 1
#define EXIT_EXCEPTION 2
#define EXIT_MEMORY 4

extern char kernel_end[];
extern void entry_0(void), entry_3(void), entry_6(void), entry_13(void), entry_14(void), entry_128(void);
extern void event_entry(void);

static union {
    struct shared_info info;
    uint8_t page[PAGE];
} shared_page __attribute__((aligned(4096)));
#define shared (&shared_page.info)
struct shared_info *const shared_info = &shared_page.info;

static uint32_t ram_end;
static uint32_t next_frame = FRAMES_START;
static uint32_t next_table = POOL_BASE;
static uint32_t kernel_pd;                  /* physical = linear (identity) */
uint32_t kernel_directory(void) { return kernel_pd; }
static uint32_t identity_tables[IDENTITY_END >> 22];

static inline uint32_t peek(uint32_t va) { return *(volatile uint32_t *)(uintptr_t)va; }
static inline void poke(uint32_t va, uint32_t v) { *(volatile uint32_t *)(uintptr_t)va = v; }

static void fail(const char *what) { guest_fail(what, EXIT_CHECK); }

static void put_signed(int32_t v)
{
    if (v < 0) {
        put_char('-');
        v = -v;
    }
    put_dec((uint32_t)v);
}

/* ---------------------------------------------------------------- hypercalls */

int32_t mmu_try(uint32_t entry, uint32_t value)
{
    struct mmu_update u = { entry, value };
    return hypercall2(HC_MMU_UPDATE, (uint32_t)(uintptr_t)&u, 1);
}

void mmu(uint32_t entry, uint32_t value)
{
    int32_t r = mmu_try(entry, value);
    if (r != 0) {
        put_str("mmu_update of ");
        put_hex32(entry);
        put_str(" to ");
        put_hex32(value);
        put_str(": ");
        put_signed(r);
        put_char('\n');
        fail("a page-table update was refused");
    }
}

void map_page(uint32_t va, uint32_t entry)
{
    int32_t r = hypercall3(HC_UPDATE_VA_MAPPING, va, entry, UVMF_INVLPG);
    if (r != 0) {
        put_str("update_va_mapping of ");
        put_hex32(va);
        put_str(" to ");
        put_hex32(entry);
        put_str(": ");
        put_signed(r);
        put_char('\n');
        fail("a page-table update was refused");
    }
}

void flush_page(uint32_t va) { hypercall2(HC_TLB_FLUSH, TLB_FLUSH_PAGE, va); }
static void flush_all(void) { hypercall2(HC_TLB_FLUSH, TLB_FLUSH_ALL, 0); }

void load_base(uint32_t pd)
{
    int32_t r = hypercall1(HC_NEW_BASEPTR, pd);
    if (r != 0) {
        put_str("new_baseptr ");
        put_hex32(pd);
        put_str(": ");
        put_signed(r);
        put_char('\n');
        fail("a page directory was refused");
    }
}

uint64_t now_ns(void) { return shared->system_time_ns; }

void set_timer(uint64_t deadline)
{
    hypercall2(HC_SET_TIMER, (uint32_t)deadline, (uint32_t)(deadline >> 32));
}

/* ---------------------------------------------------------------- frames and tables */

uint32_t alloc_frame(void)
{
    if (next_frame + PAGE > ram_end || next_frame + PAGE > IDENTITY_END) {
        put_str("FAILED: out of physical frames at ");
        put_hex32(next_frame);
        put_char('\n');
        guest_exit(EXIT_MEMORY);
    }
    uint32_t frame = next_frame;
    next_frame += PAGE;
    for (uint32_t i = 0; i < PAGE; i += 4)
        poke(frame + i, 0);
    return frame;
}

/* A zeroed frame of the pool, already mapped read-only: ready to become a page table. */
uint32_t alloc_table(void)
{
    if (next_table >= POOL_END)
        fail("page-table pool exhausted");
    uint32_t t = next_table;
    next_table += PAGE;
    return t;
}

/* Physical address of the identity-map entry that maps frame `pa`. */
static uint32_t identity_entry(uint32_t pa)
{
    return identity_tables[pa >> 22] + ((pa >> 12) & 0x3FF) * 4;
}

/* A frame the kernel wrote as an ordinary page becomes read-only, so that it can be a table. */
void make_read_only(uint32_t pa)
{
    mmu(identity_entry(pa), pa | PG_U | PG_P);
    flush_page(pa);
}

/* The entry that maps va in directory pd (its table must exist). */
uint32_t pte_address(uint32_t pd, uint32_t va)
{
    uint32_t pde = peek(pd + (va >> 22) * 4);
    return (pde & ~0xFFFu) + ((va >> 12) & 0x3FF) * 4;
}


/* ---------------------------------------------------------------- exceptions and events */

/* The refusals step: a store that faults is recorded and skipped. */
static volatile int skip_store;
static volatile uint32_t skipped_stores, skipped_error;
static volatile uint32_t events_delivered;
volatile uint32_t timer_events;
int (*exception_hook)(struct pv_frame *f);
static uint32_t kernel_stack_top;

static void after_ring3(void) __attribute__((noreturn));

static void report_exception(const struct pv_frame *f)
{
    put_str("FAILED: exception ");
    put_dec(f->vector);
    put_str(" error ");
    put_hex32(f->error);
    put_str(" at eip ");
    put_hex32(f->eip);
    if (f->vector == 14) {
        put_str(" cr2 ");
        put_hex32(shared->fault_address);
    }
    put_char('\n');
    guest_exit(EXIT_EXCEPTION);
}

static void page_fault(struct pv_frame *f)
{
    paging_steps_slow_spin();
    uint32_t cr2 = shared->fault_address;
    if ((f->cs & 3) == 3) {
        put_str("page fault from ring 3: ");
        int ok = f->error == 0x4 && cr2 == USER_MISSING && f->cs == SEL_UCODE;
        put_str(ok ? "frame ok\n" : "frame BAD\n");
        map_page(USER_MISSING, alloc_frame() | PG_U | PG_W | PG_P);
        return;
    }
    if (paging_steps_fault(cr2, f->error))
        return;
    if (skip_store) {
        /* The store is `mov %eax, (%edx)` (2 bytes). */
        skipped_stores++;
        skipped_error = f->error;
        f->eip += 2;
        return;
    }
    report_exception(f);
}

static void system_call(struct pv_frame *f)
{
    if (f->eax == 1) {
        put_str((const char *)(uintptr_t)f->esi);
        put_str("int 0x80 from ring 3: ");
        /* The frame sits at the top of the kernel stack the stack_switch hypercall named. */
        int ok = f->cs == SEL_UCODE && f->user_ss == SEL_UDATA && (uint32_t)(uintptr_t)(f + 1) == kernel_stack_top;
        put_str(ok ? "frame ok\n" : "frame BAD\n");
        return;
    }
    if (f->eax == 2)
        after_ring3();
    report_exception(f);
}

void pv_exception(struct pv_frame *f)
{
    if (exception_hook && exception_hook(f))
        return;
    if (f->vector == 14)
        page_fault(f);
    else if (f->vector == 0x80)
        system_call(f);
    else
        report_exception(f);
}

/* The event callback (entered with events masked). */
void pv_event(void)
{
    events_delivered++;
    uint32_t pending = __atomic_exchange_n(&shared->pending_ports, 0, __ATOMIC_SEQ_CST);
    if (pending & (1u << EVENT_PORT_TIMER))
        timer_events++;
    shared->upcall_mask = 0;
}

/* ---------------------------------------------------------------- set-up */

static uint64_t gdt[5] = {
    0,
    0x00CF9A000000FFFFull,      /* 0x08 kernel code (the VMM runs it on ring 1) */
    0x00CF92000000FFFFull,      /* 0x10 kernel data */
    0x00CFFA000000FFFFull,      /* 0x1B user code */
    0x00CFF2000000FFFFull,      /* 0x23 user data */
};

static uint8_t kernel_stack[16384] __attribute__((aligned(16)));
static uint8_t user_stack[4096] __attribute__((aligned(16)));
uint32_t user_stack_top(void) { return (uint32_t)(uintptr_t)(user_stack + sizeof user_stack); }

static void set_up(void)
{
    if (hypercall1(HC_REGISTER_SHARED_INFO, (uint32_t)(uintptr_t)shared) != 0)
        fail("register_shared_info");
    if (hypercall2(HC_SET_GDT, (uint32_t)(uintptr_t)gdt, 5) != 0)
        fail("set_gdt");
    __asm__ volatile("mov %0, %%ds\n\tmov %0, %%es\n\tmov %0, %%fs\n\tmov %0, %%gs" : : "r"(SEL_KDATA));
    static struct trap_info traps[] = {
        { 0, 0, SEL_KCODE, 0 }, { 3, 3, SEL_KCODE, 0 }, { 6, 0, SEL_KCODE, 0 },
        { 13, 0, SEL_KCODE, 0 }, { 14, 0, SEL_KCODE, 0 }, { 0x80, 3, SEL_KCODE, 0 },
        { 0, 0, 0, 0 },
    };
    traps[0].address = (uint32_t)(uintptr_t)entry_0;
    traps[1].address = (uint32_t)(uintptr_t)entry_3;
    traps[2].address = (uint32_t)(uintptr_t)entry_6;
    traps[3].address = (uint32_t)(uintptr_t)entry_13;
    traps[4].address = (uint32_t)(uintptr_t)entry_14;
    traps[5].address = (uint32_t)(uintptr_t)entry_128;
    if (hypercall1(HC_SET_TRAP_TABLE, (uint32_t)(uintptr_t)traps) != 0)
        fail("set_trap_table");
    kernel_stack_top = (uint32_t)(uintptr_t)(kernel_stack + sizeof kernel_stack);
    if (hypercall2(HC_STACK_SWITCH, SEL_KDATA, kernel_stack_top) != 0)
        fail("stack_switch");
    if (hypercall2(HC_SET_CALLBACK, SEL_KCODE, (uint32_t)(uintptr_t)event_entry) != 0)
        fail("set_callback");
}

/* Builds the identity map while paging is off (every frame is still the kernel's to write),
 * with the table pool read-only, and loads it: from then on tables change by hypercall only. */
static void enable_paging(void)
{
    for (uint32_t a = POOL_BASE; a < POOL_END; a += 4)
        poke(a, 0);
    kernel_pd = alloc_table();
    uint32_t end = ram_end < IDENTITY_END ? ram_end & ~0x3FFFFFu : IDENTITY_END;
    for (uint32_t pde = 0; pde < (end >> 22); pde++) {
        uint32_t table = alloc_table();
        identity_tables[pde] = table;
        for (uint32_t i = 0; i < 1024; i++) {
            uint32_t pa = (pde << 22) | (i << 12);
            uint32_t flags = (pa >= POOL_BASE && pa < POOL_END) ? PG_U | PG_P : PG_U | PG_W | PG_P;
            poke(table + i * 4, pa | flags);
        }
        poke(kernel_pd + pde * 4, table | PG_U | PG_W | PG_P);
    }
    /* The user page of the ring-3 part has its table already, its entry not present. */
    poke(kernel_pd + (USER_MISSING >> 22) * 4, alloc_table() | PG_U | PG_W | PG_P);
    load_base(kernel_pd);
}

/* ---------------------------------------------------------------- the paging twin */

/* The steps' ops (paging-steps.h): every change of a table is a hypercall. */
static int table_present(uint32_t va) { return (peek(kernel_pd + (va >> 22) * 4) & PG_P) != 0; }
static void map_table(uint32_t va) { mmu(kernel_pd + (va >> 22) * 4, alloc_table() | PG_W | PG_P); }
static uint32_t pte(uint32_t va) { return peek(pte_address(kernel_pd, va)); }

static void set_pte(uint32_t va, uint32_t value)
{
    mmu(pte_address(kernel_pd, va), value);
    flush_page(va);
}

static void set_pte_flush_all(uint32_t va, uint32_t value)
{
    mmu(pte_address(kernel_pd, va), value);
    flush_all();
}

static const struct paging_ops paravirtual_ops = {
    table_present, map_table, pte, map_page, set_pte, set_pte_flush_all, alloc_frame,
};





static void address_spaces(void)
{
    uint32_t dirs[SPACES], frames[SPACES];
    for (uint32_t k = 0; k < SPACES; k++) {
        /* Written as ordinary pages, then made read-only: then they may be tables. */
        uint32_t pd = alloc_frame(), pt = alloc_frame();
        frames[k] = alloc_frame();
        for (uint32_t i = 0; i < 1024; i++)
            poke(pd + i * 4, peek(kernel_pd + i * 4));
        poke(pd + (SPACE_VADDR >> 22) * 4, pt | PG_W | PG_P);
        poke(pt + ((SPACE_VADDR >> 12) & 0x3FF) * 4, frames[k] | PG_W | PG_P);
        poke(frames[k], 0xA5500000u + k);
        make_read_only(pd);
        make_read_only(pt);
        dirs[k] = pd;
    }
    for (uint32_t n = 0; n < SWITCHES; n++) {
        uint32_t k = n % SPACES;
        load_base(dirs[k]);
        if (peek(SPACE_VADDR) != 0xA5500000u + k) {
            load_base(kernel_pd);
            fail("wrong marker after a CR3 switch");
        }
        poke(SPACE_VADDR + 4, peek(SPACE_VADDR + 4) + 1);
    }
    load_base(kernel_pd);
    uint32_t visits[SPACES];
    for (uint32_t k = 0; k < SPACES; k++)
        visits[k] = peek(frames[k] + 4);           /* through the identity map */
    report_address_spaces(SPACE_VADDR, SWITCHES, visits, SPACES);
    for (uint32_t k = 0; k < SPACES; k++)
        if (peek(frames[k] + 4) != SWITCHES / SPACES)
            fail("visit counts");
}



/* ---------------------------------------------------------------- the rings twin */

static void user_main(void)
{
    static const char hello[] = "hello from ring 3\n";
    __asm__ volatile("int $0x80" : : "a"(1), "S"(hello) : "memory");
    (void)peek(USER_MISSING);
    __asm__ volatile("int $0x80" : : "a"(2) : "memory");
    for (;;)
        ;
}

static void enter_ring3(void) __attribute__((noreturn));
static void enter_ring3(void)
{
    uint32_t user_esp = (uint32_t)(uintptr_t)(user_stack + sizeof user_stack);
    /* The iret hypercall's frame (its stub pushes EAX over it): EIP, CS, EFLAGS, ESP, SS. */
    __asm__ volatile("push %0\n\tpush %1\n\tpush %2\n\tpush %3\n\tpush %4\n\tjmp " IRET_STUB
                     : : "i"(SEL_UDATA), "r"(user_esp), "i"(0x202), "i"(SEL_UCODE), "r"(user_main) : "memory");
    __builtin_unreachable();
}

/* ---------------------------------------------------------------- events, the timer twin */

static void timer_twin(void)
{
    timer_events = 0;
    hypercall1(HC_SET_PERIODIC_TIMER, TIMER_PERIOD_NS);
    while (timer_events < TIMER_EVENTS)
        hypercall0(HC_BLOCK);
    hypercall1(HC_SET_PERIODIC_TIMER, 0);
    put_dec(timer_events);
    put_str(" timer interrupts\n");
}

/* The mask holds an event back however long the VMM runs the kernel; once unmasked, the kernel
 * sees the pending flag and makes a hypercall, at which the VMM delivers it (Xen's pattern). */
static void masked_event(void)
{
    shared->upcall_mask = 1;
    uint32_t before = events_delivered;
    set_timer(now_ns() + 1000000u);
    for (uint32_t spins = 0; !shared->upcall_pending; spins++)
        if (spins == 0xFFFFFFFFu)
            fail("the timer event never became pending");
    for (volatile uint32_t i = 0; i < 2000000u; i++)
        ;
    uint32_t while_masked = events_delivered - before;
    shared->upcall_mask = 0;
    if (shared->upcall_pending)
        hypercall0(HC_YIELD);
    uint32_t after = events_delivered - before;
    put_str("events: 1 pending while masked, ");
    put_dec(while_masked);
    put_str(" delivered; ");
    put_dec(after);
    put_str(" delivered after the unmask\n");
    if (while_masked != 0 || after != 1)
        fail("events while masked");
}

/* ---------------------------------------------------------------- what the VMM refuses */

static void refusals(void)
{
    uint32_t entry = pte_address(kernel_pd, USER_MISSING + PAGE);
    int32_t beyond = mmu_try(entry, ram_end | PG_W | PG_P);
    int32_t device = mmu_try(entry, 0xFEE00000u | PG_W | PG_P);
    int32_t writable_table = mmu_try(entry, kernel_pd | PG_W | PG_P);
    int32_t large = mmu_try(kernel_pd + 0x300 * 4, 0x00000000u | 0x80u | PG_W | PG_P);
    int32_t not_a_table = mmu_try(FRAMES_START, 0);
    /* Buffers in the VMM's hole (the top 4 MiB, where the VMM keeps its tables) are not the
     * kernel's: a hypercall never reads them. */
    int32_t hole_console = hypercall2(HC_CONSOLE_WRITE, 0xFFC01000u, 16);
    int32_t hole_requests = hypercall2(HC_MMU_UPDATE, 0xFFC01000u, 1);
    /* A store into its own page directory faults (mapped read-only): recorded and skipped. */
    skip_store = 1;
    __asm__ volatile("mov %%eax, (%%edx)" : : "a"(0x12345678u), "d"(kernel_pd + 0x300 * 4) : "memory");
    skip_store = 0;
    put_str("refused: frame beyond RAM ");
    put_signed(beyond);
    put_str(", device page ");
    put_signed(device);
    put_str(", page table writable ");
    put_signed(writable_table);
    put_str(", 4 MiB page ");
    put_signed(large);
    put_str(", not a table ");
    put_signed(not_a_table);
    put_str(", buffers in the VMM's hole ");
    put_signed(hole_console);
    put_char(' ');
    put_signed(hole_requests);
    put_str("; a store into the page directory: ");
    put_dec(skipped_stores);
    put_str(" #PF error ");
    put_hex32(skipped_error);
    put_char('\n');
    if (beyond != -PV_EINVAL || device != -PV_EINVAL || writable_table != -PV_EPERM || large != -PV_EINVAL ||
        not_a_table != -PV_EINVAL || hole_console != -PV_EFAULT || hole_requests != -PV_EFAULT || skipped_stores != 1 || skipped_error != 0x3u || peek(kernel_pd + 0x300 * 4) != 0)
        fail("the VMM let an unsafe page-table change through");
}

static const char *cmdline;

static void privileged(void)
{
    const char *word;
    uint32_t length;
    if (!cmdline_word(cmdline, "privileged", &word, &length))
        return;
    put_str("executing a privileged instruction\n");
    if (length == 3 && word[0] == 'c' && word[1] == 'l' && word[2] == 'i')
        __asm__ volatile("cli");
    else if (length == 3 && word[0] == 'h')
        __asm__ volatile("hlt");
    else
        __asm__ volatile("mov %%eax, %%cr3" : : "a"(kernel_pd));
    fail("the privileged instruction did not end the run");
}

static void after_ring3(void)
{
    put_str("ring 3 done\n");
    timer_twin();
    masked_event();
    refusals();
    put_str("pvkernel ok\n");
    guest_exit(0);
}

void kmain(uint32_t magic, const struct multiboot_info *mbi)
{
    mb_require_magic(magic);
    set_up();
    cmdline = mb_cmdline(mbi);
    if (!(mbi->flags & MULTIBOOT_INFO_MEMORY)) {
        put_str("FAILED: no mem_upper from the loader\n");
        guest_exit(EXIT_MEMORY);
    }
    ram_end = 0x100000u + mbi->mem_upper * 1024u;
    if ((uint32_t)(uintptr_t)kernel_end > POOL_BASE)
        fail("the kernel image runs into the page-table pool");
    uint32_t need = FRAMES_START + (DEMAND_PAGES + 3 * SPACES + 2 + 16) * PAGE;
    if (ram_end < need) {
        put_str("FAILED: not enough memory: mem_upper=");
        put_dec(mbi->mem_upper);
        put_str("K, need ");
        put_dec((need - 0x100000u) / 1024u);
        put_str("K\n");
        guest_exit(EXIT_MEMORY);
    }
    const char *word;
    uint32_t length;
    if (cmdline_word(cmdline, "bench", &word, &length)) {
        enable_paging();
        pv_bench(cmdline);
    }
    put_str("pvkernel: paravirtual, hypercall page at ");
    put_hex32((uint32_t)(uintptr_t)hypercall_page);
    put_char('\n');
    privileged();
    enable_paging();
    paging_ops = &paravirtual_ops;
    paging_touch_all();
    paging_read_back();
    paging_accessed_dirty();
    address_spaces();
    paging_change_tables();
    put_str("paging ok\n");
    enter_ring3();
}
