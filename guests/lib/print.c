/* print.c - number formatting. No 64-bit C division: it would need libgcc. */
#include "guest.h"

void put_dec(uint32_t v)
{
    char buf[10];               /* 4294967295 has 10 digits */
    int n = 0;
    do {
        buf[n++] = (char)('0' + v % 10);
        v /= 10;
    } while (v);
    while (n)
        put_char(buf[--n]);
}

/* Unsigned decimal of a 64-bit value, with DIV (64-bit C division would need libgcc). */
void put_dec64(uint64_t v)
{
    char buf[20];               /* 18446744073709551615 has 20 digits */
    int n = 0;
    uint32_t hi = (uint32_t)(v >> 32), lo = (uint32_t)v;
    do {
        uint32_t rem = hi % 10u;
        hi /= 10u;
        /* EDX:EAX / 10 with EDX < 10: the quotient fits in 32 bits. */
        __asm__("divl %4" : "=a"(lo), "=d"(rem) : "a"(lo), "d"(rem), "rm"(10u) : "cc");
        buf[n++] = (char)('0' + rem);
    } while (hi || lo);
    while (n)
        put_char(buf[--n]);
}

static void put_hex_digits(uint32_t v)
{
    for (int shift = 28; shift >= 0; shift -= 4)
        put_char("0123456789abcdef"[(v >> shift) & 0xF]);
}

void put_hex32(uint32_t v)
{
    put_str("0x");
    put_hex_digits(v);
}

void put_hex64(uint32_t hi, uint32_t lo)
{
    put_str("0x");
    if (hi)
        put_hex_digits(hi);
    put_hex_digits(lo);
}
