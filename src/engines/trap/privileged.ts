// Emulation of the instructions that trap when the guest kernel runs on ring 1: #GP for the
// privileged ones (SDM Vol. 3 §5.9), #TS for IRET (kept trapping through EFLAGS.NT). Each is
// carried out against the virtual CPU, then EIP moves on. Port I/O (IN, OUT, INS, OUTS) never
// gets here: Unicorn's I/O hooks run before its I/O-permission check, so it is intercepted there,
// as under `direct` (like a VT-x I/O bitmap).
import { decodeInstruction, effectiveAddress, type DecodedX86 } from '../../decode/modrm.js';
import { hex } from '../../util/hex.js';
import { absentMsrs } from '../../vmm/cpu-model.js';
import type { EngineMachine, ExceptionExit, ExceptionOutcome } from '../../vmm/engine.js';
import { EventSource } from '../../vmm/event-delivery.js';
import type { NativeTrapCore, NativeVcpu } from '../../vmm/native.js';
import { HOLE_LINEAR } from '../../vmm/layout.js';
import { Reg } from '../../vmm/registers.js';
import { CR0_CD, CR0_EM, CR0_ET, CR0_MP, CR0_NW, CR0_PE, CR0_PG, CR0_TS, CR0_WP } from '../../x86/control-registers.js';
import {
  ACCESS_BYTE_OFFSET,
  decodePseudoDescriptor,
  decodeSegmentDescriptor,
  DESCRIPTOR_SIZE,
  TSS_BUSY,
  type SegmentDescriptor,
} from '../../x86/descriptor.js';
import { EFLAGS_DEFINED, EFLAGS_FIXED, EFLAGS_IF, EFLAGS_IOPL, EFLAGS_NT, EFLAGS_RF, EFLAGS_VM } from '../../x86/eflags.js';
import { descriptorOffset, isLdtSelector, isNullSelector, withRpl } from '../../x86/selector.js';
import { Vector } from '../../x86/vectors.js';
import type { EquivalenceReport } from './equivalence-report.js';
import { returnFromNestedTask, switchTaskForFarTransfer } from './task-switch.js';
import { VirtualCpu } from './virtual-cpu.js';

export interface TrapContext {
  vcpu: NativeVcpu;
  /** The native trap core (shadow MMU, real GDT, world switch). */
  core: NativeTrapCore;
  machine: EngineMachine;
  cpu: VirtualCpu;
  report: EquivalenceReport;
  enter: (cs: number, eip: number, eflags: number, ss: number, esp: number) => void;
  /** The EFLAGS the VMM keeps for itself while the guest kernel runs (native KernelRingFlags). */
  kernelFlags: KernelRingFlags;
  /**
   * The guest cleared CR0.PE (to `cr0`): the engine stops deprivileging it and hands the real CPU
   * back (SDM Vol. 3 §9.9.2). Returns why it cannot, if it cannot.
   */
  leaveProtectedMode: (cr0: number) => string | undefined;
}

/**
 * The trap engine runs the guest kernel with IOPL 0 and NT set (so CLI, STI and IRET trap); the
 * bt engine, which translates IRET and PUSHF, with IOPL 1 (CLI, STI and POPF act on the real IF,
 * which is the guest's). Mirrors native/src/trap-platform.h.
 */
export interface KernelRingFlags {
  /** Bits that are never the guest's (hidden from what it reads, kept across an IRET). */
  owned: number;
  /** Bits set while the guest kernel runs. */
  set: number;
}
export const TRAP_KERNEL_FLAGS: KernelRingFlags = { owned: EFLAGS_IOPL | EFLAGS_NT, set: EFLAGS_NT };
export const BT_KERNEL_FLAGS: KernelRingFlags = { owned: EFLAGS_IOPL, set: 1 << 12 };

export type EmulationResult =
  | { kind: 'emulated'; name: string; outcome: ExceptionOutcome }
  | { kind: 'reflect' }
  | { kind: 'fatal'; reason: string };

const GENERAL = ['eax', 'ecx', 'edx', 'ebx', 'esp', 'ebp', 'esi', 'edi'] as const;
export const GENERAL_IDS = [Reg.eax, Reg.ecx, Reg.edx, Reg.ebx, Reg.esp, Reg.ebp, Reg.esi, Reg.edi];
const SEGMENT_IDS: Record<string, number> = { es: Reg.es, cs: Reg.cs, ss: Reg.ss, ds: Reg.ds, fs: Reg.fs, gs: Reg.gs };
/** The CR0 bits LMSW loads (SDM Vol. 2 LMSW); it can set PE but not clear it. */
const LMSW_BITS = CR0_PE | CR0_MP | CR0_EM | CR0_TS;
/** The CR0 bits whose change the native core's shadow MMU and exception checks follow. */
const CR0_CONFIGURED = CR0_PG | CR0_WP | CR0_TS | CR0_MP | CR0_EM;

const resume: ExceptionOutcome = { kind: 'resume' };

export function emulatePrivileged(ctx: TrapContext, exit: ExceptionExit): EmulationResult {
  const { vcpu } = ctx;
  // Only the guest kernel's privileged instructions are the VMM's to emulate; guest user code
  // gets its #GP as on real hardware.
  if (VirtualCpu.guestCpl(exit.cs) !== 0) return { kind: 'reflect' };
  const csBase = segmentBase(ctx, exit.cs);
  const linear = (csBase + exit.eip) >>> 0;
  const bytes = vcpu.readGuestLinear(linear, 16);
  if (!bytes) return { kind: 'reflect' };
  const insn = decodeInstruction(bytes, codeSize(vcpu));
  if (!insn) return { kind: 'reflect' };
  const next = (): void => vcpu.writeRegister(Reg.eip, (exit.eip + insn.length) >>> 0);
  const done = (name: string, outcome: ExceptionOutcome = resume): EmulationResult => ({ kind: 'emulated', name, outcome });
  const op = insn.opcode;
  const eflags = vcpu.readRegister(Reg.eflags);

  if (exit.vector === Vector.TS) {
    if (op[0] === 0xcf && eflags & EFLAGS_NT) return emulateIret(ctx, insn, exit.eip);
    return { kind: 'reflect' };
  }

  switch (op[0]) {
    case 0xfa: // CLI
      vcpu.writeRegister(Reg.eflags, eflags & ~EFLAGS_IF);
      next();
      return done('cli');
    case 0xfb: // STI: with IF clear before, interrupts wait one more instruction (SDM Vol. 3 §6.8.3)
      vcpu.writeRegister(Reg.eflags, eflags | EFLAGS_IF);
      next();
      if (!(eflags & EFLAGS_IF)) vcpu.holdInterruptShadow();
      return done('sti');
    case 0xf4: // HLT
      next();
      // HLT right after an STI the CPU ran (the bt engine's, in the translation cache) is the
      // instruction its shadow covers; emulated here, it never completed for the CPU, whose
      // shadow would outlast it and keep the waking interrupt out (Linux idles with STI; HLT).
      vcpu.endInterruptShadow();
      return done('hlt', { kind: 'halt' });
    case 0x8e: { // MOV Sreg, r/m16: only MOV SS with a ring-0 selector traps (RPL must equal CPL)
      if (insn.modrm?.reg !== 2) return { kind: 'reflect' };
      const selector = readOperand16(ctx, insn);
      if (selector === undefined) return { kind: 'reflect' };
      vcpu.writeRegister(Reg.ss, VirtualCpu.realSelector(selector));
      ctx.report.record({ linear: segmentBase(ctx, exit.cs) + exit.eip, instruction: 'mov ss', why: 'the stack segment is loaded with RPL 1: reading SS shows ring 1' });
      next();
      vcpu.holdInterruptShadow();
      return done('mov-ss');
    }
    case 0x17: { // POP SS of a ring-0 selector (RPL must equal CPL): the bt engine's PUSH SS pushes the guest's RPL 0
      const ss = vcpu.readRegister(Reg.ss);
      const sp32 = guestDescriptor(vcpu, ctx.cpu, ss)?.defaultBig ?? true;
      const esp = vcpu.readRegister(Reg.esp) >>> 0;
      const top = sp32 ? esp : esp & 0xffff;
      const raw = vcpu.readGuestLinear((segmentBase(ctx, ss) + top) >>> 0, 2);
      if (!raw) return { kind: 'reflect' };
      const width = insn.prefixes.operandSize / 8;
      vcpu.writeRegister(Reg.ss, VirtualCpu.realSelector(raw[0] | (raw[1] << 8)));
      vcpu.writeRegister(Reg.esp, sp32 ? (esp + width) >>> 0 : ((esp & 0xffff0000) | ((esp + width) & 0xffff)) >>> 0);
      ctx.report.record({ linear: segmentBase(ctx, exit.cs) + exit.eip, instruction: 'pop ss', why: 'the stack segment is loaded with RPL 1: reading SS shows ring 1' });
      next();
      vcpu.holdInterruptShadow();
      return done('pop-ss');
    }
    case 0x0f:
      return emulateTwoByte(ctx, insn, next, done);
    case 0x88: case 0x89: case 0x8a: case 0x8b: case 0xc6: case 0xc7: case 0xa0: case 0xa1: case 0xa2: case 0xa3:
      return emulateHoleAccess(ctx, insn, next, done);
    case 0xea: case 0x9a: // JMP, CALL ptr16:32
      return emulateTaskTransfer(ctx, insn, exit.eip, insn.farPointer?.selector, op[0] === 0x9a);
    case 0xff: { // JMP m16:32 (/5), CALL m16:32 (/3)
      const reg = insn.modrm?.reg;
      if ((reg !== 3 && reg !== 5) || !insn.memory || insn.prefixes.operandSize !== 32) return { kind: 'reflect' };
      const pointer = vcpu.readGuestLinear(memoryAddress(ctx, insn), 6);
      return emulateTaskTransfer(ctx, insn, exit.eip, pointer ? pointer[4] | (pointer[5] << 8) : undefined, reg === 3);
    }
    default:
      return { kind: 'reflect' };
  }
}

/**
 * A far JMP or CALL to a task gate or TSS: from ring 1 the CPU refuses the guest's DPL-0 gate with
 * #GP, and the task state is the engine's anyway (task-switch.ts). Anything else: the guest's #GP.
 */
function emulateTaskTransfer(ctx: TrapContext, insn: DecodedX86, eip: number, selector: number | undefined, call: boolean): EmulationResult {
  if (selector === undefined) return { kind: 'reflect' };
  const outcome = switchTaskForFarTransfer(ctx, selector, (eip + insn.length) >>> 0, call);
  if (outcome === 'not-a-task') return { kind: 'reflect' };
  if (outcome) return { kind: 'fatal', reason: `a far ${call ? 'CALL' : 'JMP'} to a task needs ${outcome}, which this VMM does not support` };
  return { kind: 'emulated', name: call ? 'call-task' : 'jmp-task', outcome: resume };
}

/** An instruction that touched the hole and raised #PF there (not #GP): the same MOV emulation. */
export function emulateHoleInstruction(ctx: TrapContext, cs: number, eip: number): EmulationResult {
  const { vcpu } = ctx;
  const bytes = vcpu.readGuestLinear((segmentBase(ctx, cs) + eip) >>> 0, 16);
  const insn = bytes && decodeInstruction(bytes, codeSize(vcpu));
  if (!insn || !HOLE_MOVS.includes(insn.opcode[0])) return { kind: 'reflect' };
  return emulateHoleAccess(ctx, insn, () => vcpu.writeRegister(Reg.eip, (eip + insn.length) >>> 0), (name) => ({ kind: 'emulated', name, outcome: resume }));
}

const BYTE_REGS = [Reg.eax, Reg.ecx, Reg.edx, Reg.ebx];
const HOLE_MOVS = [0x88, 0x89, 0x8a, 0x8b, 0xc6, 0xc7, 0xa0, 0xa1, 0xa2, 0xa3];

/**
 * A MOV whose memory operand lies in the VMM's hole: the deprivileged kernel's segments end below
 * it, so the access raised #GP (or #PF); the VMM carries it out as the guest's own page tables
 * map it: RAM, a device, or open bus. Forms: 88-8B, C6, C7 (ModRM) and A0-A3 (moffs, eAX).
 */
function emulateHoleAccess(ctx: TrapContext, insn: DecodedX86, next: () => void, done: (name: string) => EmulationResult): EmulationResult {
  const { vcpu } = ctx;
  const op = insn.opcode[0];
  if (!insn.memory || !HOLE_MOVS.includes(op)) return { kind: 'reflect' };
  const size = op === 0x88 || op === 0x8a || op === 0xc6 || op === 0xa0 || op === 0xa2 ? 1 : insn.prefixes.operandSize / 8;
  const linear = memoryAddress(ctx, insn);
  if (linear < HOLE_LINEAR || linear + size - 1 > 0xffffffff) return { kind: 'reflect' };
  const reg = op >= 0xa0 ? 0 : insn.modrm!.reg;
  const readReg = (): number => {
    if (size !== 1) return vcpu.readRegister(GENERAL_IDS[reg]) >>> 0;
    const value = vcpu.readRegister(BYTE_REGS[reg & 3]);
    return reg < 4 ? value & 0xff : (value >>> 8) & 0xff;
  };
  const store = [0x88, 0x89, 0xc6, 0xc7, 0xa2, 0xa3].includes(op);
  // Translate every byte first, so that a fault leaves nothing half done.
  const physical: number[] = [];
  for (let b = 0; b < size; b++) {
    const where = vcpu.translateGuestLinear((linear + b) >>> 0, store);
    if ('pageFault' in where) return holeFault(ctx, (linear + b) >>> 0, where.pageFault);
    physical.push(where.physical);
  }
  // A device register is one access of the instruction's width (an APIC ignores narrower
  // writes), when the operand lies in one page outside RAM; RAM is reached byte by byte.
  const device = physical[0] >= ctx.machine.ram.length && physical[0] < 2 ** 32 && physical[size - 1] === physical[0] + size - 1;
  if (store) {
    const value = op === 0xc6 || op === 0xc7 ? insn.immediate ?? 0 : readReg();
    if (device) ctx.machine.mmio.write(physical[0], size, value >>> 0);
    else for (let b = 0; b < size; b++) writePhysicalByte(ctx, (linear + b) >>> 0, physical[b], (value >>> (8 * b)) & 0xff);
  } else {
    let value = 0;
    if (device) value = ctx.machine.mmio.read(physical[0], size);
    else for (let b = 0; b < size; b++) value |= readPhysicalByte(ctx, physical[b]) << (8 * b);
    if (size === 4) vcpu.writeRegister(GENERAL_IDS[reg], value >>> 0);
    else if (size === 2) vcpu.writeRegister(GENERAL_IDS[reg], ((vcpu.readRegister(GENERAL_IDS[reg]) & ~0xffff) | value) >>> 0);
    else {
      const id = BYTE_REGS[reg & 3];
      const shift = reg < 4 ? 0 : 8;
      vcpu.writeRegister(id, ((vcpu.readRegister(id) & ~(0xff << shift)) | (value << shift)) >>> 0);
    }
  }
  next();
  return done('hole-access');
}

/** A byte of guest-physical memory: RAM, a device's MMIO window, or open bus (all ones). */
function readPhysicalByte(ctx: TrapContext, physical: number): number {
  const { ram, mmio } = ctx.machine;
  if (physical < ram.length) return ram[physical];
  return physical < 2 ** 32 ? mmio.read(physical, 1) & 0xff : 0xff;
}

function writePhysicalByte(ctx: TrapContext, linear: number, physical: number, value: number): void {
  // RAM through the guest mapping: the native path drops translations of code on the page.
  if (physical < ctx.machine.ram.length) ctx.vcpu.writeGuestLinear(linear, Uint8Array.of(value));
  else if (physical < 2 ** 32) ctx.machine.mmio.write(physical, 1, value);
}

/** The guest has no mapping for its access in the hole: its own #PF, as the CPU would raise. */
function holeFault(ctx: TrapContext, linear: number, errorCode: number): EmulationResult {
  ctx.cpu.cr2 = linear;
  ctx.vcpu.writeRegister(Reg.cr2, linear);
  const delivered = ctx.vcpu.inject(Vector.PF, EventSource.exception, true, errorCode);
  if (delivered !== 0) return { kind: 'fatal', reason: `delivering the #PF for the guest's access to ${hex(linear)} failed: ${ctx.vcpu.injectionDetail}` };
  return { kind: 'emulated', name: 'hole-fault', outcome: resume };
}

function emulateTwoByte(
  ctx: TrapContext,
  insn: DecodedX86,
  next: () => void,
  done: (name: string, outcome?: ExceptionOutcome) => EmulationResult,
): EmulationResult {
  const { vcpu, cpu } = ctx;
  const reg = insn.modrm?.reg ?? 0;
  const rm = insn.modrm?.rm ?? 0;
  switch (insn.opcode[1]) {
    case 0x20: { // MOV r32, CRn
      const value = [cpu.cr0, 0, cpu.cr2, cpu.cr3, cpu.cr4][reg];
      if (value === undefined || reg === 1) return { kind: 'reflect' };
      vcpu.writeRegister(GENERAL_IDS[rm], value >>> 0);
      next();
      return done('mov-from-cr');
    }
    case 0x22: { // MOV CRn, r32
      const value = vcpu.readRegister(GENERAL_IDS[rm]) >>> 0;
      // A CR4 bit this CPU does not have is #GP(0), the trapped #GP itself (SDM Vol. 3A §2.5).
      if (reg === 4 && (value & ~ctx.machine.cpuModel.cr4Bits) !== 0) return { kind: 'reflect' };
      // So is paging without protection, and NW without CD (SDM Vol. 2B, MOV—Move to/from Control Registers).
      if (reg === 0 && (((value & CR0_PG) && !(value & CR0_PE)) || ((value & CR0_NW) && !(value & CR0_CD)))) return { kind: 'reflect' };
      const problem = writeControlRegister(ctx, reg, value);
      if (problem) return { kind: 'fatal', reason: problem };
      next();
      return done(`mov-to-cr${reg}`);
    }
    case 0x21: // MOV r32, DRn
      vcpu.writeRegister(GENERAL_IDS[rm], cpu.dr[reg] >>> 0);
      next();
      return done('mov-dr');
    case 0x23: // MOV DRn, r32 (recorded, not armed: no hardware breakpoints in the guest)
      cpu.dr[reg] = vcpu.readRegister(GENERAL_IDS[rm]) >>> 0;
      next();
      return done('mov-dr');
    case 0x06: // CLTS
      cpu.cr0 &= ~CR0_TS;
      ctx.core.configure(cpu.cr0, cpu.cr3, cpu.cr4);
      next();
      return done('clts');
    case 0x08: case 0x09: // INVD, WBINVD: no caches to write back
      next();
      return done('wbinvd');
    case 0x30: { // WRMSR
      const value = (BigInt(vcpu.readRegister(Reg.edx) >>> 0) << 32n) | BigInt(vcpu.readRegister(Reg.eax) >>> 0);
      const index = vcpu.readRegister(Reg.ecx) >>> 0;
      // An MSR this CPU lacks: #GP(0), the trapped #GP itself (SDM Vol. 2B, WRMSR).
      if (absentMsrs(ctx.machine.cpuModel).includes(index)) return { kind: 'reflect' };
      if (!ctx.machine.platformMsrs.write(index, value)) vcpu.writeMsr(index, value);
      next();
      return done('wrmsr');
    }
    case 0x32: { // RDMSR
      const index = vcpu.readRegister(Reg.ecx) >>> 0;
      if (absentMsrs(ctx.machine.cpuModel).includes(index)) return { kind: 'reflect' };
      const value = ctx.machine.platformMsrs.read(index) ?? vcpu.readMsr(index);
      vcpu.writeRegister(Reg.eax, Number(value & 0xffffffffn));
      vcpu.writeRegister(Reg.edx, Number(value >> 32n));
      next();
      return done('rdmsr');
    }
    case 0x00: { // LLDT /2, LTR /3
      if (reg !== 2 && reg !== 3) return { kind: 'reflect' };
      const selector = readOperand16(ctx, insn);
      if (selector === undefined) return { kind: 'reflect' };
      if (reg === 2) cpu.ldtr = selector;
      else {
        cpu.tr = selector;
        markTssBusy(ctx, selector);
      }
      next();
      return done(reg === 2 ? 'lldt' : 'ltr');
    }
    case 0x01: {
      if (reg === 2 || reg === 3) { // LGDT, LIDT
        if (!insn.memory) return { kind: 'reflect' };
        const address = memoryAddress(ctx, insn);
        const raw = vcpu.readGuestLinear(address, 6);
        if (!raw) return { kind: 'reflect' };
        const { base, limit } = decodePseudoDescriptor(raw, insn.prefixes.operandSize);
        if (reg === 2) {
          cpu.gdtr = { base, limit };
          if (!ctx.core.loadGdt(base, limit)) return { kind: 'fatal', reason: `LGDT: the GDT at ${hex(base)} is not readable` };
        } else {
          // The guest's IDT is virtual: the native core delivers through it, the CPU never does.
          cpu.idtr = { base, limit };
          vcpu.writeRegister(Reg.idtrBase, base);
          vcpu.writeRegister(Reg.idtrLimit, limit);
        }
        next();
        return done(reg === 2 ? 'lgdt' : 'lidt');
      }
      if (reg === 6) { // LMSW: PE can be set, not cleared; MP, EM, TS follow the operand
        const value = readOperand16(ctx, insn);
        if (value === undefined) return { kind: 'reflect' };
        const cr0 = (cpu.cr0 & ~LMSW_BITS) | (value & LMSW_BITS) | (cpu.cr0 & CR0_PE);
        const problem = writeControlRegister(ctx, 0, cr0);
        if (problem) return { kind: 'fatal', reason: problem };
        next();
        return done('lmsw');
      }
      if (reg === 7) { // INVLPG
        if (!insn.memory) return { kind: 'reflect' };
        ctx.core.invalidatePage(memoryAddress(ctx, insn));
        next();
        return done('invlpg');
      }
      return { kind: 'reflect' };
    }
    default:
      return { kind: 'reflect' };
  }
}

/** CR writes; returns why the write cannot be virtualised, if it cannot. */
function writeControlRegister(ctx: TrapContext, index: number, value: number): string | undefined {
  const { cpu, vcpu } = ctx;
  switch (index) {
    case 0: {
      if (!(value & CR0_PE)) return ctx.leaveProtectedMode((value | CR0_ET) >>> 0);
      const before = cpu.cr0;
      cpu.cr0 = (value | CR0_ET) >>> 0;
      if ((before ^ cpu.cr0) & CR0_CONFIGURED) ctx.core.configure(cpu.cr0, cpu.cr3, cpu.cr4);
      return undefined;
    }
    case 2:
      cpu.cr2 = value;
      return undefined;
    case 3:
      // (The core keeps the guest's CR3: configure() is where it changes.)
      ctx.core.configure(cpu.cr0, value, cpu.cr4);
      ctx.core.loadGdt(cpu.gdtr.base, cpu.gdtr.limit);
      return undefined;
    case 4:
      cpu.cr4 = value;
      ctx.core.configure(cpu.cr0, cpu.cr3, cpu.cr4);
      return undefined;
    default:
      return `MOV to CR${index} is not a valid instruction`;
  }
}

/**
 * IRET (SDM Vol. 2, IRET: protected-mode return, same or outer level): trapped through NT under
 * the trap engine, a call into the VMM under bt.
 */
export function emulateIret(ctx: TrapContext, insn: DecodedX86, iretEip: number): EmulationResult {
  const { vcpu } = ctx;
  // Every IRET ends an NMI handler's blocking of NMIs; a waiting one is delivered next.
  ctx.core.unblockNmis();
  if (ctx.cpu.nestedTask) {
    // The guest's NT: a return to the task this one is nested in (task-switch.ts).
    const problem = returnFromNestedTask(ctx, iretEip, insn.length);
    if (problem) return { kind: 'fatal', reason: `IRET to the previous task needs ${problem}, which this VMM does not support` };
    return { kind: 'emulated', name: 'iret-task', outcome: resume };
  }
  const size = insn.prefixes.operandSize / 8;
  const ss = vcpu.readRegister(Reg.ss);
  const esp = vcpu.readRegister(Reg.esp);
  const base = segmentBase(ctx, ss);
  const frame = vcpu.readGuestLinear((base + esp) >>> 0, size * 5);
  if (!frame) return { kind: 'reflect' };
  const pop = (i: number): number => {
    let v = 0;
    for (let b = 0; b < size; b++) v |= frame[i * size + b] << (8 * b);
    return v >>> 0;
  };
  const eip = pop(0);
  const cs = pop(1) & 0xffff;
  const current = vcpu.readRegister(Reg.eflags);
  // A 16-bit IRET loads FLAGS, the low half of EFLAGS (SDM Vol. 2, IRET).
  const popped = size === 2 ? ((current & 0xffff0000) | pop(2)) >>> 0 : pop(2);
  // The guest kernel may change IF (the virtual IOPL is 0 and its CPL is 0); VM, RF and the flags
  // the VMM owns (KernelRingFlags) stay.
  const keep = ctx.kernelFlags.owned | EFLAGS_VM | EFLAGS_RF;
  const flags = ((current & keep) | (popped & ~keep & EFLAGS_DEFINED) | EFLAGS_FIXED) >>> 0;
  const targetRing = VirtualCpu.guestCpl(VirtualCpu.realSelector(cs));
  if (targetRing === 0) {
    vcpu.writeRegister(Reg.cs, VirtualCpu.realSelector(cs));
    vcpu.writeRegister(Reg.eip, eip);
    vcpu.writeRegister(Reg.eflags, flags | ctx.kernelFlags.set);
    vcpu.writeRegister(Reg.esp, (esp + 3 * size) >>> 0);
    return { kind: 'emulated', name: 'iret', outcome: resume };
  }
  // To guest user mode: SS:ESP come from the frame too, and the CPU makes the ring change. The
  // guest edits descriptors in place (Linux rewrites its TLS entries at every context switch), so
  // the real GDT is refreshed from the guest's before user code can load them.
  const userEsp = pop(3);
  const userSs = pop(4) & 0xffff;
  ctx.core.loadGdt(ctx.cpu.gdtr.base, ctx.cpu.gdtr.limit);
  ctx.enter(withRpl(cs, 3), eip, flags & ~(ctx.kernelFlags.owned & ~EFLAGS_IOPL), withRpl(userSs, 3), userEsp);
  return { kind: 'emulated', name: 'iret', outcome: resume };
}

/**
 * The default operand and address size of the code the guest kernel runs (the D bit of its CS
 * descriptor, SDM Vol. 3 §3.4.5). The deprivileged kernel may run a 16-bit protected-mode code
 * segment: the thunk that returns to real mode (SDM Vol. 3 §9.9.2) runs its LIDT and its MOV to
 * CR0 from one, where `0F 01 1E disp16` is LIDT [disp16], not LIDT [ESI], and loads a 24-bit base.
 */
export function codeSize(vcpu: NativeVcpu): 16 | 32 {
  return vcpu.codeSegmentIs32() ? 32 : 16;
}

export function registers(vcpu: NativeVcpu): (name: (typeof GENERAL)[number]) => number {
  return (name) => vcpu.readRegister(GENERAL_IDS[GENERAL.indexOf(name)]) >>> 0;
}

export function memoryAddress(ctx: TrapContext, insn: DecodedX86): number {
  const operand = insn.memory!;
  const segment = insn.prefixes.segment ?? operand.defaultSegment;
  const base = segmentBase(ctx, ctx.vcpu.readRegister(SEGMENT_IDS[segment]));
  return (base + effectiveAddress(operand, registers(ctx.vcpu))) >>> 0;
}

export function readOperand16(ctx: TrapContext, insn: DecodedX86): number | undefined {
  if (!insn.memory) return ctx.vcpu.readRegister(GENERAL_IDS[insn.modrm!.rm]) & 0xffff;
  const linear = memoryAddress(ctx, insn);
  const raw = ctx.vcpu.readGuestLinear(linear, 2);
  return raw ? raw[0] | (raw[1] << 8) : readDeviceOperand(ctx, linear, 2);
}

/**
 * Where an operand of `size` bytes at guest linear `linear` lies in a device's memory that the
 * guest mapped, rather than in RAM (kvm-unit-tests' emulator test keeps operands in pc-testdev's
 * I/O memory): its physical address, when the operand lies in one page; undefined otherwise.
 */
function deviceOperand(ctx: TrapContext, linear: number, size: number, write: boolean): number | undefined {
  const where = ctx.vcpu.translateGuestLinear(linear, write);
  if ('pageFault' in where || where.physical < ctx.machine.ram.length || (where.physical & 0xfff) + size > 0x1000) return undefined;
  return where.physical;
}

/** An operand in a device's memory, read as one access of its width, as the CPU makes it. */
export function readDeviceOperand(ctx: TrapContext, linear: number, size: number): number | undefined {
  const physical = deviceOperand(ctx, linear, size, false);
  return physical === undefined ? undefined : ctx.machine.mmio.read(physical, size) >>> 0;
}

/** An operand stored into a device's memory as one access of its width; false where there is none. */
export function writeDeviceOperand(ctx: TrapContext, linear: number, size: number, value: number): boolean {
  const physical = deviceOperand(ctx, linear, size, true);
  if (physical === undefined) return false;
  ctx.machine.mmio.write(physical, size, value >>> 0);
  return true;
}

/** The selector's descriptor in the guest's GDT; none for null and LDT selectors or an unreadable entry. */
export function guestDescriptor(vcpu: NativeVcpu, cpu: VirtualCpu, selector: number): SegmentDescriptor | undefined {
  if (isNullSelector(selector) || isLdtSelector(selector)) return undefined;
  const raw = vcpu.readGuestLinear((cpu.gdtr.base + descriptorOffset(selector)) >>> 0, DESCRIPTOR_SIZE);
  return raw ? decodeSegmentDescriptor(raw) : undefined;
}

/** A segment's base (the real GDT holds the same bases); null and LDT selectors count as 0. */
export function segmentBase(ctx: TrapContext, selector: number): number {
  return guestDescriptor(ctx.vcpu, ctx.cpu, selector)?.base ?? 0;
}

function markTssBusy(ctx: TrapContext, selector: number): void {
  setTssBusy(ctx, selector, true);
  useGuestTss(ctx.vcpu, ctx.core, ctx.cpu);
}

/** Sets or clears the busy bit of a TSS descriptor in the guest's GDT (SDM Vol. 3A §7.2.2). */
export function setTssBusy(ctx: TrapContext, selector: number, busy: boolean): void {
  const at = (ctx.cpu.gdtr.base + descriptorOffset(selector) + ACCESS_BYTE_OFFSET) >>> 0;
  const access = ctx.vcpu.readGuestLinear(at, 1);
  if (access) ctx.vcpu.writeGuestLinear(at, Uint8Array.of(busy ? access[0] | TSS_BUSY : access[0] & ~TSS_BUSY));
}

/** Tells the native core where the guest's TSS is (its inner stacks serve deliveries from ring 3). */
export function useGuestTss(vcpu: NativeVcpu, core: NativeTrapCore, cpu: VirtualCpu): void {
  const tss = guestDescriptor(vcpu, cpu, cpu.tr);
  if (tss) core.setGuestTss(tss.base, tss.limit);
}

