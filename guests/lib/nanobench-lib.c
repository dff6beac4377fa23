/* nanobench-lib.c - see nanobench-lib.h. */
#include "guest.h"
#include "nanobench-lib.h"

#define TIMER_ROUNDS 9u
#define TIMER_WARM_UP 1000u     /* iterations of the untimed first pass */

volatile uint32_t nb_loop_left;

void nanobench_report(const char *name, const char *count_key, uint32_t count, uint64_t cycles, uint64_t empty)
{
    put_str("nanobench ");
    put_str(name);
    put_char(' ');
    put_str(count_key);
    put_char('=');
    put_dec(count);
    put_str(" cycles=");
    put_dec64(cycles);
    put_str(" empty=");
    put_dec64(empty);
    put_char('\n');
}

void nanobench_check_taken(const char *what, uint32_t taken, uint32_t n)
{
    if (taken == n)
        return;
    put_str("FAILED: ");
    put_str(what);
    put_char(' ');
    put_dec(taken);
    put_str(" times in ");
    put_dec(n);
    put_str(" iterations\n");
    guest_exit(1);
}

void nanobench_timer_rounds(uint32_t n, uint64_t (*work)(uint32_t n), void (*ticking)(void), void (*quiet)(void),
                            volatile uint32_t *count)
{
    /* A first, untimed pass: a translating engine (or QEMU's TCG) translates the loop on its
     * first run, which would otherwise count as time the interrupts took. */
    quiet();
    work(n < TIMER_WARM_UP ? n : TIMER_WARM_UP);
    uint32_t per_round = n / TIMER_ROUNDS ? n / TIMER_ROUNDS : 1;
    uint32_t interrupts[TIMER_ROUNDS];
    uint64_t with[TIMER_ROUNDS], without[TIMER_ROUNDS];
    uint32_t cost[TIMER_ROUNDS];    /* cycles per interrupt, 0xFFFFFFFF for a round with none */
    for (uint32_t r = 0; r < TIMER_ROUNDS; r++) {
        quiet();
        without[r] = work(per_round);
        uint32_t before = *count;
        ticking();
        with[r] = work(per_round);
        quiet();
        interrupts[r] = *count - before;
        /* (32-bit division: the freestanding build has no 64-bit one; a round beyond 4G extra
         * cycles is a spoiled round and sorts last.) */
        uint64_t extra64 = with[r] > without[r] ? with[r] - without[r] : 0;
        uint32_t extra = extra64 < 0xFFFFFFFEull ? (uint32_t)extra64 : 0xFFFFFFFEu;
        cost[r] = interrupts[r] ? extra / interrupts[r] : 0xFFFFFFFFu;
    }
    /* The median round by cost (a selection sort of indices: nine rounds). */
    uint32_t order[TIMER_ROUNDS];
    for (uint32_t r = 0; r < TIMER_ROUNDS; r++)
        order[r] = r;
    for (uint32_t i = 0; i < TIMER_ROUNDS; i++)
        for (uint32_t j = i + 1; j < TIMER_ROUNDS; j++)
            if (cost[order[j]] < cost[order[i]]) {
                uint32_t t = order[i];
                order[i] = order[j];
                order[j] = t;
            }
    uint32_t m = order[TIMER_ROUNDS / 2];
    nanobench_report("timer", "interrupts", interrupts[m], with[m], without[m]);
}

static int word_is(const char *word, uint32_t length, const char *name)
{
    uint32_t i = 0;
    for (; i < length && name[i]; i++)
        if (word[i] != name[i])
            return 0;
    return i == length && !name[i];
}

const struct nanobench *nanobench_select(const char *cmdline, const struct nanobench *table, uint32_t count,
                                         int *run_none, uint32_t *iterations)
{
    const char *only = 0;
    uint32_t only_length = 0;
    const struct nanobench *selected = 0;
    *run_none = 0;
    *iterations = 0;
    if (cmdline_word(cmdline, "only", &only, &only_length)) {
        if (word_is(only, only_length, "none")) {
            *run_none = 1;
        } else {
            for (uint32_t i = 0; i < count; i++)
                if (word_is(only, only_length, table[i].name))
                    selected = &table[i];
            if (!selected) {
                put_str("FAILED: unknown benchmark in only=");
                for (uint32_t i = 0; i < only_length; i++)
                    put_char(only[i]);
                put_char('\n');
                guest_exit(1);
            }
        }
    }
    const char *word;
    uint32_t length;
    if (cmdline_word(cmdline, "iterations", &word, &length) &&
        (!cmdline_u32(cmdline, "iterations", iterations) || *iterations == 0))
        guest_fail("iterations must be a decimal number from 1 to 4294967295", 1);
    return selected;
}

void nanobench_run(const struct nanobench *table, uint32_t count, const struct nanobench *selected, int run_none,
                   uint32_t iterations)
{
    for (uint32_t i = 0; i < count && !run_none; i++) {
        const struct nanobench *b = &table[i];
        if (selected && b != selected)
            continue;
        b->run(iterations ? iterations : b->iterations);
    }
    put_str("nanobench ok\n");
    guest_exit(0);
}
