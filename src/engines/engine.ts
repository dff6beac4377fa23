// One interface for every virtualisation technique, so the run loop, tracer and benchmarks never
// care which engine runs the guest.
import type { Exit } from '../vmm/exit-record.js';

export type EngineName = 'direct' | 'trap' | 'bt' | 'paravirt';

export type ExceptionExit = Extract<Exit, { kind: 'exception' }>;

/** What the engine did with an exception the guest raised. */
export type ExceptionOutcome = { kind: 'resume' } | { kind: 'fatal'; reason: string };

export interface Engine {
  readonly name: EngineName;
  readonly description: string;
  handleException(exit: ExceptionExit): ExceptionOutcome;
}
