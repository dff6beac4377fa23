// The flat 32-bit protected-mode state shared by multiboot kernels, 32-bit
// flat binaries and Linux bzImages: a small GDT in low memory and flat selectors.

import { DESCRIPTOR_SIZE, encodeSegmentDescriptor, SegmentType } from '../x86/descriptor.js';
import { EFLAGS_FIXED } from '../x86/eflags.js';
import { descriptorOffset } from '../x86/selector.js';
import { ByteWriter } from './bytes.js';
import type { LoadPlan } from './load-plan.js';

/** EFLAGS with interrupts off: only the reserved bit 1, which always reads as 1. */
export const INITIAL_EFLAGS = EFLAGS_FIXED;

/**
 * The initial stack pointer for guests that get no stack from their boot
 * protocol (multiboot §3.2 leaves ESP undefined): the conventional boot-sector
 * address, so early pushes land in free conventional memory below it.
 */
export const INITIAL_STACK_TOP = 0x7c00;

/** The GDT sits just above the real-mode IVT (0x000-0x3ff) and BIOS data area (0x400-0x4ff). */
export const GDT_BASE = 0x500;
export const CODE_SELECTOR = 0x08;
export const DATA_SELECTOR = 0x10;

/** GDT selectors (ring 0, TI=0) for the flat code and data descriptors. */
export interface FlatSelectors {
  code: number;
  data: number;
}

/** Multiboot and flat binaries do not care; 0x08/0x10 is the smallest GDT. */
export const DEFAULT_SELECTORS: FlatSelectors = { code: CODE_SELECTOR, data: DATA_SELECTOR };

/** A present ring-0 32-bit code or data descriptor with base 0 spanning the whole 4 GiB. */
function flatDescriptor(type: number): Uint8Array {
  return encodeSegmentDescriptor({
    base: 0,
    limit: 0xffffffff,
    type,
    codeOrData: true,
    dpl: 0,
    present: true,
    available: false,
    long: false,
    defaultBig: true,
    granular: true,
  });
}

/**
 * A GDT just long enough for the two selectors; every other entry, including
 * entry 0, is a null descriptor. Selectors are fixed by the loaders, so a bad
 * one is a programming error rather than a LoadError.
 */
export function buildFlatGdt(selectors: FlatSelectors = DEFAULT_SELECTORS): Uint8Array {
  const { code, data } = selectors;
  for (const selector of [code, data]) {
    if (!Number.isInteger(selector) || selector <= 0 || selector % DESCRIPTOR_SIZE !== 0 || selector > 0xfff8) {
      throw new RangeError(`GDT selector ${selector} is not a non-null ring-0 GDT selector`);
    }
  }
  if (code === data) throw new RangeError(`code and data GDT selectors are both ${code}`);
  const gdt = new ByteWriter(Math.max(code, data) + DESCRIPTOR_SIZE);
  gdt.set(descriptorOffset(code), flatDescriptor(SegmentType.codeExecuteRead));
  gdt.set(descriptorOffset(data), flatDescriptor(SegmentType.dataReadWrite));
  return gdt.bytes;
}

/** The parts of a plan that put the CPU in flat 32-bit protected mode at `eip`. */
export function flatProtectedModeState(
  eip: number,
  selectors: FlatSelectors = DEFAULT_SELECTORS,
): Pick<LoadPlan, 'cpuMode' | 'entry' | 'segments' | 'gdt'> & {
  gdtChunk: { guestPhys: number; bytes: Uint8Array };
  gdtReserved: { guestPhys: number; length: number; what: string };
  registers: { esp: number; eflags: number };
} {
  const bytes = buildFlatGdt(selectors);
  const data = selectors.data;
  return {
    cpuMode: 'protected32',
    entry: { cs: selectors.code, eip },
    segments: { ds: data, es: data, ss: data, fs: data, gs: data },
    gdt: { base: GDT_BASE, limit: bytes.length - 1 },
    gdtChunk: { guestPhys: GDT_BASE, bytes },
    gdtReserved: { guestPhys: GDT_BASE, length: bytes.length, what: 'GDT' },
    registers: { esp: INITIAL_STACK_TOP, eflags: INITIAL_EFLAGS },
  };
}
