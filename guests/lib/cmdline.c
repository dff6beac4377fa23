/* cmdline.c - "key=value" lookup in a multiboot command line. */
#include "guest.h"

static int is_space(char c)
{
    return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

/*
 * Look for a whitespace-separated token "<key>=<digits>". Returns 1 and
 * stores the decimal value if found; returns 0 if absent or if the value is
 * not a plain decimal number that fits in 32 bits. The loader may put other
 * words first (QEMU prepends the kernel's file name), so every token is tried;
 * the first well-formed match wins.
 */
int cmdline_u32(const char *cmdline, const char *key, uint32_t *out)
{
    const char *p = cmdline;
    while (*p) {
        while (is_space(*p))
            p++;
        const char *tok = p;
        while (*p && !is_space(*p))
            p++;

        const char *k = key, *t = tok;
        while (*k && t < p && *t == *k) {
            k++;
            t++;
        }
        if (*k || t >= p || *t != '=')
            continue;
        t++;
        if (t == p)
            continue;           /* "key=" with no digits */

        uint32_t v = 0;
        for (; t < p; t++) {
            if (*t < '0' || *t > '9')
                break;
            uint32_t d = (uint32_t)(*t - '0');
            if (v > (0xFFFFFFFFu - d) / 10)
                break;          /* overflow */
            v = v * 10 + d;
        }
        if (t == p) {
            *out = v;
            return 1;
        }
    }
    return 0;
}
