/* uart.c - polled output on a 16550 UART at COM1. */
#include "guest.h"

#define COM1      0x3F8
#define UART_THR  (COM1 + 0)    /* transmit holding (DLAB=0) */
#define UART_DLL  (COM1 + 0)    /* divisor low (DLAB=1) */
#define UART_IER  (COM1 + 1)    /* interrupt enable (DLAB=0) */
#define UART_DLM  (COM1 + 1)    /* divisor high (DLAB=1) */
#define UART_FCR  (COM1 + 2)
#define UART_LCR  (COM1 + 3)
#define UART_LSR  (COM1 + 5)
#define LSR_THRE  0x20          /* transmit holding register empty */

void uart_init(void)
{
    outb(UART_IER, 0x00);       /* polled: no interrupts */
    outb(UART_LCR, 0x80);       /* DLAB=1 to reach the divisor latch */
    outb(UART_DLL, 1);          /* 115200 baud */
    outb(UART_DLM, 0);
    outb(UART_LCR, 0x03);       /* 8N1, DLAB=0 */
    outb(UART_FCR, 0xC7);       /* enable + clear FIFOs, 14-byte trigger */
}

void put_char(char c)
{
    while (!(inb(UART_LSR) & LSR_THRE))
        ;
    outb(UART_THR, (uint8_t)c);
}

void put_str(const char *s)
{
    while (*s)
        put_char(*s++);
}
