// What a remote debugger sees of a guest: the contract between the GDB protocol (gdb-session.ts)
// and the machine it debugs (guest-debugger.ts). Everything here is the *guest's* view: under an
// engine that deprivileges the guest, registers, CPL and addresses are the ones the guest
// believes it has, never the VMM's.

/** The i386 registers a debugger reads and writes, by GDB's names (gdb/features/i386/32bit-*.xml). */
export interface GuestRegisters {
  eax: number; ecx: number; edx: number; ebx: number; esp: number; ebp: number; esi: number; edi: number;
  eip: number; eflags: number;
  cs: number; ss: number; ds: number; es: number; fs: number; gs: number;
  /** ST(0)-ST(7), 10 bytes each, stack-relative (ST(0) is the top), little-endian 80-bit values. */
  st: Uint8Array;
  fctrl: number; fstat: number; ftag: number; fiseg: number; fioff: number; foseg: number; fooff: number; fop: number;
  /** XMM0-XMM7, 16 bytes each, little-endian. */
  xmm: Uint8Array;
  mxcsr: number;
  /** System registers (QEMU's i386 "sys" view): the guest's, not the VMM's. */
  cr0: number; cr2: number; cr3: number; cr4: number;
  gdtrBase: number; gdtrLimit: number; idtrBase: number; idtrLimit: number;
  ldtr: number; tr: number;
}

/** The 32-bit registers a debugger may write (x87/SSE state and system registers are read-only here). */
export type WritableRegister =
  | 'eax' | 'ecx' | 'edx' | 'ebx' | 'esp' | 'ebp' | 'esi' | 'edi' | 'eip' | 'eflags'
  | 'cs' | 'ss' | 'ds' | 'es' | 'fs' | 'gs';

/** GDB's Z/z types: 0 software breakpoint, 1 hardware breakpoint, 2 write, 3 read, 4 access watchpoint. */
export type BreakpointType = 0 | 1 | 2 | 3 | 4;

/** Why the guest stopped, as the debugger is told (GDB remote protocol "Stop Reply Packets"). */
export type StopReason =
  | { kind: 'breakpoint'; type: 0 | 1 }
  | { kind: 'watchpoint'; type: 2 | 3 | 4; address: number }
  | { kind: 'step' }
  /** Ctrl-C from the debugger, or the guest waiting for its first `continue` (--gdb-wait). */
  | { kind: 'interrupted' }
  /** The run is over: the guest exited (debug-exit port) or halted; `status` is vmm's exit status. */
  | { kind: 'exited'; status: number }
  /** The guest crashed or a limit ended the run; `status` is vmm's exit status. */
  | { kind: 'terminated'; status: number; message: string };

export interface DebugTarget {
  /** Engine, CPL and address-space facts for the debugger's `monitor` and register reads. */
  readRegisters(): GuestRegisters;
  /** False when the engine cannot let the debugger change that register now. */
  writeRegister(name: WritableRegister, value: number): boolean;
  /**
   * Guest memory at a linear address, through the guest's own page tables (or a physical address
   * with `physical`). Returns the bytes readable from `address` on (possibly fewer than asked), or
   * undefined when the first byte is not mapped.
   */
  readMemory(address: number, length: number, physical: boolean): Uint8Array | undefined;
  /** False when some byte is not mapped; translated code for the bytes written is dropped. */
  writeMemory(address: number, data: Uint8Array, physical: boolean): boolean;
  /** False when the type is not supported or the length is not 1, 2, 4 (or 8 for watchpoints). */
  insertBreakpoint(type: BreakpointType, address: number, length: number): boolean;
  removeBreakpoint(type: BreakpointType, address: number, length: number): boolean;
  /** Lets the guest run (or run one instruction); the stop comes through the session's onStop. */
  resume(mode: 'continue' | 'step'): void;
  /** Asks a running guest to stop (Ctrl-C); it stops with { kind: 'interrupted' }. */
  interrupt(): void;
  /** The debugger detached: every breakpoint is removed and the guest runs on. */
  detach(): void;
  /** The debugger killed the guest: the run ends. */
  kill(): void;
  /** A `monitor` command (GDB's qRcmd); returns the text to print, or undefined if unknown. */
  monitor(command: string): string | undefined;
}
