// The compare reports' number formatting and log axis: values from 0.3 ns to 100 000 ns read alike,
// and the decades of the axis hold every bar.
import { describe, expect, it } from 'vitest';
import { formatPerOp, formatRatio, formatTotal, formatValue } from '../../src/bench/compare/report/number-format.js';
import { decadeLabel, logScale } from '../../src/bench/compare/report/log-scale.js';

describe('compare report numbers', () => {
  it('gives three significant digits below 1000 and whole grouped numbers above', () => {
    const values = [0.3, 0.31249, 0.5, 1, 1.049, 9.996, 45.23, 99.96, 452.4, 999.6, 1234.4, 21_400, 100_000, 1_234_567];
    expect(values.map(formatValue)).toEqual([
      '0.300', '0.312', '0.500', '1.00', '1.05', '10.0', '45.2', '100', '452', '1 000', '1 234', '21 400', '100 000', '1 234 567',
    ]);
    expect(formatValue(0)).toBe('0');
  });

  it('writes counts per operation with two decimals and totals whole', () => {
    expect([0, 0.004, 1, 2.5, 99.99, 1234].map(formatPerOp)).toEqual(['0', '<0.01', '1.00', '2.50', '99.99', '1 234']);
    expect(formatTotal(2_131_000.4)).toBe('2 131 000');
    expect(formatRatio(856.2)).toBe('856×');
  });

  it('spans whole decades on the log axis, a value on a decade above the bottom', () => {
    expect(logScale([0.52, 21_300]).decades).toEqual([-1, 0, 1, 2, 3, 4, 5]);
    expect(logScale([1, 10]).decades).toEqual([-1, 0, 1]);
    expect(logScale([1, 10]).fraction(1)).toBeCloseTo(0.5);
    expect([-1, 0, 2, 3, 4, 6].map((e) => decadeLabel(e, 'ns'))).toEqual(['0.1 ns', '1 ns', '100 ns', '1 µs', '10 µs', '1 ms']);
    expect([-1, 0, 2].map((e) => decadeLabel(e, 's'))).toEqual(['0.1 s', '1 s', '100 s']);
  });
});
