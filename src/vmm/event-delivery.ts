// Handing events to the guest through its own IVT/IDT (the native core does the delivery, SDM
// Vol. 3 ch. 6); shared by every engine that reflects exceptions and interrupts.
import type { Exit } from './exit-record.js';
import type { NativeVcpu } from './native.js';
import { describeException, describeSoftwareInterrupt, hasErrorCode, vectorName } from './vectors.js';

/** Mirrors native/src/event-injection.h. */
export const EventSource = { external: 0, exception: 1, software: 2 } as const;
const DeliveryResult = { delivered: 0, shutdown: 1, unsupported: 2 } as const;

export type DeliveryOutcome =
  | { kind: 'delivered'; vector: number }
  | { kind: 'shutdown'; reason: string }
  | { kind: 'unsupported'; reason: string };

function outcome(vcpu: NativeVcpu, result: number, what: string): DeliveryOutcome {
  switch (result) {
    case DeliveryResult.delivered:
      return { kind: 'delivered', vector: new Uint32Array(vcpu.exitRecord)[1] };
    case DeliveryResult.shutdown:
      return { kind: 'shutdown', reason: `${vcpu.injectionDetail} (while delivering ${what})` };
    default:
      return { kind: 'unsupported', reason: `delivering ${what} needs ${vcpu.injectionDetail}, which this VMM does not support` };
  }
}

/** Reflects an exception (or INT n) the guest raised back into the guest. */
export function reflectException(vcpu: NativeVcpu, exit: Extract<Exit, { kind: 'exception' }>): DeliveryOutcome {
  const software = exit.softwareInterruptLength > 0;
  const withCode = !software && hasErrorCode(exit.vector);
  const what = software ? describeSoftwareInterrupt(exit.vector) : describeException(exit.vector, exit.errorCode, exit.cr2);
  const result = vcpu.inject(exit.vector, software ? EventSource.software : EventSource.exception, withCode, exit.errorCode);
  return outcome(vcpu, result, what);
}

/** Delivers an external interrupt (from the interrupt controller) with the given vector. */
export function deliverExternalInterrupt(vcpu: NativeVcpu, vector: number): DeliveryOutcome {
  return outcome(vcpu, vcpu.inject(vector, EventSource.external, false, 0), `external interrupt ${vectorName(vector)}`);
}
