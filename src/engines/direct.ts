// The direct engine: the analogue of hardware-assisted virtualisation with nested paging. The
// guest runs on the emulated CPU at its own privilege level and Unicorn walks the guest's own
// page tables; the VMM sees only port I/O, MMIO, HLT, CPUID and exceptions.
import { csEip } from '../util/hex.js';
import { describeException } from '../vmm/vectors.js';
import type { Engine, ExceptionExit, ExceptionOutcome } from './engine.js';

export class DirectEngine implements Engine {
  readonly name = 'direct' as const;
  readonly description = 'guest runs at its own privilege on the emulated CPU (like VT-x with EPT)';

  handleException(exit: ExceptionExit): ExceptionOutcome {
    // Exceptions reach the VMM because Unicorn never delivers them through the guest's IDT.
    // Delivering them (event injection) is not built yet, so the guest cannot go on.
    return {
      kind: 'fatal',
      reason:
        `guest raised ${describeException(exit.vector, exit.errorCode, exit.cr2)} at ` +
        `${csEip(exit.cs, exit.eip)}, and this VMM cannot deliver exceptions to the guest yet`,
    };
  }
}
