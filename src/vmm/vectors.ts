// Exception vectors (Intel SDM Vol. 3, Table 6-1) and how they are named in reports.
const MNEMONICS = [
  '#DE', '#DB', 'NMI', '#BP', '#OF', '#BR', '#UD', '#NM', '#DF', 'coprocessor-overrun', '#TS', '#NP', '#SS',
  '#GP', '#PF', 'reserved-15', '#MF', '#AC', '#MC', '#XM', '#VE', '#CP',
];

/** Vectors whose exception pushes an error code (SDM Vol. 3 §6.13). */
const WITH_ERROR_CODE = new Set([8, 10, 11, 12, 13, 14, 17, 21]);

export function vectorName(vector: number): string {
  return MNEMONICS[vector] ?? `vector ${vector}`;
}

export function hasErrorCode(vector: number): boolean {
  return WITH_ERROR_CODE.has(vector);
}

export function describeException(vector: number, errorCode: number, cr2: number): string {
  let text = vectorName(vector);
  if (hasErrorCode(vector)) text += `(0x${errorCode.toString(16)})`;
  if (vector === 14) text += ` at linear address 0x${cr2.toString(16)}`;
  return text;
}

/**
 * An event raised by an instruction (Unicorn says which), named the same under every engine:
 * INT3 and INTO by their exception, any other INT n by its vector.
 */
export function describeSoftwareInterrupt(vector: number): string {
  if (vector === 3) return '#BP (INT3)';
  if (vector === 4) return '#OF (INTO)';
  return `INT 0x${vector.toString(16)}`;
}
