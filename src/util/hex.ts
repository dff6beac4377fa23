export function hex(value: number, digits = 8): string {
  return (value >>> 0).toString(16).padStart(digits, '0');
}

/** CS:EIP as a report shows it. */
export function csEip(cs: number, eip: number): string {
  return `${hex(cs, 4)}:${hex(eip, 8)}`;
}
