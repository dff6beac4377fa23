/* print.c - number formatting. 32-bit only: 64-bit division would need libgcc. */
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
