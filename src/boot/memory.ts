// Guest-physical address arithmetic shared by the loaders: checked ranges,
// RAM-size validation and the placement checks every plan goes through.

import { formatSize, hex } from './bytes.js';
import { LoadError } from './load-plan.js';

export const KiB = 1024;
export const MiB = 1024 * KiB;
/** The 32-bit physical address space an i386 guest without PAE can reach. */
export const ADDRESS_SPACE_END = 2 ** 32;

/** A guest-physical range [start, end) with a name for messages. */
export interface PhysRange {
  start: number;
  end: number;
  what: string;
}

/** "0x100000-0x100fff": inclusive bounds read better than a half-open pair. */
export function formatRange(range: { start: number; end: number }): string {
  return `${hex(range.start)}-${hex(range.end - 1)}`;
}

/**
 * The range [start, start+length) for header-supplied start and length (both
 * 32-bit fields), failing with 'bad-header' if it runs past 4 GiB, where a
 * 32-bit address would wrap.
 */
export function checkedRange(start: number, length: number, what: string): PhysRange {
  const end = start + length;
  if (end > ADDRESS_SPACE_END) {
    throw new LoadError(
      'bad-header',
      `${what} at ${hex(start)} with length ${hex(length)} runs past the 4 GiB physical address space`,
    );
  }
  return { start, end, what };
}

/** Validates a caller-supplied 32-bit value (load address, entry point). */
export function requireU32Option(value: number, what: string): number {
  if (!Number.isInteger(value) || value < 0 || value >= ADDRESS_SPACE_END) {
    throw new LoadError('unsupported', `${what} must be an integer from 0 to 0xffffffff (got ${value})`);
  }
  return value;
}

/**
 * Guest RAM is mapped in whole 4 KiB pages from address 0 and must fit in the
 * 32-bit physical address space.
 */
export function checkRamSize(ramSize: number): void {
  if (!Number.isSafeInteger(ramSize) || ramSize <= 0 || ramSize % (4 * KiB) !== 0) {
    throw new LoadError('unsupported', `guest RAM size must be a positive multiple of 4 KiB (got ${ramSize} bytes)`);
  }
  if (ramSize > ADDRESS_SPACE_END) {
    throw new LoadError(
      'unsupported',
      `guest RAM size ${formatSize(ramSize)} exceeds the 4 GiB that a 32-bit guest can address`,
    );
  }
}

/** A plan's reserved entry (or any guestPhys/length pair) as a range. */
export function rangeOf(entry: { guestPhys: number; length: number; what: string }): PhysRange {
  return { start: entry.guestPhys, end: entry.guestPhys + entry.length, what: entry.what };
}

export function overlaps(a: { start: number; end: number }, b: { start: number; end: number }): boolean {
  return a.start < b.end && b.start < a.end;
}

/** The first pair (in list order) of ranges in `list` that overlap each other. */
export function findOverlappingPair(list: readonly PhysRange[]): [PhysRange, PhysRange] | undefined {
  for (let i = 0; i < list.length; i++) {
    for (let j = i + 1; j < list.length; j++) {
      if (overlaps(list[i], list[j])) return [list[i], list[j]];
    }
  }
  return undefined;
}

export interface PlacementCheck {
  ramSize: number;
  /** What the image is called in the "ends at" message: "kernel", "image", "boot sector". */
  subject: string;
  /** The ranges the image itself occupies (its chunks and its bss). */
  payload: readonly PhysRange[];
  /** Structures the VMM builds in guest RAM. */
  reserved: readonly PhysRange[];
  /** Address ranges the image may not use although they are inside RAM. */
  holes?: readonly PhysRange[];
}

/**
 * Every plan's image must fit in guest RAM, keep out of the holes the VMM
 * advertises as not usable, and leave the VMM's own structures intact.
 */
export function checkPlacement(check: PlacementCheck): void {
  const end = Math.max(...check.payload.map((r) => r.end));
  if (end > check.ramSize) {
    throw new LoadError(
      'too-large',
      `image needs ${hex(end)} bytes of RAM (${check.subject} ends at ${hex(end - 1)}) but the guest has ${formatSize(check.ramSize)}`,
    );
  }
  for (const range of check.payload) {
    for (const hole of check.holes ?? []) {
      if (overlaps(range, hole)) {
        throw new LoadError(
          'unsupported',
          `${range.what} at ${formatRange(range)} lies in ${hole.what} at ${formatRange(hole)}, which is not usable RAM`,
        );
      }
    }
    for (const structure of check.reserved) {
      if (overlaps(range, structure)) {
        throw new LoadError(
          'unsupported',
          `${range.what} at ${formatRange(range)} overlaps the VMM's ${structure.what} at ${formatRange(structure)}`,
        );
      }
    }
  }
}
