/*
 * dirtier - a guest that writes memory faster than any link can copy it: round after round it
 * stores the round number into every page of a buffer ("mib=N" MiB at 4 MiB, default 32), and
 * prints "DIRTY-ROUND r" after each of "rounds=R" (default 2000). At the end it checks that
 * every page holds what the last round stored, so a copy of it that lost or reordered a page's
 * writes (a migration) is found by the guest itself: "dirtier ok: N pages", or the first page
 * that is wrong. Exits through the debug-exit port with 0 or 1.
 */
#include "guest.h"

#define BUFFER_BASE 0x400000u
#define PAGE_WORDS  1024u

static volatile uint32_t *page_word(uint32_t page, uint32_t word)
{
    return (volatile uint32_t *)(BUFFER_BASE + page * 4096u) + word;
}

void kmain(uint32_t magic, const struct multiboot_info *mbi)
{
    uart_init();
    mb_require_magic(magic);

    uint32_t mib, rounds;
    if (!cmdline_u32(mb_cmdline(mbi), "mib", &mib))
        mib = 32;
    if (!cmdline_u32(mb_cmdline(mbi), "rounds", &rounds))
        rounds = 2000;
    uint32_t pages = mib * 256u;

    for (uint32_t round = 1; round <= rounds; round++) {
        /* Two words a page: the round, and one that depends on the page too. */
        for (uint32_t page = 0; page < pages; page++) {
            *page_word(page, 0) = round;
            *page_word(page, (page + round) % PAGE_WORDS | 1u) = round ^ page;
        }
        put_str("DIRTY-ROUND ");
        put_dec(round);
        put_char('\n');
    }

    for (uint32_t page = 0; page < pages; page++) {
        uint32_t word = (page + rounds) % PAGE_WORDS | 1u;
        if (*page_word(page, 0) != rounds || *page_word(page, word) != (rounds ^ page)) {
            put_str("dirtier: page ");
            put_dec(page);
            put_str(" holds round ");
            put_dec(*page_word(page, 0));
            put_str(", not ");
            put_dec(rounds);
            put_char('\n');
            guest_exit(1);
        }
    }
    put_str("dirtier ok: ");
    put_dec(pages);
    put_str(" pages\n");
    guest_exit(0);
}
