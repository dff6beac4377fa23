// Handing an exception the guest raised back to the guest's own handler, and what the run loop
// should make of the result: shared by every engine.
import { csEip } from '../util/hex.js';
import { reflectException } from '../vmm/event-delivery.js';
import type { NativeVcpu } from '../vmm/native.js';
import type { ExceptionExit, ExceptionOutcome } from '../vmm/engine.js';

/**
 * `switchTask`: an engine that keeps the guest's task state itself (the deprivileged kernel's)
 * carries out a task gate's switch; it says why not when it cannot.
 */
export function reflectToGuest(exit: ExceptionExit, vcpu: NativeVcpu, switchTask?: () => string | undefined): ExceptionOutcome {
  const delivered = reflectException(vcpu, exit);
  switch (delivered.kind) {
    case 'delivered':
      return { kind: 'resume' };
    case 'shutdown':
      return { kind: 'shutdown', reason: `guest triple-faulted at ${csEip(exit.cs, exit.eip)}: ${delivered.reason}` };
    case 'unsupported':
      return { kind: 'fatal', reason: `guest stopped at ${csEip(exit.cs, exit.eip)}: ${delivered.reason}` };
    case 'task-switch': {
      const problem = switchTask ? switchTask() : 'an engine that keeps the task state';
      if (problem === undefined) return { kind: 'resume' };
      return { kind: 'fatal', reason: `guest stopped at ${csEip(exit.cs, exit.eip)}: ${delivered.reason}, which needs ${problem}; this VMM does not support that` };
    }
  }
}
