// The result of loading a guest image: a description of what to put in guest
// RAM and how to set up the CPU. Loaders only compute plans; the VMM applies
// them, so everything here is plain data.

export type CpuMode = 'real16' | 'protected32';

/** A segment register value that the VMM loads after GDTR has been set. */
export interface SegmentSetup {
  selector: number;
}

export interface LoadPlan {
  format: 'flat' | 'bootsector' | 'multiboot' | 'linux' | 'firmware';
  /** One line for the user, e.g. "multiboot ELF kernel, entry 0x100010". */
  description: string;
  cpuMode: CpuMode;
  /**
   * Bytes to copy into guest RAM. RAM starts zeroed; the `bytes` may be views
   * into the image that was passed to the loader, so copy them, don't keep them.
   */
  chunks: { guestPhys: number; bytes: Uint8Array }[];
  /** Ranges to zero explicitly (bss), so a plan is correct on reused RAM too. */
  zeroRanges: { guestPhys: number; length: number }[];
  /** real16: CS:IP (segment value and offset); protected32: selector and EIP. */
  entry: { cs: number; eip: number };
  registers: {
    eax?: number;
    ebx?: number;
    ecx?: number;
    edx?: number;
    esi?: number;
    edi?: number;
    esp?: number;
    ebp?: number;
    eflags?: number;
  };
  /** Selectors (protected32) or segment values (real16). */
  segments?: { ds: number; es: number; ss: number; fs: number; gs: number };
  /** GDTR to load before the selectors (protected32); its bytes are one of the chunks. */
  gdt?: { base: number; limit: number };
  /** VMM-built structures in guest RAM (GDT, multiboot information, Linux zero page...). */
  reserved: { guestPhys: number; length: number; what: string }[];
  /** The kernel's ELF notes (PT_NOTE), as the image has them: requests to the VMM. */
  notes?: { name: string; type: number; desc: Uint8Array }[];
}

/**
 * - `empty`: the image has no bytes.
 * - `truncated`: a structure described by the image extends past its end.
 * - `unknown-format`: auto-detection recognised nothing it can boot.
 * - `too-large`: the image (or a string passed to the guest) does not fit.
 * - `bad-header`: the format was recognised but its headers are inconsistent.
 * - `unsupported`: a valid image or request that this VMM cannot honour
 *   (64-bit ELF, zImage or old Linux boot protocols, unknown required flags,
 *   bad load options, a kernel placed over the VMM's boot structures).
 */
export type LoadErrorCode = 'empty' | 'truncated' | 'unknown-format' | 'too-large' | 'bad-header' | 'unsupported';

/** A loader failure; `message` is one user-facing line. */
export class LoadError extends Error {
  constructor(
    public readonly code: LoadErrorCode,
    message: string,
  ) {
    super(message);
    this.name = 'LoadError';
  }
}
