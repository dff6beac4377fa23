/*
 * pc-timer.h - IRQ 0 at vector 0x20, `hz` times a second: the 8259A pair remapped to vectors
 * 0x20/0x28 with only IRQ 0 unmasked, and the 8254's counter 0 as a rate generator.
 * The guest installs its handler at 0x20 (which sends the EOI) and sets IF itself.
 */
#ifndef PC_TIMER_H
#define PC_TIMER_H

#include <stdint.h>

/* hz from 19 to 1193182 (the 8254's 16-bit divisor); the rate is rounded to a whole divisor. */
void start_timer_hz(uint32_t hz);

static inline void start_timer_1khz(void)
{
    start_timer_hz(1000);
}

/* The 8259A pair as start_timer_hz leaves it (vectors 0x20/0x28, only IRQ 0 unmasked). */
void route_irq0_only(void);

/* One IRQ 0 edge, `micros` (1 to 54925) from now: counter 0 in mode 0 (interrupt on terminal
 * count), whose output rises once at the end of the count and stays high until the next count
 * is written. After route_irq0_only(). */
void timer_one_shot_us(uint32_t micros);

#endif
