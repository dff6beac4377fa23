/*
 * pc-timer.h - IRQ 0 at vector 0x20, 1000 times a second: the 8259A pair remapped to vectors
 * 0x20/0x28 with only IRQ 0 unmasked, and the 8254's counter 0 as a 1 kHz rate generator.
 * The guest installs its handler at 0x20 (which sends the EOI) and sets IF itself.
 */
#ifndef PC_TIMER_H
#define PC_TIMER_H

void start_timer_1khz(void);

#endif
