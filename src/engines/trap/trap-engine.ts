// The trap engine: classic trap-and-emulate (Popek & Goldberg). The guest kernel runs
// deprivileged, guest ring 0 on real ring 1; the real GDT, TSS and CR3 are the VMM's (the native
// core shadows the guest's descriptor and page tables); every privileged instruction raises #GP
// and is emulated here against the virtual CPU. Hidden page faults never reach this file: the
// native shadow MMU fills them. Real mode cannot be deprivileged this way (VMware used V8086 mode
// and binary translation): until the guest sets CR0.PE, and again once it clears it, it runs as
// under `direct`.
import { Decoder } from '../../decode/decoder.js';
import { instructionLength } from '../../decode/length.js';
import { decodeInstruction } from '../../decode/modrm.js';
import { classifyInstruction } from '../../decode/sensitive.js';
import { csEip, hex } from '../../util/hex.js';
import type { NativeTrapCore, NativeVcpu } from '../../vmm/native.js';
import { HOLE_LINEAR } from '../../vmm/layout.js';
import { LEAF7_EBX_SMAP } from '../../vmm/cpu-model.js';
import { Reg } from '../../vmm/registers.js';
import { CR0_PE } from '../../x86/control-registers.js';
import { EFLAGS_IF, EFLAGS_IOPL, EFLAGS_NT, EFLAGS_RF, EFLAGS_TF, EFLAGS_VM } from '../../x86/eflags.js';
import { Vector } from '../../x86/vectors.js';
import { decodeSegmentDescriptor, DESCRIPTOR_SIZE, isWritableDataSegment } from '../../x86/descriptor.js';
import { descriptorOffset, isLdtSelector, isNullSelector } from '../../x86/selector.js';
import { NotAtInstructionBoundary, type Engine, type EngineMachine, type EngineName, type EngineRequirements, type ExceptionExit, type ExceptionOutcome } from '../../vmm/engine.js';
import { reflectToGuest } from '../reflect.js';
import { EquivalenceReport } from './equivalence-report.js';
import { codeSize, emulateHoleInstruction, emulatePrivileged, TRAP_KERNEL_FLAGS, useGuestTss, type KernelRingFlags, type TrapContext } from './privileged.js';
import { switchTaskForEvent } from './task-switch.js';
import { VirtualCpu } from './virtual-cpu.js';


export class TrapEngine implements Engine {
  readonly name: EngineName = 'trap';
  readonly description: string = 'guest kernel deprivileged to ring 1, privileged instructions trapped and emulated, shadow page tables';
  readonly requires: EngineRequirements = { vmmRegion: true, translationCache: false };
  /**
   * The guest's own exceptions (a true page fault, INT n, #DE, ...) go to its handlers in the
   * native core; only #GP and #TS, which may be its privileged instructions, come to TypeScript.
   */
  readonly reflectsExceptionsInCore = true;
  readonly deprivilegesKernel = true;
  /** The EFLAGS the guest kernel runs with (the native core is built with the same). */
  protected readonly kernelFlags: KernelRingFlags = TRAP_KERNEL_FLAGS;
  protected readonly cpu = new VirtualCpu();
  protected readonly equivalence = new EquivalenceReport();
  protected deprivileged = false;
  /** The guest ran in real mode, which this engine leaves to the CPU as under direct. */
  protected ranInRealMode = false;
  protected readonly trapped: Record<string, number> = {};
  protected emulated = 0;
  private decoder: Decoder | undefined;
  /** The native trap core, from the vCPU once the guest is deprivileged. */
  protected core: NativeTrapCore | undefined;
  /** The real LDTR and TR selectors when the guest last left protected mode. */
  private leftWith = { ldtr: -1, tr: -1 };

  async prepare(): Promise<void> {
    this.decoder = await Decoder.create();
  }

  beforeRun(machine: EngineMachine): ExceptionOutcome | undefined {
    if (this.deprivileged) return undefined;
    const vcpu = machine.vcpu;
    const core = vcpu.trap;
    if (!core) return { kind: 'fatal', reason: 'the trap engine needs a vCPU with a VMM region' };
    // Real mode runs as under direct, and so does the stretch between the MOV to CR0 that sets
    // PE and the far jump that loads a 32-bit CS (SDM Vol. 3 §9.9.1), and the one until SS and the
    // data segments hold protected-mode selectors: a stop that lands there must not deprivilege a
    // guest whose CS is still a real-mode segment (its far jump would then go through the VMM's
    // GDT from ring 1), nor one whose SS is still a real-mode value (SS 0 cannot be entered at
    // ring 1, and a real-mode DS would name an arbitrary descriptor). A guest that only toggles PE
    // (big real mode) never leaves it. (After a return to real mode, the core ends the run as
    // soon as this holds again: watchProtectedMode.)
    if (!core.protectedModeReady()) {
      this.ranInRealMode = true;
      return undefined;
    }
    const cr0 = vcpu.readRegister(Reg.cr0);
    // LDTR and TR are the guest's from its first time in protected mode on: after a return to
    // real mode the real ones are still what they were when it left (the VMM's TSS), since real
    // mode cannot load them (LLDT and LTR are #UD there, SDM Vol. 2A), unless the guest loaded
    // new ones back in protected mode before it was deprivileged again.
    const ldtr = vcpu.readRegister(Reg.ldtr);
    const tr = vcpu.readRegister(Reg.tr);
    if (!this.core || ldtr !== this.leftWith.ldtr) this.cpu.ldtr = ldtr;
    if (!this.core || tr !== this.leftWith.tr) this.cpu.tr = tr;
    this.core = core;
    const cr4 = vcpu.readRegister(Reg.cr4);
    // Take over: the guest's CR0/CR3/CR4 and descriptor tables become virtual.
    this.cpu.cr0 = cr0;
    this.cpu.cr2 = vcpu.readRegister(Reg.cr2);
    this.cpu.cr3 = vcpu.readRegister(Reg.cr3);
    this.cpu.cr4 = cr4;
    this.cpu.gdtr = { base: vcpu.readRegister(Reg.gdtrBase), limit: vcpu.readRegister(Reg.gdtrLimit) };
    this.cpu.idtr = { base: vcpu.readRegister(Reg.idtrBase), limit: vcpu.readRegister(Reg.idtrLimit) };
    core.setSmapOffered((machine.cpuModel.leaf7Ebx & LEAF7_EBX_SMAP) !== 0);
    core.configure(this.cpu.cr0, this.cpu.cr3, this.cpu.cr4);
    this.cpu.keepControlRegistersIn(core);
    useGuestTss(vcpu, core, this.cpu);
    if (!core.loadGdt(this.cpu.gdtr.base, this.cpu.gdtr.limit)) {
      return { kind: 'fatal', reason: `the guest's GDT at ${hex(this.cpu.gdtr.base)} is not readable` };
    }
    const cs = VirtualCpu.realSelector(vcpu.readRegister(Reg.cs));
    const ss = VirtualCpu.realSelector(vcpu.readRegister(Reg.ss));
    const eflags = vcpu.readRegister(Reg.eflags);
    this.cpu.nestedTask = (eflags & EFLAGS_NT) !== 0;
    core.setGuestNestedTask(this.cpu.nestedTask);
    core.enter(cs, vcpu.readRegister(Reg.eip), eflags, ss, vcpu.readRegister(Reg.esp));
    this.deprivileged = true;
    // Sensitive instructions that do not trap are found by scanning each block the first time it
    // runs at guest ring 0 (the block hook hands its address over once: onNewBlock).
    if (this.scansForDivergence) vcpu.setBlockDiscovery(true);
    return undefined;
  }

  /**
   * Once deprivileged, the guest's CPU state is split between the virtual CPU here and the
   * ring-1 vCPU in the native core: the core composes the two into the state direct would hold
   * (native/src/architectural-state.h). Before (real mode, or a machine restored and not yet
   * run) the vCPU holds it all, as under direct; a saved state restored under this engine is
   * taken over from there, as after boot.
   */
  architecturalCpuState(vcpu: NativeVcpu): Uint8Array | undefined {
    if (!this.deprivileged || !this.core) return undefined;
    const cpu = this.cpu;
    const eflags = (this.guestRegister(Reg.eflags, vcpu)! | (cpu.nestedTask && VirtualCpu.guestCpl(vcpu.readRegister(Reg.cs)) === 0 ? EFLAGS_NT : 0)) >>> 0;
    try {
      return this.core.architecturalState({
        cr0: cpu.cr0, cr2: cpu.cr2, cr3: cpu.cr3, cr4: cpu.cr4,
        gdtrBase: cpu.gdtr.base, gdtrLimit: cpu.gdtr.limit, idtrBase: cpu.idtr.base, idtrLimit: cpu.idtr.limit,
        ldtr: cpu.ldtr, tr: cpu.tr, eflags,
        cs: VirtualCpu.guestSelector(vcpu.readRegister(Reg.cs)), ss: VirtualCpu.guestSelector(vcpu.readRegister(Reg.ss)),
        dr: cpu.dr,
      });
    } catch (error) {
      const message = (error as Error).message;
      if (message === 'not at a guest instruction boundary') throw new NotAtInstructionBoundary(message);
      throw error;
    }
  }

  /** Whether sensitive instructions that do not trap are looked for (they run as they are). */
  protected get scansForDivergence(): boolean {
    return true;
  }

  onNewBlock(linear: number, size: number, vcpu: NativeVcpu): void {
    if (!this.deprivileged || VirtualCpu.guestCpl(vcpu.readRegister(Reg.cs)) !== 0 || !this.decoder) return;
    const bytes = vcpu.readGuestLinear(linear, Math.min(size, 4096));
    if (!bytes) return;
    // (The block runs now, with the code segment it was reached through: 16-bit protected-mode
    // code is scanned as such.)
    const bits = codeSize(vcpu);
    for (let offset = 0; offset < bytes.length; ) {
      const window = bytes.subarray(offset, offset + 16);
      const length = instructionLength(window, bits) ?? this.decoder.decode(bits, linear + offset, window).size;
      if (length <= 0) break;
      const insn = decodeInstruction(window, bits);
      if (insn) {
        const c = classifyInstruction(insn);
        if (c.kind === 'sensitive' && divergesHere(c.name)) this.equivalence.record({ linear: linear + offset, instruction: c.name, why: c.why ?? 'behaves differently at ring 1' });
      }
      offset += length;
    }
  }

  handleException(exit: ExceptionExit, vcpu: NativeVcpu, machine: EngineMachine): ExceptionOutcome {
    if (this.deprivileged && exit.softwareInterruptLength === 0 && (exit.vector === Vector.GP || exit.vector === Vector.TS)) {
      const context = this.context(vcpu, machine);
      const result = emulatePrivileged(context, exit);
      if (result.kind === 'emulated') {
        this.emulated++;
        this.trapped[result.name] = (this.trapped[result.name] ?? 0) + 1;
        return result.outcome;
      }
      if (result.kind === 'fatal') return { kind: 'fatal', reason: `guest stopped at ${csEip(exit.cs, exit.eip)}: ${result.reason}` };
    }
    if (this.deprivileged && exit.vector === Vector.PF && exit.softwareInterruptLength === 0) this.cpu.cr2 = exit.cr2;
    // A task gate: the deprivileged kernel's task state (TR, CR3, NT) is this engine's.
    const switchTask = this.deprivileged ? () => switchTaskForEvent(this.context(vcpu, machine), vcpu.taskSwitch) : undefined;
    return reflectToGuest(exit, vcpu, switchTask);
  }

  onReservedAccess(address: number, cs: number, eip: number, machine: EngineMachine): ExceptionOutcome {
    // A page fault in the hole: a store to the VMM's read-only pages, or an access to the rest of
    // the hole, which no shadow maps. Plain MOVs are carried out through the guest's own tables.
    const vcpu = machine.vcpu;
    const context = this.context(vcpu, machine);
    const result = emulateHoleInstruction(context, cs, eip);
    if (result.kind === 'emulated') {
      this.emulated++;
      this.trapped[result.name] = (this.trapped[result.name] ?? 0) + 1;
      return result.outcome;
    }
    return {
      kind: 'fatal',
      reason:
        `guest stopped at ${csEip(cs, eip)}: it accessed ${hex(address)}, inside the VMM's linear hole ` +
        `(${hex(HOLE_LINEAR)}-${hex(0xffffffff)}), with an instruction the trap engine does not emulate there (it emulates MOV)`,
    };
  }

  protected context(vcpu: NativeVcpu, machine: EngineMachine): TrapContext {
    const core = this.core;
    // Traps and hole accesses come only from a deprivileged guest, which has the core.
    if (!core) throw new Error('trap engine: a trap before the guest was deprivileged');
    return {
      vcpu,
      core,
      machine,
      cpu: this.cpu,
      report: this.equivalence,
      enter: (...a) => core.enter(...a),
      kernelFlags: this.kernelFlags,
      leaveProtectedMode: (cr0) => this.leaveProtectedMode(vcpu, core, cr0),
    };
  }

  /**
   * The guest kernel cleared CR0.PE (SDM Vol. 3 §9.9.2, switching back to real-address mode):
   * the real CPU gets the guest's control registers, descriptor-table registers and flags back,
   * at CPL 0 with the segment caches the guest loaded (big real mode keeps its limits), and the
   * guest runs as under direct until it is back in protected mode (beforeRun). The selectors
   * still hold RPL 1 until the guest reloads them, as its far jump to real mode does at once.
   */
  private leaveProtectedMode(vcpu: NativeVcpu, core: NativeTrapCore, cr0: number): string | undefined {
    if (!core.leave()) return "the guest left protected mode (CR0.PE cleared), which the trap engine follows only with Unicorn's live CPU state, not located in this process";
    const cpu = this.cpu;
    cpu.cr0 = cr0;
    cpu.releaseControlRegisters();
    vcpu.writeRegister(Reg.cr0, cpu.cr0);
    vcpu.writeRegister(Reg.cr4, cpu.cr4);
    vcpu.writeRegister(Reg.cr3, cpu.cr3);
    vcpu.writeRegister(Reg.cr2, cpu.cr2);
    vcpu.writeRegister(Reg.gdtrBase, cpu.gdtr.base);
    vcpu.writeRegister(Reg.gdtrLimit, cpu.gdtr.limit);
    vcpu.writeRegister(Reg.idtrBase, cpu.idtr.base);
    vcpu.writeRegister(Reg.idtrLimit, cpu.idtr.limit);
    const eflags = vcpu.readRegister(Reg.eflags) & ~this.kernelFlags.owned;
    vcpu.writeRegister(Reg.eflags, (eflags | (cpu.nestedTask ? EFLAGS_NT : 0)) >>> 0);
    this.leftWith = { ldtr: vcpu.readRegister(Reg.ldtr), tr: vcpu.readRegister(Reg.tr) };
    this.deprivileged = false;
    this.ranInRealMode = true;
    if (this.scansForDivergence) vcpu.setBlockDiscovery(false);
    // Back in protected mode, the guest is deprivileged before its first block there runs (the
    // core ends the run at that block: watchProtectedMode), not at whatever stop comes next. Its
    // protected-mode code then never runs at real ring 0 once the VMM has deprivileged it: what it
    // saved while deprivileged holds ring-1 values (PUSHF images with the VMM's NT set, selectors
    // with RPL 1), which ring-0 code would take as its own. (A BIOS call through a real-mode thunk,
    // as syslinux makes them, does PUSHFD at ring 1 and POPFD after the return to protected mode:
    // at ring 0 that POPFD set NT, and the next IRET was a task return, SDM Vol. 3 §7.3.)
    core.watchProtectedMode(true);
    return undefined;
  }

  guestRegister(id: number, vcpu: NativeVcpu): number | undefined {
    if (!this.deprivileged) return undefined;
    const cpu = this.cpu;
    switch (id) {
      case Reg.cs:
      case Reg.ss:
        return VirtualCpu.guestSelector(vcpu.readRegister(id));
      case Reg.eflags: {
        // At guest ring 0 the VMM keeps flags of its own (KernelRingFlags: NT so that IRET traps).
        const eflags = vcpu.readRegister(Reg.eflags);
        return VirtualCpu.guestCpl(vcpu.readRegister(Reg.cs)) === 0 ? (eflags & ~this.kernelFlags.owned) >>> 0 : eflags;
      }
      case Reg.cr0: return cpu.cr0;
      case Reg.cr2: return cpu.cr2;
      case Reg.cr3: return cpu.cr3;
      case Reg.cr4: return cpu.cr4;
      case Reg.gdtrBase: return cpu.gdtr.base;
      case Reg.gdtrLimit: return cpu.gdtr.limit;
      case Reg.idtrBase: return cpu.idtr.base;
      case Reg.idtrLimit: return cpu.idtr.limit;
      case Reg.ldtr: return cpu.ldtr;
      case Reg.tr: return cpu.tr;
      case Reg.dr0: case Reg.dr1: case Reg.dr2: case Reg.dr3: case Reg.dr6: case Reg.dr7:
        return cpu.dr[id === Reg.dr6 ? 6 : id === Reg.dr7 ? 7 : id - Reg.dr0];
      default:
        return undefined;
    }
  }

  writeGuestRegister(id: number, value: number, vcpu: NativeVcpu): 'written' | 'refused' | undefined {
    if (!this.deprivileged) return undefined;
    if (id === Reg.eflags) {
      // The arithmetic and direction flags are the guest's to change; IF, IOPL, NT, VM and the
      // other system flags stay as the emulation keeps them.
      const owned = EFLAGS_IF | EFLAGS_IOPL | EFLAGS_NT | EFLAGS_VM | EFLAGS_RF | EFLAGS_TF;
      vcpu.writeRegister(Reg.eflags, ((vcpu.readRegister(Reg.eflags) & owned) | (value & ~owned)) >>> 0);
      return 'written';
    }
    // Selectors and system registers are virtual here; the general registers and EIP are real.
    return id <= Reg.eip ? undefined : 'refused';
  }

  counters(): Record<string, number> {
    if (!this.core) return { 'trap-emulated': 0 };
    const mmu = this.core.counters();
    // CLI, STI, INVLPG, IRET and the CR2/CR3/CR4 moves are mostly carried out in the native core; the counts include both paths.
    const trapped = { ...this.trapped };
    trapped.cli = (trapped.cli ?? 0) + mmu.cliInCore;
    trapped.sti = (trapped.sti ?? 0) + mmu.stiInCore;
    trapped.invlpg = (trapped.invlpg ?? 0) + mmu.invlpgInCore;
    trapped['mov-from-cr'] = (trapped['mov-from-cr'] ?? 0) + mmu.crReadsInCore;
    trapped['mov-to-cr3'] = (trapped['mov-to-cr3'] ?? 0) + mmu.cr3WritesInCore;
    trapped.iret = (trapped.iret ?? 0) + mmu.iretInCore;
    trapped['clac-stac'] = mmu.accessFlagInCore;
    const inCore = mmu.cliInCore + mmu.stiInCore + mmu.invlpgInCore + mmu.crReadsInCore + mmu.cr3WritesInCore + mmu.iretInCore + mmu.accessFlagInCore;
    const byInstruction = Object.fromEntries(Object.entries(trapped).filter(([, n]) => n > 0).map(([name, n]) => [`trap-${name}`, n]));
    return {
      'trap-emulated': this.emulated + inCore,
      'trap-in-core': inCore,
      ...byInstruction,
      'pf-hidden': mmu.hiddenFaults,
      'pf-true': mmu.trueFaults,
      'shadow-pages-built': mmu.shadowPagesBuilt,
      ...(mmu.gdtUnwatchedRefreshes > 0 ? { 'gdt-unwatched-refreshes': mmu.gdtUnwatchedRefreshes } : {}),
      ...(mmu.shadowPoolResets > 0 ? { 'shadow-pool-resets': mmu.shadowPoolResets } : {}),
      'pt-writes-tracked': mmu.pageTableWrites,
      'cr3-switches': mmu.rootSwitches,
      'cr3-cache-hits': mmu.rootCacheHits,
      invlpg: mmu.pagesInvalidated,
    };
  }

  report(): string[] {
    const lines = this.equivalence.lines();
    if (lines.length === 0) return ['equivalence: no sensitive unprivileged instruction was executed'];
    return [`equivalence: ${lines.length} place(s) where the deprivileged guest could see a difference:`, ...lines.map((l) => `  ${l}`)];
  }
}

// Sensitive instructions this engine handles so that the guest sees no difference: IRET traps
// (EFLAGS.NT) and is emulated, MOV SS traps and is recorded where it happens, INT n goes through
// the guest's virtual IDT with its own privilege checks, and data-segment loads find descriptors
// whose DPL was raised with the kernel's (ring 0 to ring 1). SYSENTER is hidden from the guest
// (CPUID clears SEP).
const HANDLED = new Set(['iret', 'int', 'int3', 'into', 'mov ss, r/m', 'pop ss', 'sysenter']);

function divergesHere(name: string): boolean {
  return !HANDLED.has(name) && !/^mov (ds|es|fs|gs), r\/m$/.test(name);
}

