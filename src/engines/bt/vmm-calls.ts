// The sensitive instructions the bt engine's translator hands to the VMM (native/src/bt-translator.cc,
// Kind::kEmulate): instructions that do not trap at ring 1 but would show the guest kernel that
// it is not on ring 0 (Robin & Irvine, USENIX Security 2000, list them), and IRET. Each reaches
// the engine as a #GP at the guest instruction and is carried out here against the virtual CPU,
// as on ring 0 (SDM Vol. 2, each instruction's page). Faults an instruction raises are delivered
// to the guest with EIP at the instruction.
import { decodeInstruction, type DecodedX86 } from '../../decode/modrm.js';
import type { ExceptionOutcome } from '../../vmm/engine.js';
import { EventSource } from '../../vmm/event-delivery.js';
import { Reg } from '../../vmm/registers.js';
import { DESCRIPTOR_SIZE, type SegmentDescriptor } from '../../x86/descriptor.js';
import { EFLAGS_IF, EFLAGS_RF, EFLAGS_VM, EFLAGS_ZF } from '../../x86/eflags.js';
import { descriptorOffset, isLdtSelector, isNullSelector, selectorRpl } from '../../x86/selector.js';
import { Vector } from '../../x86/vectors.js';
import {
  codeSize,
  emulateIret,
  GENERAL_IDS,
  guestDescriptor,
  memoryAddress,
  readOperand16,
  segmentBase,
  writeDeviceOperand,
  type EmulationResult,
  type TrapContext,
} from '../trap/privileged.js';
import { VirtualCpu } from '../trap/virtual-cpu.js';

const resume: ExceptionOutcome = { kind: 'resume' };
/** SDM Vol. 4, Table 2-2. */
const IA32_SYSENTER_CS = 0x174;
const IA32_SYSENTER_ESP = 0x175;
const IA32_SYSENTER_EIP = 0x176;

/**
 * Carries out the instruction at the guest's EIP if it is one the translator turned into a call;
 * 'reflect' for anything else (a privileged instruction that trapped, left to the trap engine).
 */
export function emulateVmmCall(ctx: TrapContext, cs: number, eip: number): EmulationResult {
  const { vcpu } = ctx;
  if (VirtualCpu.guestCpl(cs) !== 0) return { kind: 'reflect' };
  const bytes = vcpu.readGuestLinear((segmentBase(ctx, cs) + eip) >>> 0, 16);
  const insn = bytes && decodeInstruction(bytes, codeSize(vcpu));
  if (!insn) return { kind: 'reflect' };
  const next = (): void => vcpu.writeRegister(Reg.eip, (eip + insn.length) >>> 0);
  const done = (name: string): EmulationResult => {
    next();
    return { kind: 'emulated', name, outcome: resume };
  };
  const [op, op2] = insn.opcode;
  const reg = insn.modrm?.reg ?? 0;
  switch (op) {
    case 0xcf:
      return emulateIret(ctx, insn, eip);
    case 0x0e: // PUSH CS, PUSH SS: the guest's selectors, RPL 0 (QEMU pushes them zero-extended)
    case 0x16: {
      const selector = VirtualCpu.guestSelector(vcpu.readRegister(op === 0x0e ? Reg.cs : Reg.ss));
      return push(ctx, selector, insn.prefixes.operandSize / 8) ?? done(op === 0x0e ? 'push-cs' : 'push-ss');
    }
    case 0x8c: { // MOV r/m, CS or SS
      const selector = VirtualCpu.guestSelector(vcpu.readRegister(reg === 1 ? Reg.cs : Reg.ss));
      return storeRm(ctx, insn, selector) ?? done(reg === 1 ? 'mov-from-cs' : 'mov-from-ss');
    }
    case 0x9c: { // PUSHF with a 16-bit operand: the guest's IOPL (0), not the real one
      const flags = vcpu.readRegister(Reg.eflags) & ~(ctx.kernelFlags.owned | EFLAGS_VM | EFLAGS_RF);
      return push(ctx, flags & 0xffff, 2) ?? done('pushf16');
    }
    case 0x0f:
      return emulateTwoByte(ctx, insn, op2, reg, done);
    default:
      return { kind: 'reflect' }; // a privileged instruction that trapped: the trap engine's
  }
}

function emulateTwoByte(
  ctx: TrapContext,
  insn: DecodedX86,
  op2: number,
  reg: number,
  done: (name: string) => EmulationResult,
): EmulationResult {
  const { vcpu, cpu } = ctx;
  if (op2 === 0x01 && (reg === 0 || reg === 1)) { // SGDT, SIDT: the guest's tables
    const table = reg === 0 ? cpu.gdtr : cpu.idtr;
    // With a 16-bit operand size only 24 bits of the base are stored (SDM Vol. 2 SGDT; as QEMU does).
    const base = insn.prefixes.operandSize === 16 ? table.base & 0xffffff : table.base;
    const image = new Uint8Array(6);
    new DataView(image.buffer).setUint16(0, table.limit, true);
    new DataView(image.buffer).setUint32(2, base >>> 0, true);
    return store(ctx, memoryAddress(ctx, insn), image) ?? done(reg === 0 ? 'sgdt' : 'sidt');
  }
  if (op2 === 0x34 || op2 === 0x35) return emulateSysenterSysexit(ctx, op2 === 0x34);
  if (op2 === 0x01 && reg === 4) return storeRm(ctx, insn, cpu.cr0 >>> 0) ?? done('smsw'); // SMSW: the guest's CR0
  if (op2 === 0x00 && (reg === 0 || reg === 1)) return storeRm(ctx, insn, reg === 0 ? cpu.ldtr : cpu.tr) ?? done(reg === 0 ? 'sldt' : 'str');
  if (op2 === 0x00 && (reg === 4 || reg === 5)) { // VERR, VERW: judged at CPL 0 against the guest's descriptor
    const selector = readOperand16(ctx, insn);
    if (selector === undefined) return { kind: 'reflect' };
    const d = accessible(ctx, selector);
    const ok = d !== undefined && d.codeOrData && (reg === 4 ? !(d.type & 8) || (d.type & 2) !== 0 : !(d.type & 8) && (d.type & 2) !== 0);
    setZf(ctx, ok);
    return done(reg === 4 ? 'verr' : 'verw');
  }
  if (op2 === 0x02 || op2 === 0x03) { // LAR, LSL: the guest's own access rights and limit
    const selector = readOperand16(ctx, insn);
    if (selector === undefined) return { kind: 'reflect' };
    const d = accessible(ctx, selector);
    // System types that LAR (1, 2, 3, 4, 5, 9, B, C) and LSL (1, 2, 3, 9, B) accept.
    const systemOk = op2 === 0x02 ? [1, 2, 3, 4, 5, 9, 0xb, 0xc] : [1, 2, 3, 9, 0xb];
    const ok = d !== undefined && (d.codeOrData || systemOk.includes(d.type));
    setZf(ctx, ok);
    if (ok) {
      const dst = GENERAL_IDS[reg];
      let value: number;
      if (op2 === 0x02) {
        const raw = rawDescriptor(ctx, selector)!;
        value = (raw & 0x00f0ff00) >>> 0;
      } else {
        value = d.limit >>> 0;
      }
      const old = vcpu.readRegister(dst);
      vcpu.writeRegister(dst, insn.prefixes.operandSize === 16 ? ((old & 0xffff0000) | (value & 0xffff)) >>> 0 : value);
    }
    return done(op2 === 0x02 ? 'lar' : 'lsl');
  }
  return { kind: 'reflect' };
}

/**
 * SYSENTER and SYSEXIT from the guest kernel (SDM Vol. 2 SYSENTER, SYSEXIT): flat segments from
 * IA32_SYSENTER_CS, #GP(0) while it is 0. (CPUID hides SEP, but the instructions work on every
 * CPU that has them, as here.)
 */
function emulateSysenterSysexit(ctx: TrapContext, enter: boolean): EmulationResult {
  const { vcpu } = ctx;
  const cs = Number(vcpu.readMsr(IA32_SYSENTER_CS) & 0xfffcn);
  if (cs === 0) return raise(ctx, Vector.GP, 0);
  const eflags = vcpu.readRegister(Reg.eflags);
  if (enter) {
    // To ring 0 (real ring 1): CS and SS = CS + 8 from the MSR; IF, VM and RF cleared.
    vcpu.writeRegister(Reg.ss, VirtualCpu.realSelector(cs + 8));
    vcpu.writeRegister(Reg.cs, VirtualCpu.realSelector(cs));
    vcpu.writeRegister(Reg.esp, Number(vcpu.readMsr(IA32_SYSENTER_ESP) & 0xffffffffn));
    vcpu.writeRegister(Reg.eip, Number(vcpu.readMsr(IA32_SYSENTER_EIP) & 0xffffffffn));
    vcpu.writeRegister(Reg.eflags, (eflags & ~(EFLAGS_IF | EFLAGS_VM | EFLAGS_RF)) >>> 0);
    return { kind: 'emulated', name: 'sysenter', outcome: resume };
  }
  // To ring 3: CS = CS + 16, SS = CS + 24, with RPL 3; EIP from EDX, ESP from ECX.
  ctx.enter((cs + 16) | 3, vcpu.readRegister(Reg.edx), eflags, (cs + 24) | 3, vcpu.readRegister(Reg.ecx));
  return { kind: 'emulated', name: 'sysexit', outcome: resume };
}

/** The descriptor if a CPL 0 access through `selector` may see it (DPL >= RPL; conforming code always). */
function accessible(ctx: TrapContext, selector: number): SegmentDescriptor | undefined {
  if (isNullSelector(selector) || isLdtSelector(selector)) return undefined;
  const d = guestDescriptor(ctx.vcpu, ctx.cpu, selector);
  if (!d) return undefined;
  const conforming = d.codeOrData && (d.type & 0xc) === 0xc;
  if (!conforming && d.dpl < selectorRpl(selector)) return undefined;
  return d;
}

function rawDescriptor(ctx: TrapContext, selector: number): number | undefined {
  const raw = ctx.vcpu.readGuestLinear((ctx.cpu.gdtr.base + descriptorOffset(selector)) >>> 0, DESCRIPTOR_SIZE);
  return raw ? new DataView(raw.buffer, raw.byteOffset).getUint32(4, true) : undefined;
}

function setZf(ctx: TrapContext, on: boolean): void {
  const flags = ctx.vcpu.readRegister(Reg.eflags);
  ctx.vcpu.writeRegister(Reg.eflags, (on ? flags | EFLAGS_ZF : flags & ~EFLAGS_ZF) >>> 0);
}

/** A selector or CR0 into the r/m operand: a register takes it zero-extended, memory 16 bits. */
function storeRm(ctx: TrapContext, insn: DecodedX86, value: number): EmulationResult | undefined {
  if (!insn.memory) {
    const dst = GENERAL_IDS[insn.modrm!.rm];
    const old = ctx.vcpu.readRegister(dst);
    ctx.vcpu.writeRegister(dst, insn.prefixes.operandSize === 16 ? ((old & 0xffff0000) | (value & 0xffff)) >>> 0 : value >>> 0);
    return undefined;
  }
  return store(ctx, memoryAddress(ctx, insn), Uint8Array.of(value & 0xff, (value >>> 8) & 0xff));
}

function push(ctx: TrapContext, value: number, size: number): EmulationResult | undefined {
  const { vcpu } = ctx;
  const esp = (vcpu.readRegister(Reg.esp) - size) >>> 0;
  const image = new Uint8Array(size);
  for (let i = 0; i < size; i++) image[i] = (value >>> (8 * i)) & 0xff;
  const fault = store(ctx, (segmentBase(ctx, vcpu.readRegister(Reg.ss)) + esp) >>> 0, image);
  if (fault) return fault;
  vcpu.writeRegister(Reg.esp, esp);
  return undefined;
}

/** Delivers an exception the instruction raises, with EIP at the instruction. */
function raise(ctx: TrapContext, vector: number, errorCode: number): EmulationResult {
  const delivered = ctx.vcpu.inject(vector, EventSource.exception, true, errorCode);
  if (delivered !== 0) return { kind: 'fatal', reason: `an exception the guest kernel raised could not be delivered: ${ctx.vcpu.injectionDetail}` };
  return { kind: 'emulated', name: 'fault', outcome: resume };
}

/**
 * Writes guest memory as the instruction would; on a page fault delivers the guest's #PF (EIP
 * still at the instruction) and returns the result that says so.
 */
function store(ctx: TrapContext, linear: number, bytes: Uint8Array): EmulationResult | undefined {
  const { vcpu } = ctx;
  for (const at of [linear, (linear + bytes.length - 1) >>> 0]) {
    const where = vcpu.translateGuestLinear(at, true);
    if ('pageFault' in where) {
      ctx.cpu.cr2 = at;
      vcpu.writeRegister(Reg.cr2, at);
      return raise(ctx, Vector.PF, where.pageFault);
    }
  }
  if (vcpu.writeGuestLinear(linear, bytes) || bytes.length > 4) return undefined;
  // Not RAM: the device the guest mapped there takes the store (SMSW into pc-testdev's I/O memory).
  writeDeviceOperand(ctx, linear, bytes.length, bytes.reduceRight((value, byte) => value * 256 + byte, 0));
  return undefined;
}

