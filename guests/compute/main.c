/*
 * compute - CPU-bound benchmark guest. Runs N iterations (command-line
 * "iterations=N") of an xorshift32 PRNG whose state is kept in memory, each
 * iteration also read-modify-writing one word of a 4 KiB table, then prints a
 * checksum over the table and the final state. The result depends only on N,
 * so any correct x86 implementation prints the same checksum.
 */
#include "guest.h"

/* Tuned so qemu-system-i386 (TCG) takes roughly 1-3 s; see guests/README.md. */
#define DEFAULT_ITERATIONS 200000000u
#define TABLE_WORDS        1024u        /* 4 KiB */

/*
 * volatile keeps the PRNG state in memory: every iteration does one load and
 * one store of it, in addition to the table update, instead of letting the
 * compiler hold it in a register.
 */
static volatile uint32_t prng_state;
static uint32_t table[TABLE_WORDS];

static uint32_t run(uint32_t iterations)
{
    prng_state = 0x2545F491u;           /* any non-zero xorshift seed */
    for (uint32_t i = 0; i < iterations; i++) {
        uint32_t x = prng_state;
        /* Marsaglia xorshift32 (13, 17, 5). */
        x ^= x << 13;
        x ^= x >> 17;
        x ^= x << 5;
        prng_state = x;
        table[x & (TABLE_WORDS - 1)] += x ^ i;
    }

    /* FNV-1a-style fold of the table and the final state. */
    uint32_t h = 0x811C9DC5u ^ prng_state;
    for (uint32_t k = 0; k < TABLE_WORDS; k++)
        h = (h ^ table[k]) * 0x01000193u;
    return h;
}

void kmain(uint32_t magic, const struct multiboot_info *mbi)
{
    uart_init();
    mb_require_magic(magic);

    uint32_t iterations;
    if (!cmdline_u32(mb_cmdline(mbi), "iterations", &iterations))
        iterations = DEFAULT_ITERATIONS;

    put_str("checksum ");
    put_hex32(run(iterations));
    put_char('\n');
    guest_exit(0);
}
