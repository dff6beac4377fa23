// Control-register bits (Intel SDM Vol. 3 §2.5 "Control Registers", Figures 2-7 and 2-8).

/** CR0.PE: protected mode. */
export const CR0_PE = 1 << 0;
/** CR0.MP: WAIT/FWAIT honour TS. */
export const CR0_MP = 1 << 1;
/** CR0.EM: no x87; x87 instructions raise #NM. */
export const CR0_EM = 1 << 2;
/** CR0.TS: task switched; the next x87/SSE instruction raises #NM. */
export const CR0_TS = 1 << 3;
/** CR0.ET: extension type, reads as 1 on every processor since the Pentium. */
export const CR0_ET = 1 << 4;
/** CR0.NE: x87 errors raise #MF instead of the external FERR# line. */
export const CR0_NE = 1 << 5;
/** CR0.WP: supervisor writes honour read-only pages. */
export const CR0_WP = 1 << 16;
/** CR0.AM: EFLAGS.AC may enable alignment checks. */
export const CR0_AM = 1 << 18;
/** CR0.NW: not write-through. */
export const CR0_NW = 1 << 29;
/** CR0.CD: cache disable. */
export const CR0_CD = 1 << 30;
/** CR0.PG: paging. */
export const CR0_PG = 1 << 31;

/** CR4.VME: virtual-8086 mode extensions. */
export const CR4_VME = 1 << 0;
/** CR4.PVI: protected-mode virtual interrupts. */
export const CR4_PVI = 1 << 1;
/** CR4.TSD: RDTSC raises #GP at CPL > 0. */
export const CR4_TSD = 1 << 2;
/** CR4.DE: debugging extensions. */
export const CR4_DE = 1 << 3;
/** CR4.PSE: 4 MiB pages in 32-bit paging. */
export const CR4_PSE = 1 << 4;
/** CR4.PAE: physical address extension. */
export const CR4_PAE = 1 << 5;
/** CR4.MCE: machine-check exception. */
export const CR4_MCE = 1 << 6;
/** CR4.PGE: global pages. */
export const CR4_PGE = 1 << 7;
/** CR4.PCE: RDPMC allowed at CPL > 0. */
export const CR4_PCE = 1 << 8;
/** CR4.OSFXSR: the OS saves SSE state with FXSAVE/FXRSTOR. */
export const CR4_OSFXSR = 1 << 9;
/** CR4.OSXMMEXCPT: the OS handles #XM. */
export const CR4_OSXMMEXCPT = 1 << 10;
/** CR4.UMIP: SGDT, SIDT, SLDT, SMSW and STR raise #GP at CPL > 0. */
export const CR4_UMIP = 1 << 11;
/** CR4.SMEP: a supervisor-mode fetch from a user page is a #PF (SDM Vol. 3A §4.6.1). */
export const CR4_SMEP = 1 << 20;
/** CR4.SMAP: a supervisor-mode data access to a user page is a #PF unless EFLAGS.AC is set. */
export const CR4_SMAP = 1 << 21;
