// The direct engine: the analogue of hardware-assisted virtualisation with nested paging. The
// guest runs on the emulated CPU at its own privilege level and Unicorn walks the guest's own
// page tables; the VMM sees only port I/O, MMIO, HLT, CPUID and exceptions.
import type { NativeVcpu } from '../vmm/native.js';
import type { Engine, ExceptionExit, ExceptionOutcome } from '../vmm/engine.js';
import { reflectToGuest } from './reflect.js';

export class DirectEngine implements Engine {
  readonly name = 'direct' as const;
  readonly description = 'guest runs at its own privilege on the emulated CPU (like VT-x with EPT)';
  readonly requires = { vmmRegion: false, translationCache: false };
  readonly reflectsExceptionsInCore = true;

  handleException(exit: ExceptionExit, vcpu: NativeVcpu): ExceptionOutcome {
    // Unicorn reports every exception instead of delivering it; like a VT-x exit for an
    // exception the VMM does not intercept, it goes straight back to the guest's own handler.
    return reflectToGuest(exit, vcpu);
  }
}
