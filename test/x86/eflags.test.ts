import { describe, expect, it } from 'vitest';
import * as flags from '../../src/x86/eflags.js';

/** The bit positions set in a 32-bit value. */
const bits = (value: number): number[] => Array.from({ length: 32 }, (_, i) => i).filter((i) => (value >>> i) & 1);

describe('EFLAGS (SDM Vol. 1 §3.4.3)', () => {
  it('puts the flags at their bits', () => {
    expect(flags.EFLAGS_IF).toBe(0x200);
    expect(flags.EFLAGS_IOPL).toBe(0x3000);
    expect(bits(flags.EFLAGS_NT)).toEqual([14]);
    expect(bits(flags.EFLAGS_RF)).toEqual([16]);
    expect(bits(flags.EFLAGS_VM)).toEqual([17]);
    expect(bits(flags.EFLAGS_ID)).toEqual([21]);
    expect(flags.EFLAGS_FIXED).toBe(0x2);
  });

  it('defines bits 0, 2, 4, 6-14 and 16-21, and bit 1 is the fixed one', () => {
    expect(flags.EFLAGS_DEFINED).toBe(0x3f7fd5);
    expect(flags.EFLAGS_DEFINED & flags.EFLAGS_FIXED).toBe(0);
  });
});
