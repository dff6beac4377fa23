// Number formatting shared by the compare reports: three significant digits below 1000, whole
// numbers with a space between thousands above (as SI writes them), so that 0.312 ns, 45.2 ns and
// 21 400 ns read alike in one column and no value shows more precision than a median of a few
// runs has.

const SIGNIFICANT = 3;

/** Digits in groups of three, separated by a space: 1234567 -> "1 234 567". */
function grouped(whole: number): string {
  const digits = String(Math.abs(whole));
  const groups: string[] = [];
  for (let end = digits.length; end > 0; end -= 3) groups.unshift(digits.slice(Math.max(0, end - 3), end));
  return (whole < 0 ? '-' : '') + groups.join(' ');
}

/** Three significant digits (0.312, 4.50, 45.2, 452), whole and grouped from 1000 on (21 400). */
export function formatValue(value: number): string {
  if (!Number.isFinite(value)) return String(value);
  if (value === 0) return '0';
  const magnitude = Math.floor(Math.log10(Math.abs(value)));
  const decimals = SIGNIFICANT - 1 - magnitude;
  const rounded = Number(value.toFixed(Math.max(0, Math.min(decimals, 20))));
  if (Math.abs(rounded) >= 1000) return grouped(Math.round(rounded));
  // Rounding may have carried into the next digit (9.996 -> 10.0): count again.
  const carried = Math.floor(Math.log10(Math.abs(rounded)));
  return rounded.toFixed(Math.max(0, SIGNIFICANT - 1 - carried));
}

/** A count per operation (exits, VMM calls): two decimals below 100, whole and grouped above. */
export function formatPerOp(value: number): string {
  if (value === 0) return '0';
  if (Math.abs(value) < 0.01) return '<0.01';
  if (Math.abs(value) < 100) return value.toFixed(2);
  return grouped(Math.round(value));
}

/** A count per workload: whole and grouped, "2 131 000". */
export function formatTotal(value: number): string {
  return grouped(Math.round(value));
}

/** A ratio to the reference column: "452×". */
export function formatRatio(ratio: number): string {
  return `${formatValue(ratio)}×`;
}

/** The machine's load averages: "0.52 0.41 0.30". */
export function formatLoad(load: readonly number[]): string {
  return load.map((l) => l.toFixed(2)).join(' ');
}
