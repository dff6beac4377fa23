/* cmdline.c - "key=value" lookup in a multiboot command line. */
#include "guest.h"

static int is_space(char c)
{
    return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

/*
 * From *p on, find the next whitespace-separated token "<key>=<value>". Returns 1 with the
 * value in [*value, *end) (possibly empty) and *p past the token; returns 0 when no token is
 * left. The loader may put other words first (QEMU prepends the kernel's file name), so every
 * token is tried.
 */
static int next_value(const char **p, const char *key, const char **value, const char **end)
{
    while (**p) {
        while (is_space(**p))
            (*p)++;
        const char *tok = *p;
        while (**p && !is_space(**p))
            (*p)++;

        const char *k = key, *t = tok;
        while (*k && t < *p && *t == *k) {
            k++;
            t++;
        }
        if (*k || t >= *p || *t != '=')
            continue;
        *value = t + 1;
        *end = *p;
        return 1;
    }
    return 0;
}

/*
 * Look for a token "<key>=<digits>". Returns 1 and stores the decimal value if found; returns 0
 * if absent or if the value is not a plain decimal number that fits in 32 bits. The first
 * well-formed match wins.
 */
int cmdline_u32(const char *cmdline, const char *key, uint32_t *out)
{
    const char *p = cmdline, *t, *end;
    while (next_value(&p, key, &t, &end)) {
        if (t == end)
            continue;           /* "key=" with no digits */

        uint32_t v = 0;
        for (; t < end; t++) {
            if (*t < '0' || *t > '9')
                break;
            uint32_t d = (uint32_t)(*t - '0');
            if (v > (0xFFFFFFFFu - d) / 10)
                break;          /* overflow */
            v = v * 10 + d;
        }
        if (t == end) {
            *out = v;
            return 1;
        }
    }
    return 0;
}

/*
 * Look for a token "<key>=<word>". Returns 1 with the first match's word (not NUL-terminated,
 * possibly empty) in *word and its length in *length; returns 0 if the key is absent.
 */
int cmdline_word(const char *cmdline, const char *key, const char **word, uint32_t *length)
{
    const char *p = cmdline, *end;
    if (!next_value(&p, key, word, &end))
        return 0;
    *length = (uint32_t)(end - *word);
    return 1;
}
