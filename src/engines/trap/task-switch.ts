// Task switches of the deprivileged guest kernel (SDM Vol. 3A §7.3), for the trap and bt engines:
// an exception whose IDT gate is a task gate, and the IRET with NT set that returns from such a
// task. The real TR, GDT and CR3 are the VMM's, so the switch is made against the virtual CPU:
// the outgoing state is saved in the guest's current TSS as the guest sees it (selectors with
// RPL 0 for its ring 0, its own EFLAGS), the new TSS is marked busy and linked back, and the new
// task is loaded through the engine (its CR3 into the shadow MMU, its TR and LDT into the virtual
// CPU, its segments as the deprivileged kernel runs them). The guest's NT flag is virtual too:
// the trap engine's kernel runs with the real NT set so that IRET traps.
//
// Covered: 32-bit TSSs in the GDT; exceptions and INT n through task gates, far JMP and CALL to a
// TSS or a task gate in the GDT, and the IRET back. Not covered (the run ends naming it): external
// interrupts and NMIs through task gates, 16-bit TSSs, and a TSS or gate the CPU would refuse with
// a fault (the run ends instead of the fault).
import type { TaskSwitchRequest } from '../../vmm/native.js';
import { Reg } from '../../vmm/registers.js';
import { CR0_PG, CR0_TS } from '../../x86/control-registers.js';
import { SegmentType, type SegmentDescriptor } from '../../x86/descriptor.js';
import { EFLAGS_FIXED, EFLAGS_NT, EFLAGS_VM } from '../../x86/eflags.js';
import { isLdtSelector, isNullSelector } from '../../x86/selector.js';
import { guestDescriptor, GENERAL_IDS, setTssBusy, useGuestTss, type TrapContext } from './privileged.js';
import { VirtualCpu } from './virtual-cpu.js';

/** The 32-bit TSS (SDM Vol. 3A Figure 7-2). */
const TSS_LINK = 0x00;
const TSS_CR3 = 0x1c;
const TSS_EIP = 0x20;
const TSS_EFLAGS = 0x24;
const TSS_EAX = 0x28; // then ECX, EDX, EBX, ESP, EBP, ESI, EDI
const TSS_ES = 0x48; // then CS, SS, DS, FS, GS
const TSS_LDT = 0x60;
const TSS_BYTES = 0x68;
const SEGMENT_IDS = [Reg.es, Reg.cs, Reg.ss, Reg.ds, Reg.fs, Reg.gs];

/** Why a switch could not be made, for the run's report; undefined when it was. */
export type TaskSwitchProblem = string | undefined;

/**
 * How a switch was started (SDM Vol. 3A Table 7-2): an event or CALL nests the new task (it links
 * back, NT set, the old task stays busy); JMP does not (the old task is no longer busy); IRET
 * returns to the task the current one is nested in.
 */
type Initiator = 'nest' | 'jump';

/** Delivers an exception through a task gate: the handler runs as a task nested in the current one. */
export function switchTaskForEvent(ctx: TrapContext, request: TaskSwitchRequest): TaskSwitchProblem {
  const error = request.hasErrorCode ? request.errorCode : undefined;
  return switchTask(ctx, request.selector, ctx.vcpu.readRegister(Reg.eip), 'nest', error);
}

/**
 * A far JMP or CALL whose selector names a task gate or a TSS in the GDT: undefined when it names
 * neither (the instruction is something else to emulate), else the switch's outcome.
 */
export function switchTaskForFarTransfer(ctx: TrapContext, selector: number, nextEip: number, call: boolean): TaskSwitchProblem | 'not-a-task' {
  if (isNullSelector(selector) || isLdtSelector(selector)) return 'not-a-task';
  const target = guestDescriptor(ctx.vcpu, ctx.cpu, selector);
  if (!target || target.codeOrData) return 'not-a-task';
  let tss = selector;
  if (target.type === SegmentType.taskGate) {
    // The gate's TSS selector sits where a segment descriptor has base bits 15-0.
    tss = target.base & 0xffff;
  } else if (target.type !== SegmentType.tss32Available) {
    return 'not-a-task';
  }
  return switchTask(ctx, tss, nextEip, call ? 'nest' : 'jump', undefined);
}

function switchTask(ctx: TrapContext, selector: number, resumeEip: number, initiator: Initiator, errorCode: number | undefined): TaskSwitchProblem {
  const { vcpu, cpu } = ctx;
  const incoming = readTss(ctx, selector, SegmentType.tss32Available);
  if (typeof incoming === 'string') return incoming;
  const problem = saveOutgoing(ctx, resumeEip, cpu.nestedTask);
  if (problem) return problem;
  if (initiator === 'nest') {
    // Nesting (§7.4): the new task links back to the old one, which stays busy.
    writeU16(ctx, incoming.descriptor.base + TSS_LINK, cpu.tr);
  } else {
    setTssBusy(ctx, cpu.tr, false);
  }
  setTssBusy(ctx, selector, true);
  let esp = incoming.state.getUint32(TSS_EAX + 16, true);
  if (errorCode !== undefined) {
    // The error code goes on the new task's stack (§6.12.2, "Interrupt Tasks").
    const ss = incoming.state.getUint16(TSS_ES + 8, true);
    const stack = guestDescriptor(vcpu, cpu, ss);
    if (!stack) return `the new task's stack segment 0x${ss.toString(16)} is not in the GDT`;
    esp = (esp - 4) >>> 0;
    const code = new Uint8Array(4);
    new DataView(code.buffer).setUint32(0, errorCode >>> 0, true);
    if (!vcpu.writeGuestLinear((stack.base + esp) >>> 0, code)) return "the new task's stack is not mapped";
  }
  const nested = initiator === 'nest' || (incoming.state.getUint32(TSS_EFLAGS, true) & EFLAGS_NT) !== 0;
  return loadIncoming(ctx, selector, incoming.state, nested, esp);
}

/** IRET with the guest's NT set: back to the task the current one is nested in (§7.3, §7.4). */
export function returnFromNestedTask(ctx: TrapContext, iretEip: number, iretLength: number): TaskSwitchProblem {
  const { cpu } = ctx;
  const current = readTss(ctx, cpu.tr, SegmentType.tss32Busy);
  if (typeof current === 'string') return current;
  const back = current.state.getUint16(TSS_LINK, true);
  const previous = readTss(ctx, back, SegmentType.tss32Busy);
  if (typeof previous === 'string') return previous;
  // The task may be entered again later, after its IRET; the image of its NT is cleared.
  const problem = saveOutgoing(ctx, (iretEip + iretLength) >>> 0, false);
  if (problem) return problem;
  setTssBusy(ctx, cpu.tr, false);
  const nested = (previous.state.getUint32(TSS_EFLAGS, true) & EFLAGS_NT) !== 0;
  return loadIncoming(ctx, back, previous.state, nested, previous.state.getUint32(TSS_EAX + 16, true));
}

interface TssImage {
  descriptor: SegmentDescriptor;
  state: DataView;
}

function readTss(ctx: TrapContext, selector: number, type: number): TssImage | string {
  const named = `TSS selector 0x${selector.toString(16)}`;
  if (isNullSelector(selector) || isLdtSelector(selector)) return `a task switch to ${named}, which is not in the GDT`;
  const descriptor = guestDescriptor(ctx.vcpu, ctx.cpu, selector);
  if (!descriptor || descriptor.codeOrData || descriptor.type !== type || !descriptor.present || descriptor.limit < TSS_BYTES - 1) {
    return `a task switch to ${named}, which is not a present ${type === SegmentType.tss32Busy ? 'busy' : 'available'} 32-bit TSS`;
  }
  const bytes = ctx.vcpu.readGuestLinear(descriptor.base, TSS_BYTES);
  if (!bytes) return `a task switch to ${named}, whose TSS is not mapped`;
  return { descriptor, state: new DataView(bytes.buffer, bytes.byteOffset, TSS_BYTES) };
}

/** The current task's state into its TSS, as the guest sees it. */
function saveOutgoing(ctx: TrapContext, eip: number, nested: boolean): TaskSwitchProblem {
  const { vcpu, cpu, kernelFlags } = ctx;
  const tss = guestDescriptor(vcpu, cpu, cpu.tr);
  if (!tss) return `a task switch away from TR 0x${cpu.tr.toString(16)}, which names no TSS`;
  const image = new DataView(new ArrayBuffer(TSS_LDT - TSS_EIP));
  const eflags = vcpu.readRegister(Reg.eflags);
  if (eflags & EFLAGS_VM) return 'a task switch away from virtual-8086 mode';
  image.setUint32(0, eip >>> 0, true);
  image.setUint32(4, ((eflags & ~kernelFlags.owned) | (nested ? EFLAGS_NT : 0)) >>> 0, true);
  GENERAL_IDS.forEach((id, i) => image.setUint32(8 + 4 * i, vcpu.readRegister(id) >>> 0, true));
  SEGMENT_IDS.forEach((id, i) => image.setUint32(TSS_ES - TSS_EIP + 4 * i, VirtualCpu.guestSelector(vcpu.readRegister(id) & 0xffff), true));
  if (!vcpu.writeGuestLinear((tss.base + TSS_EIP) >>> 0, new Uint8Array(image.buffer))) return "the current task's TSS is not mapped";
  return undefined;
}

/** Loads a task from its TSS image: TR, CR0.TS, CR3, LDT, registers, segments, EFLAGS (with NT as `nested`). */
function loadIncoming(ctx: TrapContext, selector: number, state: DataView, nested: boolean, esp: number): TaskSwitchProblem {
  const { vcpu, cpu, core } = ctx;
  cpu.tr = selector;
  useGuestTss(vcpu, core, cpu);
  cpu.cr0 |= CR0_TS;
  const cr3 = cpu.cr0 & CR0_PG ? state.getUint32(TSS_CR3, true) : cpu.cr3;
  core.configure(cpu.cr0, cr3, cpu.cr4);
  // The guest's GDT is read through its linear addresses, which the new tables may map anew.
  if (!core.loadGdt(cpu.gdtr.base, cpu.gdtr.limit)) return `the guest's GDT is not mapped in the new task`;
  cpu.ldtr = state.getUint16(TSS_LDT, true);
  GENERAL_IDS.forEach((id, i) => vcpu.writeRegister(id, state.getUint32(TSS_EAX + 4 * i, true)));
  // Where the VMM owns NT (the trap engine keeps it set so that IRET traps), the guest's is
  // virtual; elsewhere (bt, which translates IRET) it is the real flag.
  const realNt = nested && !(ctx.kernelFlags.owned & EFLAGS_NT) ? EFLAGS_NT : 0;
  const eflags = (state.getUint32(TSS_EFLAGS, true) & ~EFLAGS_NT) | realNt | EFLAGS_FIXED;
  if (eflags & EFLAGS_VM) return 'a task switch into virtual-8086 mode';
  const segment = (i: number) => VirtualCpu.realSelector(state.getUint16(TSS_ES + 4 * i, true));
  for (const i of [0, 3, 4, 5]) vcpu.writeRegister(SEGMENT_IDS[i], segment(i));
  cpu.nestedTask = nested;
  core.setGuestNestedTask(nested);
  ctx.enter(segment(1), state.getUint32(TSS_EIP, true), eflags, segment(2), esp);
  return undefined;
}


function writeU16(ctx: TrapContext, linear: number, value: number): void {
  ctx.vcpu.writeGuestLinear(linear >>> 0, Uint8Array.of(value & 0xff, (value >>> 8) & 0xff));
}
