import { describe, expect, it } from 'vitest';
import { parseTraceFilter, selects, TraceFilterError } from '../../src/trace/filters.js';

describe('trace filters', () => {
  it('parses ranges as START-END (inclusive) or START+LENGTH, comma-separated', () => {
    const filter = parseTraceFilter({ range: '0x100000-0x100fff,0x200000+0x10' });
    expect(filter.ranges).toEqual([
      { start: 0x100000, end: 0x100fff },
      { start: 0x200000, end: 0x20000f },
    ]);
    expect(selects(filter, 0x100fff, 0, 'nop')).toBe(true);
    expect(selects(filter, 0x101000, 0, 'nop')).toBe(false);
    expect(selects(filter, 0x20000f, 0, 'nop')).toBe(true);
  });

  it('selects by privilege level and by mnemonic', () => {
    expect(selects(parseTraceFilter({ cpl: 'user' }), 0, 3, 'nop')).toBe(true);
    expect(selects(parseTraceFilter({ cpl: 'user' }), 0, 0, 'nop')).toBe(false);
    expect(selects(parseTraceFilter({ cpl: 'kernel' }), 0, 0, 'nop')).toBe(true);
    expect(selects(parseTraceFilter({ match: 'mov' }), 0, 0, 'mov eax, ebx')).toBe(true);
    expect(selects(parseTraceFilter({ match: 'mov' }), 0, 0, 'movzx eax, bl')).toBe(false); // a whole mnemonic
    expect(selects(parseTraceFilter({ match: '/^(in|out) /' }), 0, 0, 'out dx, al')).toBe(true);
  });

  it.each([
    [{ range: '0x1000' }, "invalid --range '0x1000': give START-END or START+LENGTH, e.g. 0x100000-0x100fff"],
    [{ range: '0x2000-0x1000' }, "invalid --range '0x2000-0x1000': the range is empty"],
    [{ range: 'zz-0x10' }, "invalid --range 'zz': give an address such as 0x100000"],
    [{ count: '0' }, "invalid --count '0': give a whole number of instructions (at least 1)"],
    [{ skip: '-1' }, "invalid --skip '-1': give a whole number of instructions"],
    [{ cpl: 'root' }, "invalid --cpl 'root': give user, kernel or a privilege level 0-3"],
    [{ startAt: 'entry' }, "invalid --start-at 'entry': give an address such as 0x100000"],
    [{ match: '/(/' }, /^invalid --match '\/\(\/': /],
  ])('rejects %o with one clear line', (options, message) => {
    expect(() => parseTraceFilter(options)).toThrow(TraceFilterError);
    expect(() => parseTraceFilter(options)).toThrow(message);
  });
});
