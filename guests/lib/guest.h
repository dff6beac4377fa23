/*
 * guest.h - tiny runtime shared by the C sample guests.
 *
 * Execution starts in entry.asm, which sets up a stack and calls
 * kmain(magic, info) with the registers the multiboot loader handed over.
 */
#ifndef GUEST_H
#define GUEST_H

#include <stdint.h>
#include "multiboot.h"

/* Defined by each guest. */
void kmain(uint32_t magic, const struct multiboot_info *mbi);

/* Port I/O. */
static inline void outb(uint16_t port, uint8_t v)
{
    __asm__ volatile("outb %0, %1" : : "a"(v), "Nd"(port));
}

static inline uint8_t inb(uint16_t port)
{
    uint8_t v;
    __asm__ volatile("inb %1, %0" : "=a"(v) : "Nd"(port));
    return v;
}

/* uart.c: polled 16550 on COM1 (0x3F8). Call uart_init() before printing. */
void uart_init(void);
void put_char(char c);
void put_str(const char *s);

/* print.c */
void put_dec(uint32_t v);               /* unsigned decimal */
void put_hex32(uint32_t v);             /* "0x" + 8 lowercase hex digits */
void put_hex64(uint32_t hi, uint32_t lo); /* as put_hex32; 16 digits if hi != 0 */
void put_dec64(uint64_t v);             /* unsigned decimal, 64-bit */

/* cmdline.c: find whitespace-separated token "key=<decimal>" in cmdline. */
int cmdline_u32(const char *cmdline, const char *key, uint32_t *out);
/* cmdline.c: find token "key=<word>"; the word is not NUL-terminated, its length in *length. */
int cmdline_word(const char *cmdline, const char *key, const char **word, uint32_t *length);

/* multiboot.c */
void mb_require_magic(uint32_t magic);  /* prints "bad magic", exits 3 */
const char *mb_cmdline(const struct multiboot_info *mbi); /* "" if absent */

/* exit.c: QEMU isa-debug-exit at port 0xF4; never returns. */
void guest_exit(uint8_t value) __attribute__((noreturn));
/* exit.c: prints "FAILED: <what>" on its own line, then guest_exit(value). */
void guest_fail(const char *what, uint8_t value) __attribute__((noreturn));

#endif
