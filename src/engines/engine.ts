// One interface for every virtualisation technique, so the run loop, tracer and benchmarks never
// care which engine runs the guest.
import type { Exit } from '../vmm/exit-record.js';
import type { NativeVcpu } from '../vmm/native.js';

export type EngineName = 'direct' | 'trap' | 'bt' | 'paravirt';

export type ExceptionExit = Extract<Exit, { kind: 'exception' }>;

/** What the engine did with an exception the guest raised. */
export type ExceptionOutcome =
  | { kind: 'resume' }
  | { kind: 'shutdown'; reason: string }
  | { kind: 'fatal'; reason: string };

export interface Engine {
  readonly name: EngineName;
  readonly description: string;
  handleException(exit: ExceptionExit, vcpu: NativeVcpu): ExceptionOutcome;
}
