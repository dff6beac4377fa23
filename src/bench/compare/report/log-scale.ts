// The logarithmic value axis of the compare charts, as in Adams and Agesen's Figure 4: whole
// decades from below the smallest value to above the largest, so that a 0.5 ns CLI and a 20 µs
// CR3 load stand on one chart and equal ratios look equally tall.

export interface LogScale {
  /** Decade exponents from the bottom of the axis to its top: [-1, 0, 1, 2, 3, 4]. */
  decades: number[];
  /** Where a positive value falls, 0 at the bottom decade and 1 at the top one. */
  fraction(value: number): number;
}

/** The decades around these positive values (at least one decade tall). */
export function logScale(values: readonly number[]): LogScale {
  const logs = values.filter((v) => v > 0).map(Math.log10);
  const lowest = logs.length ? Math.min(...logs) : 0;
  const highest = logs.length ? Math.max(...logs) : 1;
  // A value right on a decade would be a bar of no height: the axis then starts a decade lower.
  const bottom = Math.floor(lowest) === lowest ? lowest - 1 : Math.floor(lowest);
  const top = Math.max(Math.ceil(highest), bottom + 1);
  const decades = Array.from({ length: top - bottom + 1 }, (_, i) => bottom + i);
  return {
    decades,
    fraction: (value) => (Math.log10(value) - bottom) / (top - bottom),
  };
}

/** 10^exponent without float noise: -1 -> 0.1. */
export function decadeValue(exponent: number): number {
  return Number((10 ** exponent).toPrecision(1));
}

/** A decade's label in the largest unit that keeps it whole or a plain fraction: "100 ns", "1 µs", "10 s". */
export function decadeLabel(exponent: number, unit: 'ns' | 's'): string {
  const steps = unit === 'ns' ? ['ns', 'µs', 'ms', 's'] : ['s'];
  let step = 0;
  while (step + 1 < steps.length && exponent - 3 * (step + 1) >= 0) step++;
  return `${decadeValue(exponent - 3 * step)} ${steps[step]}`;
}
