// Handing events to the guest through its own IVT/IDT (the native core does the delivery, SDM
// Vol. 3 ch. 6); shared by every engine that reflects exceptions and interrupts.
import { hasErrorCode, Vector, vectorName } from '../x86/vectors.js';
import type { Exit } from './exit-record.js';
import type { NativeVcpu } from './native.js';

/** Mirrors native/src/event-injection.h. */
export const EventSource = { external: 0, exception: 1, software: 2, nmi: 3 } as const;
const DeliveryResult = { delivered: 0, shutdown: 1, unsupported: 2, taskSwitch: 3 } as const;

export type DeliveryOutcome =
  | { kind: 'delivered'; vector: number }
  | { kind: 'shutdown'; reason: string }
  | { kind: 'unsupported'; reason: string }
  /** The gate is a task gate of the trap engine's deprivileged kernel: the engine switches tasks (vcpu.taskSwitch). */
  | { kind: 'task-switch'; reason: string };

function outcome(vcpu: NativeVcpu, result: number, what: string): DeliveryOutcome {
  switch (result) {
    case DeliveryResult.delivered:
      return { kind: 'delivered', vector: new Uint32Array(vcpu.exitRecord)[1] };
    case DeliveryResult.shutdown:
      return { kind: 'shutdown', reason: `${vcpu.injectionDetail} (while delivering ${what})` };
    case DeliveryResult.taskSwitch:
      return { kind: 'task-switch', reason: `delivering ${what} needs a task switch through IDT entry ${vcpu.taskSwitch.vector}` };
    default:
      return { kind: 'unsupported', reason: `delivering ${what} needs ${vcpu.injectionDetail}, which this VMM does not support` };
  }
}

/** An exception as reports name it: "#GP(0x10)", "#PF(0x2) at linear address 0xc0000000". */
function describeException(vector: number, errorCode: number, cr2: number): string {
  let text = vectorName(vector);
  if (hasErrorCode(vector)) text += `(0x${errorCode.toString(16)})`;
  if (vector === Vector.PF) text += ` at linear address 0x${cr2.toString(16)}`;
  return text;
}

/**
 * An event raised by an instruction (Unicorn says which), named the same under every engine:
 * INT3 and INTO by their exception, any other INT n by its vector.
 */
function describeSoftwareInterrupt(vector: number): string {
  if (vector === Vector.BP) return '#BP (INT3)';
  if (vector === Vector.OF) return '#OF (INTO)';
  return `INT 0x${vector.toString(16)}`;
}

/** Reflects an exception (or INT n) the guest raised back into the guest. */
export function reflectException(vcpu: NativeVcpu, exit: Extract<Exit, { kind: 'exception' }>): DeliveryOutcome {
  const software = exit.softwareInterruptLength > 0;
  const withCode = !software && hasErrorCode(exit.vector);
  const what = software ? describeSoftwareInterrupt(exit.vector) : describeException(exit.vector, exit.errorCode, exit.cr2);
  const result = vcpu.inject(exit.vector, software ? EventSource.software : EventSource.exception, withCode, exit.errorCode);
  return outcome(vcpu, result, what);
}

/** Delivers an NMI (vector 2); the vCPU blocks further NMIs until the handler's IRET. */
export function deliverNmi(vcpu: NativeVcpu): DeliveryOutcome {
  return outcome(vcpu, vcpu.inject(Vector.NMI, EventSource.nmi, false, 0), 'NMI');
}

/** Delivers an external interrupt (from the interrupt controller) with the given vector. */
export function deliverExternalInterrupt(vcpu: NativeVcpu, vector: number): DeliveryOutcome {
  return outcome(vcpu, vcpu.inject(vector, EventSource.external, false, 0), `external interrupt ${vectorName(vector)}`);
}
