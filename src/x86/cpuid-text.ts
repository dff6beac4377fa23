// Text in CPUID registers (vendor, brand and hypervisor signature strings; SDM Vol. 2A, CPUID):
// four characters per register, the first in the low byte.

/** The 32-bit register value holding `text`'s characters at `at`..`at + 3` (missing ones 0). */
export function cpuidTextWord(text: string, at: number): number {
  let word = 0;
  for (let i = 3; i >= 0; i--) word = (word << 8) | (text.charCodeAt(at + i) || 0);
  return word >>> 0;
}
