// Segment selectors (Intel SDM Vol. 3 §3.4.2, Figure 3-6): the descriptor's index in bits 15:3,
// the table indicator (TI: 0 GDT, 1 LDT) in bit 2, the requested privilege level (RPL) in bits 1:0.
// The CPL is the RPL of CS (§5.5).
import { DESCRIPTOR_SIZE } from './descriptor.js';

const RPL_MASK = 3;
const TI = 1 << 2;

export function selectorRpl(selector: number): number {
  return selector & RPL_MASK;
}

/** The selector with its RPL replaced. */
export function withRpl(selector: number, rpl: number): number {
  return (selector & ~RPL_MASK) | (rpl & RPL_MASK);
}

/** Whether the selector names a descriptor in the LDT rather than the GDT. */
export function isLdtSelector(selector: number): boolean {
  return (selector & TI) !== 0;
}

/** The null selector: GDT entry 0, whatever its RPL (§3.4.2). */
export function isNullSelector(selector: number): boolean {
  return (selector & ~RPL_MASK) === 0;
}

export function selectorIndex(selector: number): number {
  return (selector >>> 3) & 0x1fff;
}

/** Where the selector's descriptor starts in its table. */
export function descriptorOffset(selector: number): number {
  return selectorIndex(selector) * DESCRIPTOR_SIZE;
}
