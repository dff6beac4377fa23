// The bt engine: binary translation, as in VMware Workstation (Bugnion et al., TOCS 2012; Adams &
// Agesen, ASPLOS 2006). The guest kernel is deprivileged as under `trap` (ring 1, shadow page
// tables, the VMM's GDT and hole), but its code never runs in place: the native core
// (native/src/bt-core.h) translates each block it reaches into a translation cache in the hole
// and runs it from there, with control flow kept in guest addresses and the sensitive
// instructions rewritten. Guest user code runs in place. What still reaches TypeScript: the
// privileged instructions that trap (as under `trap`), and the sensitive ones the translator
// turned into calls into the VMM (vmm-calls.ts). docs/bt-engine.md has the design.
import { csEip } from '../../util/hex.js';
import type { EngineMachine, EngineName, EngineRequirements, ExceptionExit, ExceptionOutcome } from '../../vmm/engine.js';
import type { NativeVcpu } from '../../vmm/native.js';
import { Vector } from '../../x86/vectors.js';
import { BT_KERNEL_FLAGS, type KernelRingFlags } from '../trap/privileged.js';
import { TrapEngine } from '../trap/trap-engine.js';
import { VirtualCpu } from '../trap/virtual-cpu.js';
import { emulateVmmCall } from './vmm-calls.js';

/** The native core's counters (BtCore::counters) under the names the run summary gives them. */
const NATIVE_COUNTERS: readonly [string, string][] = [
  ['btBlocksTranslated', 'bt-blocks'],
  ['btCacheBytes', 'bt-cache-bytes'],
  ['btFlushes', 'bt-flushes'],
  ['btRedirects', 'bt-entries'],
  ['btRanInPlace', 'bt-in-place'],
  ['btFaultedInPlace', 'bt-fetch-faults'],
  ['btChainLinks', 'bt-chain-links'],
  ['btChainUnlinks', 'bt-chain-unlinks'],
  ['btLookupFills', 'bt-lookup-fills'],
  ['btMissCalls', 'bt-lookup-misses'],
  ['btExitCalls', 'bt-call-exit'],
  ['btIretInCore', 'bt-call-iret-in-core'],
  ['btVerifyInCore', 'bt-call-verify-in-core'],
  ['btFastCalls', 'bt-call-fast'],
  ['btSlowCalls', 'bt-call-slow'],
  ['btFarTransfers', 'bt-far-transfers'],
  ['btFarTransfersInPlace', 'bt-far-transfers-in-place'],
  ['btHookInstalls', 'bt-block-hook'],
  ['btEscapes', 'bt-escapes'],
  ['btInvalidatedBlocks', 'bt-invalidated'],
  ['btCodeWrites', 'bt-invalidate-code-write'],
  ['btRemaps', 'bt-invalidate-remap'],
  ['btSingleSteps', 'bt-single-steps'],
  ['btPushf', 'bt-rewrite-pushf'],
  ['btSelector', 'bt-rewrite-selector'],
  ['btSegmentLoad', 'bt-rewrite-segment-load'],
  ['btGdtRefreshes', 'bt-gdt-refreshes'],
  ['btReturn', 'bt-rewrite-ret'],
  ['btCall', 'bt-rewrite-call'],
  ['btCallIndirect', 'bt-rewrite-call-indirect'],
  ['btJumpIndirect', 'bt-rewrite-jmp-indirect'],
  ['btJump', 'bt-rewrite-jmp'],
  ['btBranch', 'bt-rewrite-jcc'],
  ['btVmmCall', 'bt-rewrite-vmm-call'],
  ['btTrapping', 'bt-trapping'],
  ['btIdent', 'bt-ident'],
];

export class BtEngine extends TrapEngine {
  override readonly name: EngineName = 'bt';
  override readonly description = 'guest kernel code translated into a cache in the VMM and run from there (binary translation), user code in place, shadow page tables';
  override readonly requires: EngineRequirements = { vmmRegion: true, translationCache: true };
  protected override readonly kernelFlags: KernelRingFlags = BT_KERNEL_FLAGS;
  readonly debuggerUnsupported =
    "the bt engine does not support a debugger yet: guest kernel code runs translated, where the stub's breakpoints and steps (made at guest addresses) do not reach; use --engine trap or direct";
  private readonly vmmCalls: Record<string, number> = {};
  /** Kernel block starts that ran untranslated, as last read from the core (for the report). */
  private ranInPlace = 0;
  /** Exceptions that found kernel code running in place before the block hook was installed. */
  private escapes = 0;

  /** Nothing runs untranslated at guest ring 0 (the translator rewrites what would diverge). */
  protected override get scansForDivergence(): boolean {
    return false;
  }

  override handleException(exit: ExceptionExit, vcpu: NativeVcpu, machine: EngineMachine): ExceptionOutcome {
    // A #GP at a guest kernel instruction that never faults at ring 1 (IRET, SGDT, ...) is a
    // call the translator made; those that do fault (MOV CRn, ...) go to the trap engine's code.
    if (this.deprivileged && exit.vector === Vector.GP && exit.softwareInterruptLength === 0 && VirtualCpu.guestCpl(exit.cs) === 0) {
      const result = emulateVmmCall(this.context(vcpu, machine), exit.cs, exit.eip);
      if (result.kind === 'emulated') {
        this.vmmCalls[result.name] = (this.vmmCalls[result.name] ?? 0) + 1;
        return result.outcome;
      }
      if (result.kind === 'fatal') return { kind: 'fatal', reason: `guest stopped at ${csEip(exit.cs, exit.eip)}: ${result.reason}` };
    }
    return super.handleException(exit, vcpu, machine);
  }

  override counters(): Record<string, number> {
    const trap = super.counters();
    if (!this.core) return trap;
    const native = this.core.counters() as unknown as Record<string, number>;
    this.ranInPlace = native.btRanInPlace ?? 0;
    this.escapes = native.btEscapes ?? 0;
    const out: Record<string, number> = {};
    for (const [from, to] of NATIVE_COUNTERS) out[to] = native[from] ?? 0;
    // Every call once: exit stubs, lookup misses, UD2 calls (carried out in the core or emulated
    // here) and fast calls carried out inside the CPU loop (one sent the slow way is its UD2's, or
    // a trap).
    out['bt-vmm-calls'] = (native.btExitCalls ?? 0) + (native.btMissCalls ?? 0) + (native.btEmulateCalls ?? 0) + (native.btFastCalls ?? 0);
    for (const [name, n] of Object.entries(this.vmmCalls)) out[`bt-call-${name}`] = n;
    // What trapped (MOV CRn, INVLPG, ...) and the shadow MMU's work, as under trap.
    for (const [name, n] of Object.entries(trap)) {
      if (name === 'trap-cli' || name === 'trap-sti') continue;
      out[name] = n;
    }
    return out;
  }

  override report(): string[] {
    const lines: string[] = [];
    if (this.ranInRealMode) lines.push('real mode: the guest\'s real-mode code ran in place, as under direct (nothing to deprivilege or translate)');
    const inPlace = this.ranInPlace;
    if (!this.core) return lines;
    if (this.escapes > 0) {
      lines.push(
        `equivalence: guest kernel code ran in place ${this.escapes} time(s), entered where the core does not send it to the cache ` +
          '(found at an exception; the block hook sends every kernel block to the cache from then on)',
      );
    }
    if (inPlace === 0 && this.escapes === 0) {
      lines.push('equivalence: every guest kernel block ran translated: no place where the guest could see a difference');
    } else if (inPlace > 0) {
      lines.push(
        `equivalence: ${inPlace} guest kernel block(s) ran untranslated (code not flat 32-bit, or a 16-bit stack), in place at ring 1, ` +
          'where sensitive instructions act as under trap',
      );
    }
    return lines;
  }
}
