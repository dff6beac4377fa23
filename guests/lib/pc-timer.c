/*
 * pc-timer.c - the PC's timer interrupt for the guests that take one (cpuevents, frames,
 * nanobench).
 */
#include "pc-timer.h"

#include "guest.h"

/* The 8254's input clock (Intel 8254 datasheet; the PC's 14.31818 MHz / 12). */
#define PIT_HZ 1193182u

void route_irq0_only(void)
{
    /* 8259A pair as Linux programs it (ICW1-ICW4): vectors 0x20/0x28, then only IRQ 0 unmasked. */
    outb(0x20, 0x11); outb(0xA0, 0x11);
    outb(0x21, 0x20); outb(0xA1, 0x28);
    outb(0x21, 0x04); outb(0xA1, 0x02);
    outb(0x21, 0x01); outb(0xA1, 0x01);
    outb(0x21, 0xFE); outb(0xA1, 0xFF);
}

void timer_one_shot_us(uint32_t micros)
{
    /* PIT_HZ / 1e6 counts a microsecond, to four digits (32-bit arithmetic: no libgcc here). */
    uint16_t count = (uint16_t)((micros * ((PIT_HZ + 50u) / 100u) + 5000u) / 10000u);
    outb(0x43, 0x30);
    outb(0x40, (uint8_t)count);
    outb(0x40, (uint8_t)(count >> 8));
}

void start_timer_hz(uint32_t hz)
{
    route_irq0_only();
    /* 8254 counter 0: mode 2 (rate generator), the divisor rounded to the nearest. */
    uint16_t count = (uint16_t)((PIT_HZ + hz / 2u) / hz);
    outb(0x43, 0x34);
    outb(0x40, (uint8_t)count);
    outb(0x40, (uint8_t)(count >> 8));
}
