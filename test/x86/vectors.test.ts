import { describe, expect, it } from 'vitest';
import { hasErrorCode, Vector, vectorName } from '../../src/x86/vectors.js';

describe('exception vectors (SDM Vol. 3 Table 6-1)', () => {
  it('numbers the exceptions as the SDM does', () => {
    expect(Vector).toMatchObject({ DE: 0, DB: 1, NMI: 2, BP: 3, UD: 6, NM: 7, DF: 8, TS: 10, NP: 11, SS: 12, GP: 13, PF: 14, MF: 16, AC: 17, MC: 18, XM: 19, VE: 20, CP: 21 });
  });

  it('names each exception by its mnemonic', () => {
    for (const [mnemonic, vector] of Object.entries(Vector)) {
      expect(vectorName(vector)).toBe(mnemonic === 'NMI' ? 'NMI' : `#${mnemonic}`);
    }
    expect(vectorName(9)).toBe('coprocessor-overrun');
    expect(vectorName(15)).toBe('reserved-15');
    expect(vectorName(0x20)).toBe('vector 32');
  });

  it('gives an error code to #DF, #TS, #NP, #SS, #GP, #PF, #AC and #CP only', () => {
    const withCode = Array.from({ length: 256 }, (_, v) => v).filter(hasErrorCode);
    expect(withCode).toEqual([8, 10, 11, 12, 13, 14, 17, 21]);
  });
});
