// Register ids of the native core (native/src/registers.h), by name.
export const Reg = {
  eax: 0, ecx: 1, edx: 2, ebx: 3, esp: 4, ebp: 5, esi: 6, edi: 7,
  eip: 8, eflags: 9,
  es: 10, cs: 11, ss: 12, ds: 13, fs: 14, gs: 15,
  cr0: 16, cr2: 17, cr3: 18, cr4: 19,
  gdtrBase: 20, gdtrLimit: 21, idtrBase: 22, idtrLimit: 23,
  ldtr: 24, tr: 25,
  dr0: 26, dr1: 27, dr2: 28, dr3: 29, dr6: 30, dr7: 31,
} as const;

export type RegName = keyof typeof Reg;
