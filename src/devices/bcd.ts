// Packed BCD, as the MC146818 presents time in BCD mode and the 8254 counts in BCD mode.

export function toBcd(value: number): number {
  let result = 0;
  for (let shift = 0; value > 0; shift += 4) {
    result |= (value % 10) << shift;
    value = Math.floor(value / 10);
  }
  return result;
}

/** Nibbles above 9 are weighted like digits, as a hardware decoder without validity checks would. */
export function fromBcd(bcd: number): number {
  let result = 0;
  for (let weight = 1; bcd > 0; weight *= 10) {
    result += (bcd & 0xf) * weight;
    bcd >>>= 4;
  }
  return result;
}
