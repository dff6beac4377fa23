// One interface for every virtualisation technique, so the run loop, tracer and benchmarks never
// care which engine runs the guest. A new engine implements Engine, declares what it needs from
// the machine in `requires`, and is registered in src/engines/index.ts; nothing else names it.
// The contract lives with the machine it runs on, so the run loop depends on it and not on any
// engine (src/engines implements it; layers import downward only).
import type { CpuModel } from './cpu-model.js';
import type { Exit } from './exit-record.js';
import type { IoBus } from './io-bus.js';
import type { NativeVcpu } from './native.js';

export type EngineName = 'direct' | 'trap' | 'bt' | 'paravirt';

export type ExceptionExit = Extract<Exit, { kind: 'exception' }>;

/** What the engine did with an exception the guest raised. */
export type ExceptionOutcome =
  | { kind: 'resume' }
  /** The guest executed HLT (trapped): the run loop waits for an interrupt as for a HLT exit. */
  | { kind: 'halt' }
  | { kind: 'shutdown'; reason: string }
  | { kind: 'fatal'; reason: string }
  /** The guest asked to end its run with `value` (the paravirtual shutdown hypercall). */
  | { kind: 'exit'; value: number; how: string };

/** What the machine must provide before the engine can run a guest on it. */
export interface EngineRequirements {
  /**
   * A VMM region above guest RAM, mapped at the top of the guest's linear space (the hole): the
   * VMM's own GDT, IDT, TSS and shadow page tables, out of the guest's reach.
   */
  readonly vmmRegion: boolean;
  /**
   * A translation cache in that region, and the native core that fills it (binary translation:
   * guest kernel code runs translated, never in place).
   */
  readonly translationCache: boolean;
}

/**
 * The part of the machine an engine may reach: the vCPU, guest RAM and the MMIO bus (for the
 * accesses it emulates). Devices, timers and the run's policy stay with the run loop.
 */
export interface EngineMachine {
  readonly vcpu: NativeVcpu;
  readonly ram: Uint8Array;
  readonly mmio: IoBus;
  /** The MSRs the platform's devices own (IA32_APIC_BASE), for an engine that emulates RDMSR/WRMSR. */
  readonly platformMsrs: PlatformMsrs;
  /** The CPU the guest is told it runs on: the CR4 bits an emulated MOV to CR4 may set. */
  readonly cpuModel: CpuModel;
  /** The machine's clock: guest time in ns (standing still while a debugger holds the machine). */
  readonly clock: { nowNs(): number };
  /** The loaded kernel's ELF notes (PT_NOTE). */
  readonly kernelNotes: readonly { name: string; type: number; desc: Uint8Array }[];
  /** Where the guest's console output goes (the serial console's sink): a paravirtual console. */
  writeConsole(bytes: Uint8Array): void;
}

/** Model-specific registers that belong to a device rather than to the CPU core. */
export interface PlatformMsrs {
  /** The value of MSR `index`, or undefined if no device owns it. */
  read(index: number): bigint | undefined;
  /** Writes MSR `index`; false if no device owns it. */
  write(index: number, value: bigint): boolean;
}

export interface Engine {
  readonly name: EngineName;
  readonly description: string;
  readonly requires: EngineRequirements;
  handleException(exit: ExceptionExit, vcpu: NativeVcpu, machine: EngineMachine): ExceptionOutcome;
  /** Asynchronous set-up before the first run (loading a decoder). */
  prepare?(): Promise<void>;
  /** Called before every run(): the engine may take over the vCPU (a trap engine deprivileges). */
  beforeRun?(machine: EngineMachine): ExceptionOutcome | undefined;
  /** The guest touched memory the engine reserves for itself. */
  onReservedAccess?(address: number, cs: number, eip: number, machine: EngineMachine): ExceptionOutcome;
  /**
   * Block discovery (NativeVcpu.setBlockDiscovery, which the engine turns on): a block of guest
   * code at `linear`, `size` bytes long, runs for the first time.
   */
  onNewBlock?(linear: number, size: number, vcpu: NativeVcpu): void;
  /**
   * A register (a Reg id) as the guest believes it, where the engine keeps it virtual: what a
   * debugger shows. Undefined: the vCPU's own value is the guest's.
   */
  guestRegister?(id: number, vcpu: NativeVcpu): number | undefined;
  /**
   * A debugger sets a register: 'written' when the engine did it, 'refused' when the engine owns
   * that state now, undefined when the vCPU's own register may simply be written.
   */
  writeGuestRegister?(id: number, value: number, vcpu: NativeVcpu): 'written' | 'refused' | undefined;
  /**
   * The exceptions the engine does not intercept may be delivered to the guest's handlers by the
   * native core without an exit (as hardware assist does), whenever the run loop has no one to
   * show each one to (a trace, a debugger).
   */
  readonly reflectsExceptionsInCore?: boolean;
  /** Why a debugger cannot be attached under this engine (undefined: it can). */
  readonly debuggerUnsupported?: string;
  /**
   * The guest kernel runs on ring 1 (ring compression): frames the CPU pushed for it, which lie on
   * its stacks, hold ring-1 selectors. A state saved under such an engine restores only under
   * another that runs the kernel the same way (under direct its IRETs through them would fault).
   */
  readonly deprivilegesKernel?: boolean;
  /** The engine runs only kernels written for it (its hypercall ABI), not unmodified guests. */
  readonly paravirtual?: boolean;
  /** Why the engine cannot run a kernel with these ELF notes (undefined: it can), before anything runs. */
  refusesKernel?(notes: readonly { name: string; type: number; desc: Uint8Array }[]): string | undefined;
  /**
   * The guest takes no interrupts from the machine's interrupt controllers: events of the
   * engine's own take their place (a paravirtual kernel has no EFLAGS.IF to open a window with).
   */
  readonly ownsGuestEvents?: boolean;
  /**
   * Events of the engine's own (a paravirtual timer): ns until the next one is due, undefined for
   * none. Time slices end there, and a halted guest sleeps no longer.
   */
  nanosUntilEvent?(): number | undefined;
  /** Whether an event of the engine's own waits to be delivered: a halted guest wakes at once. */
  hasPendingEvent?(): boolean;
  /**
   * Why the machine's state cannot be saved now (undefined: it can). An engine that keeps part
   * of the guest's CPU state itself (a virtual CPU beside a deprivileged one) says so here.
   */
  stateUnsavable?(): string | undefined;
  /**
   * The guest's CPU state in the vCPU's saved-state format, where the engine keeps part of it
   * (undefined: the vCPU's own saveCpuState() is the guest's). Throws NotAtInstructionBoundary
   * where the vCPU stands in the engine's own code: run on a little and ask again.
   */
  architecturalCpuState?(vcpu: NativeVcpu): Uint8Array | undefined;
  /** Engine-specific counters for the run summary. */
  counters?(vcpu: NativeVcpu): Record<string, number>;
  /** Lines for the end of the run: where the guest saw a difference from real hardware. */
  report?(): string[];
}

/** The vCPU stands where no guest instruction begins (the engine's own code): try again later. */
export class NotAtInstructionBoundary extends Error {}
