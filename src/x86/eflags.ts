// EFLAGS bits (Intel SDM Vol. 1 §3.4.3, Figure 3-8; system flags in Vol. 3 §2.3).

/** CF: carry. */
export const EFLAGS_CF = 1 << 0;
/** Bit 1 is reserved and always reads as 1. */
export const EFLAGS_FIXED = 1 << 1;
/** PF: parity. */
export const EFLAGS_PF = 1 << 2;
/** AF: auxiliary carry. */
export const EFLAGS_AF = 1 << 4;
/** ZF: zero. */
export const EFLAGS_ZF = 1 << 6;
/** SF: sign. */
export const EFLAGS_SF = 1 << 7;
/** TF: single-step trap. */
export const EFLAGS_TF = 1 << 8;
/** IF: maskable interrupts enabled. */
export const EFLAGS_IF = 1 << 9;
/** DF: string instructions count down. */
export const EFLAGS_DF = 1 << 10;
/** OF: overflow. */
export const EFLAGS_OF = 1 << 11;
/** IOPL: the I/O privilege level, a two-bit field. */
export const EFLAGS_IOPL = 3 << 12;
/** NT: nested task; IRET returns through the TSS back link. */
export const EFLAGS_NT = 1 << 14;
/** RF: resume, masks instruction breakpoints for one instruction. */
export const EFLAGS_RF = 1 << 16;
/** VM: virtual-8086 mode. */
export const EFLAGS_VM = 1 << 17;
/** AC: alignment check (with CR0.AM, at CPL 3). */
export const EFLAGS_AC = 1 << 18;
/** VIF: virtual interrupt flag. */
export const EFLAGS_VIF = 1 << 19;
/** VIP: virtual interrupt pending. */
export const EFLAGS_VIP = 1 << 20;
/** ID: CPUID is supported if software can toggle it. */
export const EFLAGS_ID = 1 << 21;

/**
 * Every flag the architecture defines, the fixed bit 1 excepted: what a full EFLAGS image (IRET,
 * POPF at CPL 0) can load. Bits 3, 5, 15 and 22-31 are reserved and read as 0.
 */
export const EFLAGS_DEFINED =
  EFLAGS_CF | EFLAGS_PF | EFLAGS_AF | EFLAGS_ZF | EFLAGS_SF | EFLAGS_TF | EFLAGS_IF | EFLAGS_DF | EFLAGS_OF |
  EFLAGS_IOPL | EFLAGS_NT | EFLAGS_RF | EFLAGS_VM | EFLAGS_AC | EFLAGS_VIF | EFLAGS_VIP | EFLAGS_ID;
