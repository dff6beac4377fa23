/*
 * nanobench-lib.h - what the nanobenchmark guests share (Adams and Agesen, ASPLOS 2006): the
 * timed loop around one operation, the report line vmm's comparison parses, the choice of
 * benchmarks from the command line, and the timer's rounds. Used by `nanobench` (native) and by
 * the paravirtual kernel's benchmark mode, which time the same operations by their own means.
 */
#ifndef NANOBENCH_LIB_H
#define NANOBENCH_LIB_H

#include <stdint.h>

#define NB_STRINGIFY(x) #x
#define NB_TO_STRING(x) NB_STRINGIFY(x)

/*
 * The loop every benchmark shares: RDTSC, START once, then ECX times OP, then RDTSC; leaves the
 * cycles in EDX:EAX and in ECX the iterations not run (0 unless OP left through label 2). The
 * start time is kept on the stack so that OP has EBX, ESI, EDI (and EAX, EDX) to itself. The
 * loop head is 16-byte aligned so that the op loop and the empty one start alike.
 */
#define TIMED(start, op)                \
    "rdtsc\n\t"                         \
    "pushl %edx\n\t"                    \
    "pushl %eax\n\t"                    \
    start                               \
    ".p2align 4\n"                      \
    "1:\n\t"                            \
    op                                  \
    "decl %ecx\n\t"                     \
    "jnz 1b\n"                          \
    "2:\n\t"                            \
    "rdtsc\n\t"                         \
    "subl (%esp), %eax\n\t"             \
    "sbbl 4(%esp), %edx\n\t"            \
    "addl $8, %esp\n\t"

/*
 * uint64_t name(uint32_t n, ...): a cdecl function around TIMED; SETUP runs before the first
 * RDTSC and finds the arguments after n at 20, 24 and 28(%esp). Stores ECX in nb_loop_left.
 */
#define KERNEL_LOOP(name, setup, start, op)     \
    ".globl " name "\n"                         \
    ".type " name ", @function\n"               \
    name ":\n\t"                                \
    "pushl %ebx\n\t"                            \
    "pushl %esi\n\t"                            \
    "pushl %edi\n\t"                            \
    "movl 16(%esp), %ecx\n\t"                   \
    setup                                       \
    TIMED(start, op)                            \
    "movl %ecx, nb_loop_left\n\t"               \
    "popl %edi\n\t"                             \
    "popl %esi\n\t"                             \
    "popl %ebx\n\t"                             \
    "ret\n"

/* Ring-3 code, entered by nb_run_user with ECX = n: back to the kernel through INT 0x81. */
#define USER_LOOP(name, op)                     \
    name ":\n\t"                                \
    TIMED("", op)                               \
    "int $0x81\n"

/* One xorshift32 round (Marsaglia 2003) on EBX with EAX as scratch: no memory access. */
#define XORSHIFT_EBX                            \
    "movl %ebx, %eax\n\t"                       \
    "shll $13, %eax\n\t"                        \
    "xorl %eax, %ebx\n\t"                       \
    "movl %ebx, %eax\n\t"                       \
    "shrl $17, %eax\n\t"                        \
    "xorl %eax, %ebx\n\t"                       \
    "movl %ebx, %eax\n\t"                       \
    "shll $5, %eax\n\t"                         \
    "xorl %eax, %ebx\n\t"

/* The iterations a KERNEL_LOOP did not run (0 unless its OP left through label 2). */
extern volatile uint32_t nb_loop_left;

struct nanobench {
    const char *name;
    uint32_t iterations;        /* the default count */
    void (*run)(uint32_t n);
};

/* "nanobench <name> <count_key>=<count> cycles=<cycles> empty=<empty>" */
void nanobench_report(const char *name, const char *count_key, uint32_t count, uint64_t cycles, uint64_t empty);
/* A handler counted `taken` operations in `n` iterations: anything but n prints FAILED and exits 1. */
void nanobench_check_taken(const char *what, uint32_t taken, uint32_t n);
/*
 * The timer's cost is a difference of two loops of the same work, with and without interrupts,
 * which a busy host disturbs by more than the interrupts cost: the work is split into nine rounds,
 * each timed with `quiet` and then with `ticking` in force (`count` counting the interrupts), and
 * the round whose per-interrupt cost is the median is reported (a preemption of the host spoils
 * one round, not the result). `work(n)` times n rounds of register-only work; an untimed first
 * pass comes before.
 */
void nanobench_timer_rounds(uint32_t n, uint64_t (*work)(uint32_t n), void (*ticking)(void), void (*quiet)(void),
                            volatile uint32_t *count);
/* Parses `only=NAME` (`none`: none) and `iterations=N` before anything runs: FAILED and exit 1 if bad. */
const struct nanobench *nanobench_select(const char *cmdline, const struct nanobench *table, uint32_t count,
                                         int *run_none, uint32_t *iterations);
/* Runs the selection (every benchmark, one, or none), prints "nanobench ok" and exits with 0. */
void nanobench_run(const struct nanobench *table, uint32_t count, const struct nanobench *selected, int run_none,
                   uint32_t iterations) __attribute__((noreturn));

#endif
