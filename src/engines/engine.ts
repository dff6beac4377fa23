// One interface for every virtualisation technique, so the run loop, tracer and benchmarks never
// care which engine runs the guest.
import type { Exit } from '../vmm/exit-record.js';
import type { Machine } from '../vmm/machine.js';
import type { NativeVcpu } from '../vmm/native.js';

export type EngineName = 'direct' | 'trap' | 'bt' | 'paravirt';

export type ExceptionExit = Extract<Exit, { kind: 'exception' }>;

/** What the engine did with an exception the guest raised. */
export type ExceptionOutcome =
  | { kind: 'resume' }
  /** The guest executed HLT (trapped): the run loop waits for an interrupt as for a HLT exit. */
  | { kind: 'halt' }
  | { kind: 'shutdown'; reason: string }
  | { kind: 'fatal'; reason: string };

export interface Engine {
  readonly name: EngineName;
  readonly description: string;
  handleException(exit: ExceptionExit, vcpu: NativeVcpu, machine: Machine): ExceptionOutcome;
  /** Asynchronous set-up before the first run (loading a decoder). */
  prepare?(): Promise<void>;
  /** Called before every run(): the engine may take over the vCPU (a trap engine deprivileges). */
  beforeRun?(machine: Machine): ExceptionOutcome | undefined;
  /** The guest touched memory the engine reserves for itself. */
  onReservedAccess?(address: number, cs: number, eip: number, machine: Machine): ExceptionOutcome;
  /** Engine-specific counters for the run summary. */
  counters?(vcpu: NativeVcpu): Record<string, number>;
  /** Lines for the end of the run: where the guest saw a difference from real hardware. */
  report?(): string[];
}
