import { describe, expect, it } from 'vitest';
import { descriptorOffset, isLdtSelector, isNullSelector, selectorIndex, selectorRpl, withRpl } from '../../src/x86/selector.js';

describe('segment selectors (SDM Vol. 3 §3.4.2)', () => {
  it('splits a selector into index, table and RPL', () => {
    expect([selectorIndex(0x2b), isLdtSelector(0x2b), selectorRpl(0x2b)]).toEqual([5, false, 3]);
    expect([selectorIndex(0x0f), isLdtSelector(0x0f), selectorRpl(0x0f)]).toEqual([1, true, 3]);
    expect([selectorIndex(0xfff8), isLdtSelector(0xfff8), selectorRpl(0xfff8)]).toEqual([0x1fff, false, 0]);
  });

  it('finds the descriptor at index times 8', () => {
    expect(descriptorOffset(0x2b)).toBe(0x28);
    expect(descriptorOffset(0x10)).toBe(0x10);
    expect(descriptorOffset(0xffff)).toBe(0xfff8);
  });

  it('takes GDT index 0 with any RPL as null, and LDT index 0 as not null', () => {
    for (const selector of [0, 1, 2, 3]) expect(isNullSelector(selector)).toBe(true);
    expect(isNullSelector(4)).toBe(false);
    expect(isNullSelector(8)).toBe(false);
  });

  it('replaces only the RPL', () => {
    expect(withRpl(0x08, 1)).toBe(0x09);
    expect(withRpl(0x0b, 0)).toBe(0x08);
    expect(withRpl(0x1c, 3)).toBe(0x1f);
  });
});
