// Exception vectors (Intel SDM Vol. 3 §6.3.1, Table 6-1), their mnemonics, and which of them push
// an error code (§6.13; Table 6-1's "Error Code" column).

export const Vector = {
  DE: 0, DB: 1, NMI: 2, BP: 3, OF: 4, BR: 5, UD: 6, NM: 7,
  DF: 8, TS: 10, NP: 11, SS: 12, GP: 13, PF: 14,
  MF: 16, AC: 17, MC: 18, XM: 19, VE: 20, CP: 21,
} as const;

// Vector 9 is the i386's coprocessor segment overrun (reserved since the i486), 15 is reserved.
const MNEMONICS = [
  '#DE', '#DB', 'NMI', '#BP', '#OF', '#BR', '#UD', '#NM', '#DF', 'coprocessor-overrun', '#TS', '#NP', '#SS',
  '#GP', '#PF', 'reserved-15', '#MF', '#AC', '#MC', '#XM', '#VE', '#CP',
];

const WITH_ERROR_CODE: ReadonlySet<number> = new Set([Vector.DF, Vector.TS, Vector.NP, Vector.SS, Vector.GP, Vector.PF, Vector.AC, Vector.CP]);

/** The exception's mnemonic ("#GP"), or "vector N" for a vector above the exceptions. */
export function vectorName(vector: number): string {
  return MNEMONICS[vector] ?? `vector ${vector}`;
}

/** Whether the exception pushes an error code when the processor raises it. */
export function hasErrorCode(vector: number): boolean {
  return WITH_ERROR_CODE.has(vector);
}
