// The direct engine: the analogue of hardware-assisted virtualisation with nested paging. The
// guest runs on the emulated CPU at its own privilege level and Unicorn walks the guest's own
// page tables; the VMM sees only port I/O, MMIO, HLT, CPUID and exceptions.
import { csEip } from '../util/hex.js';
import { reflectException } from '../vmm/event-delivery.js';
import type { NativeVcpu } from '../vmm/native.js';
import type { Engine, ExceptionExit, ExceptionOutcome } from './engine.js';

export class DirectEngine implements Engine {
  readonly name = 'direct' as const;
  readonly description = 'guest runs at its own privilege on the emulated CPU (like VT-x with EPT)';

  handleException(exit: ExceptionExit, vcpu: NativeVcpu): ExceptionOutcome {
    // Unicorn reports every exception instead of delivering it; like a VT-x exit for an
    // exception the VMM does not intercept, it goes straight back to the guest's own handler.
    const delivered = reflectException(vcpu, exit);
    switch (delivered.kind) {
      case 'delivered':
        return { kind: 'resume' };
      case 'shutdown':
        return { kind: 'shutdown', reason: `guest triple-faulted at ${csEip(exit.cs, exit.eip)}: ${delivered.reason}` };
      case 'unsupported':
        return { kind: 'fatal', reason: `guest stopped at ${csEip(exit.cs, exit.eip)}: ${delivered.reason}` };
    }
  }
}
