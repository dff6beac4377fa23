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

#endif
