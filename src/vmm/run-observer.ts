// What a run can be watched by (the tracer): called at inline exits, run exits and injections.
import type { Exit } from './exit-record.js';

export interface RunObserver {
  /** The native trace buffer is full (inside the guest's instruction). */
  onTraceBufferFull(): void;
  /** After the machine handled an inline exit (port I/O, MMIO, CPUID). */
  onInlineExit(kind: number): void;
  /** Right after run() returned, before the exit is handled. */
  onExit(exit: Exit, durationNs: number): void;
  /** An event was delivered into the guest. */
  onInjected(vector: number, source: 'external' | 'exception' | 'software', errorCode?: number, cr2?: number): void;
}
