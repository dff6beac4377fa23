// What the run loop needs from the platform's interrupt controller.

/** The CPU's INTR input: an 8259A pair on a PC. */
export interface InterruptController {
  /** An unmasked request outranks everything in service: INTR is asserted. */
  hasInterrupt(): boolean;
  /** The interrupt-acknowledge cycle: the vector to deliver. */
  acknowledge(): number;
}
