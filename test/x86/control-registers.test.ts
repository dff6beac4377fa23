import { describe, expect, it } from 'vitest';
import * as cr from '../../src/x86/control-registers.js';

/** The bit positions set in a 32-bit value. */
const bits = (value: number): number[] => Array.from({ length: 32 }, (_, i) => i).filter((i) => (value >>> i) & 1);

describe('control registers (SDM Vol. 3 §2.5)', () => {
  it('puts each CR0 flag at its bit', () => {
    const { CR0_PE, CR0_MP, CR0_EM, CR0_TS, CR0_ET, CR0_NE, CR0_WP, CR0_AM, CR0_NW, CR0_CD, CR0_PG } = cr;
    expect([CR0_PE, CR0_MP, CR0_EM, CR0_TS, CR0_ET, CR0_NE, CR0_WP, CR0_AM, CR0_NW, CR0_CD, CR0_PG].map(bits)).toEqual(
      [[0], [1], [2], [3], [4], [5], [16], [18], [29], [30], [31]],
    );
    // A paging kernel's CR0 as traces show it.
    expect((CR0_PG | CR0_ET | CR0_PE) >>> 0).toBe(0x80000011);
  });

  it('puts each CR4 flag at its bit', () => {
    const { CR4_VME, CR4_PVI, CR4_TSD, CR4_DE, CR4_PSE, CR4_PAE, CR4_MCE, CR4_PGE, CR4_PCE, CR4_OSFXSR, CR4_OSXMMEXCPT, CR4_UMIP } = cr;
    expect([CR4_VME, CR4_PVI, CR4_TSD, CR4_DE, CR4_PSE, CR4_PAE, CR4_MCE, CR4_PGE, CR4_PCE, CR4_OSFXSR, CR4_OSXMMEXCPT, CR4_UMIP].map(bits)).toEqual(
      Array.from({ length: 12 }, (_, i) => [i]),
    );
  });
});
