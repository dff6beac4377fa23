// The paravirt engine: the third technique, after trap-and-emulate and binary translation. The
// guest kernel is written for the VMM (Barham et al., "Xen and the Art of Virtualization", SOSP
// 2003): it runs deprivileged on ring 1 over shadow page tables, as under `trap`, but it never
// executes a privileged instruction; it asks through hypercalls (abi.ts, docs/paravirt-abi.md).
// A privileged instruction ends the run with a report naming it: nothing is emulated. The
// kernel's exceptions and INT n reach its handlers through the gates of its virtual trap table,
// delivered by the native core like the trap engine's; a hypercall and the events are TypeScript's.
import { csEip, hex } from '../../util/hex.js';
import { decodeInstruction } from '../../decode/modrm.js';
import { classifyInstruction } from '../../decode/sensitive.js';
import { EventSource } from '../../vmm/event-delivery.js';
import { HOLE_LINEAR, PARAVIRT_IDT_BYTES, PARAVIRT_IDT_LINEAR, PARAVIRT_RESUME_SLOT_LINEAR } from '../../vmm/layout.js';
import type { NativeVcpu } from '../../vmm/native.js';
import { Reg } from '../../vmm/registers.js';
import type { EngineMachine, EngineName, ExceptionExit, ExceptionOutcome } from '../../vmm/engine.js';
import { CR0_PE } from '../../x86/control-registers.js';
import { EFLAGS_DEFINED, EFLAGS_FIXED, EFLAGS_IF, EFLAGS_RF, EFLAGS_VM } from '../../x86/eflags.js';
import { isNullSelector, selectorRpl, withRpl } from '../../x86/selector.js';
import { Vector } from '../../x86/vectors.js';
import { reflectToGuest } from '../reflect.js';
import { TrapEngine } from '../trap/trap-engine.js';
import { VirtualCpu } from '../trap/virtual-cpu.js';
import {
  Errno, EVENT_CALLBACK_VECTOR, FAST_HYPERCALL_LEAF, FAST_HYPERCALLS, Hypercall, IRET_STUB_SLOW_PATH, HYPERCALL_NAMES,
  HYPERCALL_STUB_BYTES, HYPERCALL_VECTOR, MAX_TRAP_TABLE_ENTRIES, NOTE_HYPERCALL_PAGE, NOTE_NAME, TrapTableEntry,
  type HypercallName,
} from './abi.js';
import { EventChannel } from './event-channel.js';

/** A hypercall's answer: EAX's new value, or how the run goes on (iret sets EAX itself). */
type HypercallResult = { eax: number } | { outcome: ExceptionOutcome; eax?: number };

/** The largest console write taken in one hypercall. */
const MAX_CONSOLE_WRITE = 64 * 1024;
/** The real GDT's last entries are the VMM's (native/src/vmm-region.h, kFirstVmmDescriptor). */
const MAX_GDT_ENTRIES = 8189;
/** 32-bit trap gate, present (SDM Vol. 3 §6.11, Figure 6-2): events never touch EFLAGS.IF here. */
const TRAP_GATE_32 = 0x8f00;

export class ParavirtEngine extends TrapEngine {
  override readonly name: EngineName = 'paravirt';
  override readonly description: string =
    'paravirtual kernel on ring 1 asks the VMM through hypercalls (a Xen-style ABI), shadow page tables, nothing emulated';
  readonly paravirtual = true;
  /** Device interrupts never reach the kernel: it has events instead (event-channel.ts). */
  readonly ownsGuestEvents = true;
  private events: EventChannel | undefined;
  private readonly gates = new Uint8Array(PARAVIRT_IDT_BYTES);
  private readonly calls = new Map<HypercallName | 'unknown', number>();
  private eventsDelivered = 0;
  /** Where the kernel's hypercall page is (linear = physical: it is named before paging is on). */
  private hypercallPage = 0;
  private refused = 0;

  /**
   * A paravirtual kernel's state is its events, trap table, callbacks and pinned tables as much
   * as its CPU's, and it has no architectural equivalent a direct vCPU could hold: not saved yet.
   */
  stateUnsavable(): string | undefined {
    return 'the paravirt engine keeps a paravirtual kernel\'s events, trap table and pinned page tables, which snapshots do not carry yet';
  }

  override architecturalCpuState(): Uint8Array | undefined {
    return undefined;
  }

  refusesKernel(notes: readonly KernelNote[]): string | undefined {
    return hypercallPage(notes) === undefined ? NO_HYPERCALL_PAGE : undefined;
  }

  override beforeRun(machine: EngineMachine): ExceptionOutcome | undefined {
    if (!this.deprivileged) {
      const taken = this.start(machine);
      if (taken) return taken;
    }
    return this.serviceEvents(machine.vcpu);
  }

  /** The first entry: the kernel is deprivileged at once, with the VMM's IDT and its hypercall page. */
  private start(machine: EngineMachine): ExceptionOutcome | undefined {
    const vcpu = machine.vcpu;
    const page = hypercallPage(machine.kernelNotes);
    if (page === undefined) return { kind: 'fatal', reason: NO_HYPERCALL_PAGE };
    if (page % 4096 !== 0 || page + 4096 > machine.ram.length) {
      return { kind: 'fatal', reason: `the kernel's hypercall page 0x${hex(page)} is not a page of guest RAM` };
    }
    if ((vcpu.readRegister(Reg.cr0) & CR0_PE) === 0 || !vcpu.codeSegmentIs32()) {
      return { kind: 'fatal', reason: 'a paravirtual kernel starts in 32-bit protected mode (a multiboot kernel), and this one does not' };
    }
    // EFLAGS.IF is not the kernel's here: events take its place, and the real IF stays set.
    vcpu.writeRegister(Reg.eflags, (vcpu.readRegister(Reg.eflags) | EFLAGS_IF) >>> 0);
    const taken = super.beforeRun(machine);
    if (taken) return taken;
    const core = this.core;
    if (!this.deprivileged || !core) return { kind: 'fatal', reason: 'the paravirtual kernel could not be deprivileged: its segment registers do not hold protected-mode selectors' };
    this.events = new EventChannel(machine.ram, () => machine.clock.nowNs());
    this.hypercallPage = page;
    core.paravirtualize(HYPERCALL_VECTOR, 0xffffffff, page);
    core.setParavirtualIdt(this.gates);
    vcpu.writeRegister(Reg.idtrBase, PARAVIRT_IDT_LINEAR);
    vcpu.writeRegister(Reg.idtrLimit, PARAVIRT_IDT_BYTES - 1);
    fillHypercallPage(machine.ram.subarray(page, page + 4096));
    return undefined;
  }

  /** Fires a due timer and enters the event callback when an upcall is pending and unmasked. */
  private serviceEvents(vcpu: NativeVcpu): ExceptionOutcome | undefined {
    const events = this.events;
    if (!events) return undefined;
    this.followCore();
    events.raiseDue();
    events.writeSystemTime();
    if (!events.deliverable || !this.gatePresent(EVENT_CALLBACK_VECTOR)) return undefined;
    const result = vcpu.inject(EVENT_CALLBACK_VECTOR, EventSource.external, false, 0);
    if (result !== 0) {
      return { kind: 'fatal', reason: `the event callback could not be entered at ${csEip(vcpu.readRegister(Reg.cs), vcpu.readRegister(Reg.eip))}: ${vcpu.injectionDetail}` };
    }
    events.entered();
    this.eventsDelivered++;
    return undefined;
  }

  nanosUntilEvent(): number | undefined {
    return this.events?.nanosUntilTimer();
  }

  hasPendingEvent(): boolean {
    if (!this.events) return false;
    this.events.raiseDue();
    return this.events.deliverable;
  }

  /** The guest's CR0 as the native core has it: its new_baseptr turns paging on. */
  private followCore(): void {
    if (this.core) this.cpu.cr0 = this.core.guestCr0();
  }

  override handleException(exit: ExceptionExit, vcpu: NativeVcpu, machine: EngineMachine): ExceptionOutcome {
    if (!this.deprivileged) return super.handleException(exit, vcpu, machine);
    this.followCore();
    const software = exit.softwareInterruptLength > 0;
    if (software && exit.vector === HYPERCALL_VECTOR) {
      // The hypercall gate admits the kernel only (Xen's has DPL 1): user mode gets a #GP naming it.
      if (VirtualCpu.guestCpl(exit.cs) !== 0) {
        vcpu.writeRegister(Reg.eip, (vcpu.readRegister(Reg.eip) - exit.softwareInterruptLength) >>> 0);
        return this.deliver(vcpu, exit, Vector.GP, HYPERCALL_VECTOR * 8 + 2);
      }
      return this.hypercall(vcpu, machine);
    }
    if (!software && (exit.vector === Vector.GP || exit.vector === Vector.TS || exit.vector === Vector.UD) && VirtualCpu.guestCpl(exit.cs) === 0) {
      const named = this.privilegedInstruction(vcpu, exit);
      if (named) {
        return {
          kind: 'fatal',
          reason: `guest stopped at ${csEip(VirtualCpu.guestSelector(exit.cs), exit.eip)}: the paravirtual kernel executed a privileged instruction, ${named} (a paravirtual kernel asks the VMM with a hypercall instead; nothing is emulated under this engine)`,
        };
      }
    }
    // A #PF the core did not deliver itself (a trace watches): its address goes where the kernel reads it.
    const slot = this.events?.faultAddressSlot;
    if (!software && exit.vector === Vector.PF && slot !== undefined) new DataView(machine.ram.buffer, machine.ram.byteOffset).setUint32(slot, exit.cr2, true);
    return reflectToGuest(exit, vcpu);
  }

  /** The instruction at the kernel's trapped EIP, named, when it is one the CPU refuses at ring 1. */
  private privilegedInstruction(vcpu: NativeVcpu, exit: ExceptionExit): string | undefined {
    const bytes = vcpu.readGuestLinear(exit.eip, 15, true) ?? vcpu.readGuestLinear(exit.eip, 4096 - (exit.eip & 0xfff), true);
    const insn = bytes && decodeInstruction(bytes, 32);
    if (!insn) return undefined;
    const c = classifyInstruction(insn);
    // IRET faults (#TS) because the VMM keeps EFLAGS.NT set at ring 1, as under trap.
    if (c.kind === 'privileged' || c.kind === 'io' || c.name === 'iret' || exit.vector === Vector.TS) return `\`${c.name}\``;
    return undefined;
  }

  private deliver(vcpu: NativeVcpu, exit: ExceptionExit, vector: number, errorCode: number): ExceptionOutcome {
    return reflectToGuest({ ...exit, vector, errorCode, softwareInterruptLength: 0 }, vcpu);
  }

  private hypercall(vcpu: NativeVcpu, machine: EngineMachine): ExceptionOutcome {
    const nr = vcpu.readRegister(Reg.eax) >>> 0;
    const args = [Reg.ebx, Reg.ecx, Reg.edx, Reg.esi, Reg.edi].map((id) => vcpu.readRegister(id) >>> 0);
    const name = HYPERCALL_NAMES[nr] ?? 'unknown';
    this.calls.set(name, (this.calls.get(name) ?? 0) + 1);
    const result = this.dispatch(name, args, vcpu, machine);
    if (result.eax !== undefined) vcpu.writeRegister(Reg.eax, result.eax >>> 0);
    if ('outcome' in result && result.outcome.kind !== 'resume') return result.outcome;
    return this.serviceEvents(vcpu) ?? { kind: 'resume' };
  }

  private dispatch(name: HypercallName | 'unknown', [a, b]: number[], vcpu: NativeVcpu, machine: EngineMachine): HypercallResult {
    const core = this.core!;
    const events = this.events!;
    const error = (errno: number): HypercallResult => {
      this.refused++;
      return { eax: -errno };
    };
    switch (name) {
      case 'consoleWrite': {
        if (b > MAX_CONSOLE_WRITE) return error(Errno.EINVAL);
        const bytes = b === 0 ? new Uint8Array(0) : vcpu.readGuestLinear(a, b, true);
        if (!bytes) return error(Errno.EFAULT);
        machine.writeConsole(bytes);
        return { eax: b };
      }
      case 'setTrapTable':
        return this.setTrapTable(a, vcpu) ?? { eax: 0 };
      case 'iret':
        return this.iret(vcpu);
      case 'stackSwitch':
        if (isNullSelector(a) || selectorRpl(a) !== 0) return error(Errno.EINVAL);
        core.setParavirtualKernelStack(a, b);
        return { eax: 0 };
      case 'mmuUpdate':
      case 'newBaseptr':
      case 'tlbFlush':
      case 'updateVaMapping':
        // The native core answers these from the kernel's ring whatever their arguments
        // (TrapCore::page_table_call); from user mode INT 0x82 is refused before this.
        return { outcome: { kind: 'fatal', reason: `the ${name} hypercall reached TypeScript, which leaves it to the native core` } };
      case 'setPeriodicTimer':
        events.setPeriodic(a === 0 ? undefined : a);
        return { eax: 0 };
      case 'setTimer': {
        const deadline = b * 2 ** 32 + a;
        events.setTimer(deadline === 0 ? undefined : deadline);
        return { eax: 0 };
      }
      case 'block':
        events.unmask();
        events.raiseDue();
        return events.deliverable ? { eax: 0 } : { eax: 0, outcome: { kind: 'halt' } };
      case 'yield':
        return { eax: 0 };
      case 'shutdown':
        return { outcome: { kind: 'exit', value: a & 0xff, how: 'the shutdown hypercall' } };
      case 'setGdt': {
        if (b === 0 || b > MAX_GDT_ENTRIES || a + b * 8 > HOLE_LINEAR) return error(Errno.EINVAL);
        if (!core.loadGdt(a, b * 8 - 1)) return error(Errno.EFAULT);
        this.cpu.gdtr = { base: a, limit: b * 8 - 1 };
        return { eax: 0 };
      }
      case 'registerSharedInfo':
        if (!events.register(a)) return error(Errno.EINVAL);
        core.paravirtualize(HYPERCALL_VECTOR, a, this.hypercallPage);
        return { eax: 0 };
      case 'setCallback':
        if (isNullSelector(a) || selectorRpl(a) !== 0 || b >= HOLE_LINEAR) return error(Errno.EINVAL);
        this.setGate(EVENT_CALLBACK_VECTOR, a, b, 0);
        core.setParavirtualIdt(this.gates);
        return { eax: 0 };
      case 'unknown':
        return error(Errno.ENOSYS);
    }
  }

  /** The virtual trap table: each entry becomes a gate of the VMM's IDT (the callback's stays). */
  private setTrapTable(table: number, vcpu: NativeVcpu): HypercallResult | undefined {
    const callback = this.gates.slice(EVENT_CALLBACK_VECTOR * 8, EVENT_CALLBACK_VECTOR * 8 + 8);
    const gates = new Uint8Array(PARAVIRT_IDT_BYTES);
    for (let i = 0; table !== 0; i++) {
      if (i === MAX_TRAP_TABLE_ENTRIES) return this.refuse(Errno.EINVAL);
      const entry = vcpu.readGuestLinear((table + i * TrapTableEntry.bytes) >>> 0, TrapTableEntry.bytes, true);
      if (!entry) return this.refuse(Errno.EFAULT);
      const view = new DataView(entry.buffer, entry.byteOffset, entry.byteLength);
      const address = view.getUint32(TrapTableEntry.address, true);
      if (address === 0) break;
      const vector = entry[TrapTableEntry.vector];
      const cs = view.getUint16(TrapTableEntry.cs, true);
      if (vector === HYPERCALL_VECTOR || vector === EVENT_CALLBACK_VECTOR || isNullSelector(cs) || selectorRpl(cs) !== 0 || address >= HOLE_LINEAR) {
        return this.refuse(Errno.EINVAL);
      }
      writeGate(gates, vector, cs, address, entry[TrapTableEntry.flags] & 3);
    }
    gates.set(callback, EVENT_CALLBACK_VECTOR * 8);
    this.gates.set(gates);
    this.core!.setParavirtualIdt(this.gates);
    return undefined;
  }

  private refuse(errno: number): HypercallResult {
    this.refused++;
    return { eax: -errno };
  }

  private setGate(vector: number, cs: number, address: number, dpl: number): void {
    writeGate(this.gates, vector, cs, address, dpl);
  }

  private gatePresent(vector: number): boolean {
    return (this.gates[vector * 8 + 5] & 0x80) !== 0;
  }

  /**
   * The iret hypercall: the stub pushed EAX over the frame the event or exception left (Xen's
   * HYPERVISOR_iret): EAX, EIP, CS, EFLAGS, and ESP, SS for a return to user mode.
   */
  private iret(vcpu: NativeVcpu): HypercallResult {
    const esp = vcpu.readRegister(Reg.esp) >>> 0;
    const frame = vcpu.readGuestLinear(esp, 16, true);
    if (!frame) return this.refuse(Errno.EFAULT);
    const view = new DataView(frame.buffer, frame.byteOffset, 16);
    const [eax, eip, cs, popped] = [0, 4, 8, 12].map((at) => view.getUint32(at, true));
    const current = vcpu.readRegister(Reg.eflags);
    // The arithmetic flags, DF, TF and AC are the kernel's to restore; IF stays set (events
    // replace it), and the flags the VMM keeps at ring 1 stay as they are.
    const keep = this.kernelFlags.owned | EFLAGS_VM | EFLAGS_RF | EFLAGS_IF;
    const flags = ((current & keep) | (popped & ~keep & EFLAGS_DEFINED) | EFLAGS_FIXED | EFLAGS_IF) >>> 0;
    const selector = cs & 0xffff;
    if (isNullSelector(selector)) return this.refuse(Errno.EINVAL);
    if (selectorRpl(selector) === 0) {
      vcpu.writeRegister(Reg.cs, VirtualCpu.realSelector(selector));
      vcpu.writeRegister(Reg.eip, eip);
      vcpu.writeRegister(Reg.eflags, (flags | this.kernelFlags.set) >>> 0);
      vcpu.writeRegister(Reg.esp, (esp + 16) >>> 0);
      return { eax, outcome: { kind: 'resume' } };
    }
    if (selectorRpl(selector) !== 3) return this.refuse(Errno.EINVAL);
    const outer = vcpu.readGuestLinear((esp + 16) >>> 0, 8, true);
    if (!outer) return this.refuse(Errno.EFAULT);
    const outerView = new DataView(outer.buffer, outer.byteOffset, 8);
    const userEsp = outerView.getUint32(0, true);
    const userSs = outerView.getUint32(4, true) & 0xffff;
    if (selectorRpl(userSs) !== 3) return this.refuse(Errno.EINVAL);
    this.core!.loadGdt(this.cpu.gdtr.base, this.cpu.gdtr.limit);
    this.core!.enter(withRpl(selector, 3), eip, flags & ~(this.kernelFlags.owned), withRpl(userSs, 3), userEsp);
    return { eax, outcome: { kind: 'resume' } };
  }

  override report(): string[] {
    return this.deprivileged ? super.report() : [];
  }

  override counters(): Record<string, number> {
    const trap = super.counters();
    const core = this.core?.counters();
    // The calls the native core carried out, with those TypeScript answered.
    const calls = new Map(this.calls);
    const add = (name: HypercallName, n: number) => calls.set(name, (calls.get(name) ?? 0) + n);
    if (core) {
      add('iret', core.pvIretInCore);
      add('mmuUpdate', core.pvMmuUpdateInCore);
      add('tlbFlush', core.pvTlbFlushInCore);
      add('newBaseptr', core.pvNewBaseptrInCore);
      add('updateVaMapping', core.pvUpdateVaMappingInCore);
    }
    const inCore = core ? core.pvIretInCore + core.pvMmuUpdateInCore + core.pvTlbFlushInCore + core.pvNewBaseptrInCore + core.pvUpdateVaMappingInCore : 0;
    const refused = this.refused + (core?.pvRefusedInCore ?? 0);
    const total = [...calls.values()].reduce((a, b) => a + b, 0);
    const byName = Object.fromEntries([...calls].filter(([, n]) => n > 0).map(([name, n]) => [`pv-${kebab(name)}`, n]));
    return {
      'pv-hypercalls': total,
      'pv-in-core': inCore,
      'pv-fast-calls': core?.pvFastCalls ?? 0,
      ...byName,
      'pv-events': this.eventsDelivered,
      ...(refused > 0 ? { 'pv-refused': refused } : {}),
      'pf-hidden': trap['pf-hidden'] ?? 0,
      'pf-true': trap['pf-true'] ?? 0,
      'shadow-pages-built': trap['shadow-pages-built'] ?? 0,
      'shadow-prefills': core?.shadowPrefills ?? 0,
      ...(trap['shadow-pool-resets'] ? { 'shadow-pool-resets': trap['shadow-pool-resets'] } : {}),
      'pt-updates': trap['pt-writes-tracked'] ?? 0,
      'cr3-switches': trap['cr3-switches'] ?? 0,
    };
  }
}

type KernelNote = { name: string; type: number; desc: Uint8Array };

const NO_HYPERCALL_PAGE = `the paravirt engine runs paravirtual kernels only, and this one names no hypercall page (ELF note "${NOTE_NAME}", type ${NOTE_HYPERCALL_PAGE}; docs/paravirt-abi.md)`;

/** The hypercall page the kernel's note names (as Xen's XEN_ELFNOTE_HYPERCALL_PAGE), if it has one. */
function hypercallPage(notes: readonly KernelNote[]): number | undefined {
  const note = notes.find((n) => n.name === NOTE_NAME && n.type === NOTE_HYPERCALL_PAGE && n.desc.length >= 4);
  return note && new DataView(note.desc.buffer, note.desc.byteOffset, 4).getUint32(0, true);
}

/** A 32-bit trap gate (SDM Vol. 3 Figure 6-2) into `gates`. */
function writeGate(gates: Uint8Array, vector: number, cs: number, address: number, dpl: number): void {
  const view = new DataView(gates.buffer, gates.byteOffset + vector * 8, 8);
  view.setUint32(0, ((cs & 0xffff) << 16 | (address & 0xffff)) >>> 0, true);
  view.setUint32(4, ((address & 0xffff0000) | TRAP_GATE_32 | (dpl << 13)) >>> 0, true);
}

/**
 * The hypercall page: stub n at 32·n is `mov eax, n; int 0x82; ret` (Xen's layout on x86-32);
 * the fast calls' are `mov eax, FAST_HYPERCALL_LEAF + n; cpuid; ret`; iret's pushes EAX and does
 * not return to its caller (abi.ts, IRET_STUB_SLOW_PATH).
 */
function fillHypercallPage(page: Uint8Array): void {
  page.fill(0xcc);
  const le32 = (value: number) => [value & 0xff, (value >>> 8) & 0xff, (value >>> 16) & 0xff, (value >>> 24) & 0xff];
  const movEax = (value: number) => [0xb8, ...le32(value)];
  const int82 = [0xcd, HYPERCALL_VECTOR];
  const cpuid = [0x0f, 0xa2];
  const ret = 0xc3;
  for (let n = 0; n < page.length / HYPERCALL_STUB_BYTES; n++) {
    const stub = page.subarray(n * HYPERCALL_STUB_BYTES, (n + 1) * HYPERCALL_STUB_BYTES);
    if (n === Hypercall.iret) {
      const fast = [0x50, ...movEax(FAST_HYPERCALL_LEAF + n), ...cpuid, 0xff, 0x25, ...le32(PARAVIRT_RESUME_SLOT_LINEAR)];
      if (fast.length !== IRET_STUB_SLOW_PATH) throw new Error('the iret stub does not match its slow-path offset');
      stub.set([...fast, ...movEax(n), ...int82]);
    }
    else if (FAST_HYPERCALLS.includes(n)) stub.set([...movEax(FAST_HYPERCALL_LEAF + n), ...cpuid, ret]);
    else stub.set([...movEax(n), ...int82, ret]);
  }
}

function kebab(name: string): string {
  return name.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`);
}
