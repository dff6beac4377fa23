// Model-specific registers the VMM names (Intel SDM Vol. 4, Table 2-2).

/** IA32_EFER: SYSCALL enable, long mode, execute-disable (with NX or LM in CPUID 0x80000001). */
export const IA32_EFER = 0xc0000080;
/** The SYSCALL and long-mode MSRs: STAR, LSTAR, CSTAR, FMASK (Intel: with LM only). */
export const IA32_STAR = 0xc0000081;
export const IA32_FMASK = 0xc0000084;
/** FS.base, GS.base, KernelGSbase: 64-bit mode only. */
export const IA32_FS_BASE = 0xc0000100;
export const IA32_KERNEL_GS_BASE = 0xc0000102;
/** IA32_TSC_AUX: with RDTSCP (CPUID 0x80000001 EDX bit 27). */
export const IA32_TSC_AUX = 0xc0000103;
