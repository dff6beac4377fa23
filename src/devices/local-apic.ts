// The processor's local APIC in xAPIC mode (Intel SDM Vol. 3A ch. 11, "Advanced Programmable
// Interrupt Controller"), for the one vCPU: its registers in the 4 KiB page at IA32_APIC_BASE
// (0xFEE00000), the IRR/ISR/TMR with the priority rules of §11.8.3 (PPR from TPR and the highest
// vector in service), EOI (a level-triggered vector is broadcast to the I/O APIC), the spurious-
// vector register and software disable (§11.4.7.2), the error status register (§11.5.3), the ICR
// (§11.6: fixed, lowest priority, NMI, INIT and start-up to this CPU by destination or shorthand;
// delivery is immediate, so the delivery-status bit always reads idle), and the LVT (§11.5.1):
// the timer in one-shot and periodic mode with its divide register (§11.5.4), LINT0 as ExtINT
// from the 8259 pair (virtual wire mode, as the BIOS leaves it; MP spec §3.6.2.2), LINT1 as NMI,
// and the error entry.
//
// It is the CPU's interrupt input: the run loop asks it, not the 8259s, for the next vector. Its
// own requests come first, then the 8259 pair's INTR through LINT0 (QEMU's cpu_get_pic_interrupt
// does the same). With a TSC source, the timer also has TSC-deadline mode (§11.5.4.1:
// IA32_TSC_DEADLINE, CPUID.1:ECX bit 24). With a paravirtual EOI flag attached (KVM's PV EOI, see
// PvEoiFlag), the guest may end an interrupt by clearing a flag in its memory instead of writing
// EOI. Not modelled: the thermal, performance and CMCI sources (their LVT entries hold values,
// nothing raises them), INIT and SMI to this CPU (counted and ignored: one CPU has nothing to
// restart into), relocating the page
// through IA32_APIC_BASE, and x2APIC.
import { allOnes, registerBytes } from './byte-io.js';
import { checkSnapshotVersion, type Device, type DeviceSnapshot } from './device.js';
import { nsAtTick, ticksBetween, type Clock, type TimedDevice } from './clock.js';

const SNAPSHOT_VERSION = 2;

/** Where the page is and what IA32_APIC_BASE holds after reset (SDM Vol. 3A §11.4.4). */
export const APIC_DEFAULT_BASE = 0xfee00000;
export const IA32_APIC_BASE = 0x1b;
export const APIC_BASE_BSP = 1 << 8;
export const APIC_BASE_ENABLE = 1 << 11;

/** Register offsets in the page (SDM Vol. 3A Table 11-1). */
export const ApicRegister = {
  ID: 0x020,
  VERSION: 0x030,
  TPR: 0x080,
  APR: 0x090,
  PPR: 0x0a0,
  EOI: 0x0b0,
  RRD: 0x0c0,
  LDR: 0x0d0,
  DFR: 0x0e0,
  SVR: 0x0f0,
  ISR: 0x100,
  TMR: 0x180,
  IRR: 0x200,
  ESR: 0x280,
  ICR_LOW: 0x300,
  ICR_HIGH: 0x310,
  LVT_TIMER: 0x320,
  LVT_THERMAL: 0x330,
  LVT_PERF: 0x340,
  LVT_LINT0: 0x350,
  LVT_LINT1: 0x360,
  LVT_ERROR: 0x370,
  TIMER_INITIAL: 0x380,
  TIMER_CURRENT: 0x390,
  TIMER_DIVIDE: 0x3e0,
} as const;

/** Version 0x14 (an integrated xAPIC, as QEMU's), six LVT entries (max LVT 5). */
export const LOCAL_APIC_VERSION = 0x14 | (5 << 16);
const LVT_OFFSETS = [
  ApicRegister.LVT_TIMER, ApicRegister.LVT_THERMAL, ApicRegister.LVT_PERF,
  ApicRegister.LVT_LINT0, ApicRegister.LVT_LINT1, ApicRegister.LVT_ERROR,
];
const LVT = { timer: 0, thermal: 1, perf: 2, lint0: 3, lint1: 4, error: 5 } as const;

// LVT and ICR fields (SDM Vol. 3A Figures 11-8 and 11-12).
const VECTOR_MASK = 0xff;
const DELIVERY_MODE_SHIFT = 8;
const LVT_MASKED = 1 << 16;
const TIMER_MODE_SHIFT = 17;
const TIMER_PERIODIC = 1;
const TIMER_TSC_DEADLINE = 2;
/** IA32_TSC_DEADLINE (SDM Vol. 3A §11.5.4.1): the TSC value at which a TSC-deadline timer fires. */
export const IA32_TSC_DEADLINE = 0x6e0;
/** Writable bits per LVT entry: the timer has a mode, LINT0/1 polarity and trigger, the error entry neither. */
const LVT_WRITABLE = [
  VECTOR_MASK | LVT_MASKED | (3 << TIMER_MODE_SHIFT),
  VECTOR_MASK | (7 << DELIVERY_MODE_SHIFT) | LVT_MASKED,
  VECTOR_MASK | (7 << DELIVERY_MODE_SHIFT) | LVT_MASKED,
  VECTOR_MASK | (7 << DELIVERY_MODE_SHIFT) | (1 << 13) | (1 << 15) | LVT_MASKED,
  VECTOR_MASK | (7 << DELIVERY_MODE_SHIFT) | (1 << 13) | (1 << 15) | LVT_MASKED,
  VECTOR_MASK | LVT_MASKED,
];
const LEVEL_TRIGGERED = 1 << 15;

export const DeliveryMode = { fixed: 0, lowestPriority: 1, smi: 2, nmi: 4, init: 5, startup: 6, extInt: 7 } as const;

const ICR_DEST_LOGICAL = 1 << 11;
const ICR_LEVEL_ASSERT = 1 << 14;
const ICR_TRIGGER_LEVEL = 1 << 15;
const ICR_SHORTHAND_SHIFT = 18;
const ICR_WRITABLE = 0x000ccfff; // vector, mode, destination mode, level, trigger, shorthand
const Shorthand = { none: 0, self: 1, allIncludingSelf: 2, allExcludingSelf: 3 } as const;

const SVR_ENABLE = 1 << 8;
const SVR_WRITABLE = 0x1ff;
const DFR_FLAT = 0xf;

/** Error status bits (SDM Vol. 3A Figure 11-9). */
export const ApicError = { sendIllegalVector: 1 << 5, receiveIllegalVector: 1 << 6, illegalRegister: 1 << 7 } as const;

/** Vectors below 16 are reserved for exceptions: the APIC refuses them (§11.5.2). */
const FIRST_LEGAL_VECTOR = 16;

/** What the CPU's interrupt pin asks of the next source down the line (the 8259 pair on LINT0). */
export interface ExtIntSource {
  hasInterrupt(): boolean;
  acknowledge(): number;
}

/** The CPU's time-stamp counter, for the TSC-deadline timer. */
export interface TscSource {
  tsc(): bigint;
  readonly hz: number;
}

export interface LocalApicConfig {
  /** The timer's input clock in Hz before the divider: the core crystal CPUID leaf 0x15 reports. */
  timerHz: number;
  /** The TSC, when the timer offers TSC-deadline mode (CPUID.1:ECX bit 24 says so). */
  tsc?: TscSource;
  /** The 8259 pair, wired to LINT0. */
  extInt: ExtIntSource;
  /** A request may now be deliverable: the vCPU should look for its interrupt window. */
  onRequest: () => void;
  /** EOI of a level-triggered vector: the I/O APIC clears its remote IRR (§11.8.5). */
  onLevelEoi?: (vector: number) => void;
  /** `vector` moved from IRR to ISR: the CPU took it (a timer that owes ticks raises the next). */
  onAccepted?: (vector: number) => void;
}

/**
 * KVM's paravirtual EOI (Documentation/virt/kvm/x86/msr.rst, MSR_KVM_PV_EOI_EN): a flag in guest
 * memory. The APIC sets it when it hands the CPU an interrupt whose EOI nothing else waits for
 * (edge-triggered, nothing else in service or requested); the guest's EOI then clears the flag
 * instead of writing the EOI register, which under a VMM is an exit. The APIC notices the cleared
 * flag the next time it is asked anything, and ends the interrupt then: nothing can tell the
 * difference, because only a new request or a read of the APIC depends on it.
 */
export interface PvEoiFlag {
  isSet(): boolean;
  set(on: boolean): void;
}

/** What snapshot() saves. */
interface SavedApic {
  apicBase: number; id: number; tpr: number; ldr: number; dfr: number; svr: number;
  irr: number[]; isr: number[]; tmr: number[]; esr: number; pendingErrors: number; icrLow: number; icrHigh: number;
  lvt: number[]; nmiPending: boolean; initialCount: number; countAtStart: number; startNs: number;
  divideConfig: number; counting: boolean; expiries: number; deadline: string; deadlineNs: number | null;
}

/** A 256-bit vector register (IRR, ISR, TMR) as eight 32-bit words, as the page shows it. */
class VectorBits {
  readonly words = new Uint32Array(8);

  set(vector: number, on: boolean): void {
    const bit = 1 << (vector & 31);
    if (on) this.words[vector >>> 5] |= bit;
    else this.words[vector >>> 5] &= ~bit;
  }

  has(vector: number): boolean {
    return (this.words[vector >>> 5] & (1 << (vector & 31))) !== 0;
  }

  /** Whether `vector` is the only one set. */
  onlyHas(vector: number): boolean {
    for (let w = 0; w < 8; w++) {
      if (this.words[w] !== (w === vector >>> 5 ? 1 << (vector & 31) : 0)) return false;
    }
    return true;
  }

  /** The highest vector set, or -1. */
  highest(): number {
    for (let w = 7; w >= 0; w--) {
      const word = this.words[w];
      if (word !== 0) return w * 32 + 31 - Math.clz32(word);
    }
    return -1;
  }
}

export class LocalApic implements Device, TimedDevice {
  readonly name = 'local-apic';
  /** IA32_APIC_BASE: the page, the BSP flag and the global enable (§11.4.4). */
  private apicBase = APIC_DEFAULT_BASE | APIC_BASE_BSP | APIC_BASE_ENABLE;
  private id = 0;
  private tpr = 0;
  private ldr = 0;
  private dfr = 0xffffffff;
  private svr = 0xff;
  private readonly irr = new VectorBits();
  private readonly isr = new VectorBits();
  private readonly tmr = new VectorBits();
  private esr = 0;
  private pendingErrors = 0;
  private icrLow = 0;
  private icrHigh = 0;
  private readonly lvt: number[];
  private nmiPending = false;
  /** INIT and SMI messages this CPU received and could not act on. */
  ignoredMessages = 0;
  // The timer: counting down from `countAtStart` since `startNs`, reloading from `initialCount`
  // in periodic mode; `expiries` is how many times it has reached zero so far.
  private initialCount = 0;
  private countAtStart = 0;
  private startNs = 0;
  private divideConfig = 0;
  private counting = false;
  private expiries = 0;
  /** TSC-deadline mode: IA32_TSC_DEADLINE (0: disarmed), and when it falls in guest time. */
  private deadline = 0n;
  private deadlineNs: number | undefined;
  private pvEoi: PvEoiFlag | undefined;
  /** The flag was set for the interrupt in service (and the guest may have cleared it since). */
  private pvEoiOffered = false;
  /** EOIs the guest made through the flag. */
  pvEois = 0;

  constructor(
    private readonly clock: Clock,
    private readonly config: LocalApicConfig,
  ) {
    this.lvt = LVT_OFFSETS.map(() => LVT_MASKED);
    this.virtualWire();
  }

  /** LINT0 as ExtINT and LINT1 as NMI, unmasked: virtual wire mode, what a PC BIOS hands over. */
  private virtualWire(): void {
    this.lvt[LVT.lint0] = DeliveryMode.extInt << DELIVERY_MODE_SHIFT;
    this.lvt[LVT.lint1] = DeliveryMode.nmi << DELIVERY_MODE_SHIFT;
  }

  // --- KVM's paravirtual EOI -------------------------------------------------------------------

  /** Attaches the guest's PV EOI flag (undefined: the guest turned it off). */
  attachPvEoi(flag: PvEoiFlag | undefined): void {
    this.takePvEoi();
    this.withdrawPvEoi();
    this.pvEoi = flag;
  }

  /** The guest cleared the flag: its EOI, carried out now. */
  private takePvEoi(): void {
    if (!this.pvEoiOffered || this.pvEoi!.isSet()) return;
    this.pvEoiOffered = false;
    this.pvEois++;
    this.endOfInterrupt();
  }

  /** The flag no longer applies (a new request must be seen at the EOI): the guest writes EOI. */
  private withdrawPvEoi(): void {
    if (!this.pvEoiOffered) return;
    this.pvEoiOffered = false;
    this.pvEoi!.set(false);
  }

  /** After `vector` entered service: offer the flag if nothing but this EOI depends on it. */
  private offerPvEoi(vector: number): void {
    if (!this.pvEoi || this.tmr.has(vector) || this.irr.highest() >= 0 || !this.isr.onlyHas(vector)) return;
    this.pvEoi.set(true);
    this.pvEoiOffered = true;
  }

  // --- The CPU's side -------------------------------------------------------------------------

  /** Whether the APIC is globally enabled (IA32_APIC_BASE bit 11): CPUID.1:EDX.APIC follows it. */
  get globallyEnabled(): boolean {
    return (this.apicBase & APIC_BASE_ENABLE) !== 0;
  }

  private get softwareEnabled(): boolean {
    return this.globallyEnabled && (this.svr & SVR_ENABLE) !== 0;
  }

  readBaseMsr(): bigint {
    return BigInt(this.apicBase >>> 0);
  }

  /**
   * WRMSR IA32_APIC_BASE. Clearing the enable bit turns the APIC off (its page reads as nothing,
   * the 8259s reach INTR directly); setting it again comes back software-disabled, as QEMU does.
   * The page stays at 0xFEE00000: a relocated base is held but not honoured.
   */
  writeBaseMsr(value: bigint): void {
    const low = Number(value & 0xffffffffn);
    const enable = (low & APIC_BASE_ENABLE) !== 0;
    if (!enable && this.globallyEnabled) this.svr &= ~SVR_ENABLE;
    this.apicBase = ((low & 0xfffff000) | APIC_BASE_BSP | (enable ? APIC_BASE_ENABLE : 0)) >>> 0;
    this.config.onRequest();
  }

  /** The 8259s reach INTR: the APIC is off, or LINT0 is an unmasked ExtINT entry. */
  passesExtInt(): boolean {
    if (!this.globallyEnabled) return true;
    const lint0 = this.lvt[LVT.lint0];
    return (lint0 & LVT_MASKED) === 0 && ((lint0 >>> DELIVERY_MODE_SHIFT) & 7) === DeliveryMode.extInt;
  }

  /** Processor priority (§11.8.3.1): the TPR, or the class of the highest vector in service. */
  private ppr(): number {
    const isrv = Math.max(this.isr.highest(), 0);
    return (this.tpr & 0xf0) >= (isrv & 0xf0) ? this.tpr & 0xff : isrv & 0xf0;
  }

  /** The highest requested vector whose class is above the processor priority, or -1. */
  private deliverableVector(): number {
    if (!this.softwareEnabled) return -1;
    const vector = this.irr.highest();
    return vector >= 0 && (vector & 0xf0) > (this.ppr() & 0xf0) ? vector : -1;
  }

  /** INTR is asserted: an APIC request the priority lets through, or the 8259s through LINT0. */
  hasInterrupt(): boolean {
    this.takePvEoi();
    return this.deliverableVector() >= 0 || (this.passesExtInt() && this.config.extInt.hasInterrupt());
  }

  /**
   * The interrupt-acknowledge cycle: the APIC's highest deliverable vector moves from IRR to ISR
   * (§11.8.4); otherwise the 8259s answer through LINT0. Should the request have gone (the TPR
   * rose meanwhile), the spurious vector comes back and nothing enters service (§11.9).
   */
  acknowledge(): number {
    this.takePvEoi();
    const vector = this.deliverableVector();
    if (vector >= 0) {
      this.irr.set(vector, false);
      this.isr.set(vector, true);
      this.offerPvEoi(vector);
      this.config.onAccepted?.(vector);
      return vector;
    }
    if (this.passesExtInt() && this.config.extInt.hasInterrupt()) return this.config.extInt.acknowledge();
    return this.svr & VECTOR_MASK;
  }

  /** An NMI waits for delivery (ICR or LINT1): it is taken whatever EFLAGS.IF says. */
  takeNmi(): boolean {
    const pending = this.nmiPending;
    this.nmiPending = false;
    return pending;
  }

  get hasNmi(): boolean {
    return this.nmiPending;
  }

  /**
   * A message for this CPU: from the I/O APIC, an IPI, or a local source. Fixed and lowest
   * priority vectors enter IRR (TMR for level triggered); an illegal vector is refused with an
   * error.
   */
  deliver(mode: number, vector: number, levelTriggered: boolean): void {
    switch (mode) {
      case DeliveryMode.fixed:
      case DeliveryMode.lowestPriority:
        if (vector < FIRST_LEGAL_VECTOR) {
          this.raiseError(ApicError.receiveIllegalVector);
          return;
        }
        if (!this.softwareEnabled) return;
        this.takePvEoi();
        this.withdrawPvEoi();
        this.irr.set(vector, true);
        this.tmr.set(vector, levelTriggered);
        if (this.deliverableVector() >= 0) this.config.onRequest();
        return;
      case DeliveryMode.nmi:
        this.nmiPending = true;
        this.config.onRequest();
        return;
      case DeliveryMode.extInt:
        // An ExtINT message (from an I/O APIC pin): the 8259s answer the acknowledge.
        this.config.onRequest();
        return;
      default:
        // INIT, SMI, start-up: one CPU has nowhere to go (a BSP ignores SIPI, §8.4.3).
        this.ignoredMessages++;
    }
  }

  /** Whether a physical or logical destination names this CPU (§11.6.2). */
  matchesDestination(destination: number, logical: boolean): boolean {
    if (!logical) return destination === 0xff || destination === this.id;
    if (destination === 0xff) return true;
    const logicalId = this.ldr >>> 24;
    if (this.dfr >>> 28 === DFR_FLAT) return (logicalId & destination) !== 0;
    // Cluster model: the high nibble names the cluster, the low one a set of its members.
    return (destination >>> 4 === logicalId >>> 4 || destination >>> 4 === 0xf) && (destination & logicalId & 0xf) !== 0;
  }

  private raiseError(bits: number): void {
    this.pendingErrors |= bits;
    this.fireLvt(LVT.error);
  }

  /** An LVT source fires: its entry says how (masked entries, and all of them when disabled, do nothing). */
  private fireLvt(index: number): void {
    const entry = this.lvt[index];
    if (!this.softwareEnabled || entry & LVT_MASKED) return;
    const mode = index === LVT.timer || index === LVT.error ? DeliveryMode.fixed : (entry >>> DELIVERY_MODE_SHIFT) & 7;
    this.deliver(mode, entry & VECTOR_MASK, (entry & LEVEL_TRIGGERED) !== 0 && mode === DeliveryMode.fixed);
  }

  /** LINT1, an NMI source on a PC: asserted, it delivers what its entry says. */
  lint1(): void {
    this.fireLvt(LVT.lint1);
  }

  // --- The timer (§11.5.4) --------------------------------------------------------------------

  /** Whether the timer has TSC-deadline mode (CPUID.1:ECX.TSC_Deadline). */
  get offersTscDeadline(): boolean {
    return this.config.tsc !== undefined;
  }

  private get tscDeadlineMode(): boolean {
    return this.offersTscDeadline && ((this.lvt[LVT.timer] >>> TIMER_MODE_SHIFT) & 3) === TIMER_TSC_DEADLINE;
  }

  /** RDMSR IA32_TSC_DEADLINE: the armed deadline, 0 once it fired or outside TSC-deadline mode. */
  readDeadlineMsr(): bigint {
    return this.tscDeadlineMode ? this.deadline : 0n;
  }

  /**
   * WRMSR IA32_TSC_DEADLINE (§11.5.4.1): arms the timer for that TSC value (one already past fires
   * at once), or disarms it with 0; ignored outside TSC-deadline mode.
   */
  writeDeadlineMsr(value: bigint): void {
    if (!this.tscDeadlineMode) return;
    this.deadline = BigInt.asUintN(64, value);
    if (this.deadline === 0n) {
      this.deadlineNs = undefined;
      return;
    }
    const { tsc, hz } = this.config.tsc!;
    const ticks = this.deadline - tsc();
    this.deadlineNs = this.clock.nowNs() + (ticks > 0n ? (Number(ticks) * 1e9) / hz : 0);
  }

  private get timerHz(): number {
    // Divide configuration bits 0, 1 and 3: 0b111 divides by 1, n by 2^(n+1).
    const code = (this.divideConfig & 3) | ((this.divideConfig & 8) >>> 1);
    return this.config.timerHz / (code === 7 ? 1 : 2 ** (code + 1));
  }

  private get periodic(): boolean {
    return ((this.lvt[LVT.timer] >>> TIMER_MODE_SHIFT) & 3) === TIMER_PERIODIC;
  }

  /** Expiries from the start of the count up to `nowNs`. */
  private expiriesBy(nowNs: number): number {
    if (!this.counting) return this.expiries;
    const ticks = ticksBetween(this.startNs, nowNs, this.timerHz);
    if (ticks < this.countAtStart) return 0;
    return this.periodic && this.initialCount > 0 ? Math.floor((ticks - this.countAtStart) / this.initialCount) + 1 : 1;
  }

  private currentCount(nowNs: number): number {
    if (!this.counting) return 0;
    const ticks = ticksBetween(this.startNs, nowNs, this.timerHz);
    if (ticks < this.countAtStart) return this.countAtStart - ticks;
    if (!this.periodic || this.initialCount === 0) return 0;
    return this.initialCount - ((ticks - this.countAtStart) % this.initialCount);
  }

  /** Starts counting down from `count` now (a write of the initial count, or a new divider). */
  private startCount(count: number): void {
    this.startNs = this.clock.nowNs();
    this.countAtStart = count;
    this.counting = count > 0;
    this.expiries = 0;
  }

  nextEventNs(): number | undefined {
    if (this.tscDeadlineMode) return this.deadlineNs;
    if (!this.counting) return undefined;
    const next = this.expiries;
    const tick = next === 0 ? this.countAtStart : this.countAtStart + next * this.initialCount;
    if (next > 0 && !(this.periodic && this.initialCount > 0)) return undefined;
    return nsAtTick(this.startNs, tick, this.timerHz);
  }

  /** Whether the timer could interrupt a halted CPU: counting with its entry unmasked. */
  get timerMayInterrupt(): boolean {
    const armed = this.tscDeadlineMode ? this.deadlineNs !== undefined : this.counting;
    return armed && this.softwareEnabled && (this.lvt[LVT.timer] & LVT_MASKED) === 0;
  }

  update(): void {
    if (this.tscDeadlineMode) {
      if (this.deadlineNs === undefined || this.clock.nowNs() < this.deadlineNs) return;
      this.deadline = 0n;
      this.deadlineNs = undefined;
      this.fireLvt(LVT.timer);
      return;
    }
    if (!this.counting) return;
    const expiries = this.expiriesBy(this.clock.nowNs());
    if (expiries <= this.expiries) return;
    // However many periods went by, the vector is one bit in IRR: one interrupt.
    this.expiries = expiries;
    if (!this.periodic) this.counting = false;
    this.fireLvt(LVT.timer);
  }

  // --- The page -------------------------------------------------------------------------------

  /** Reads are of whole 32-bit registers on 16-byte boundaries; a narrower read takes its bytes. */
  read(offset: number, size: number): number {
    if (!this.globallyEnabled) return allOnes(size);
    this.takePvEoi();
    return registerBytes(this.readRegister(offset & 0xff0), offset, size);
  }

  private readRegister(register: number): number {
    switch (register) {
      case ApicRegister.ID: return this.id << 24;
      case ApicRegister.VERSION: return LOCAL_APIC_VERSION;
      case ApicRegister.TPR: return this.tpr;
      case ApicRegister.APR: return 0;
      case ApicRegister.PPR: return this.ppr();
      case ApicRegister.LDR: return this.ldr;
      case ApicRegister.DFR: return this.dfr;
      case ApicRegister.SVR: return this.svr;
      case ApicRegister.ESR: return this.esr;
      case ApicRegister.ICR_LOW: return this.icrLow;
      case ApicRegister.ICR_HIGH: return this.icrHigh;
      case ApicRegister.TIMER_INITIAL: return this.initialCount;
      case ApicRegister.TIMER_CURRENT: return this.tscDeadlineMode ? 0 : this.currentCount(this.clock.nowNs());
      case ApicRegister.TIMER_DIVIDE: return this.divideConfig;
      case ApicRegister.EOI: return 0;
    }
    if (register >= ApicRegister.ISR && register < ApicRegister.ISR + 0x80) return this.isr.words[(register - ApicRegister.ISR) >>> 4];
    if (register >= ApicRegister.TMR && register < ApicRegister.TMR + 0x80) return this.tmr.words[(register - ApicRegister.TMR) >>> 4];
    if (register >= ApicRegister.IRR && register < ApicRegister.IRR + 0x80) return this.irr.words[(register - ApicRegister.IRR) >>> 4];
    const lvt = LVT_OFFSETS.indexOf(register as (typeof LVT_OFFSETS)[number]);
    if (lvt >= 0) return this.lvt[lvt];
    this.raiseError(ApicError.illegalRegister);
    return 0;
  }

  /** Writes narrower than 32 bits have no defined effect on an xAPIC: ignored, as QEMU does. */
  write(offset: number, size: number, value: number): void {
    if (!this.globallyEnabled || size !== 4 || (offset & 3) !== 0) return;
    this.takePvEoi();
    // An EOI the flag did not carry: the flag is taken back first, so it cannot end another one.
    if ((offset & 0xff0) === ApicRegister.EOI) this.withdrawPvEoi();
    this.writeRegister(offset & 0xff0, value >>> 0);
  }

  private writeRegister(register: number, value: number): void {
    switch (register) {
      case ApicRegister.ID:
        this.id = value >>> 24;
        return;
      case ApicRegister.TPR:
        this.tpr = value & 0xff;
        if (this.deliverableVector() >= 0) this.config.onRequest();
        return;
      case ApicRegister.EOI:
        this.endOfInterrupt();
        return;
      case ApicRegister.LDR:
        this.ldr = value & 0xff000000;
        return;
      case ApicRegister.DFR:
        this.dfr = (value | 0x0fffffff) >>> 0;
        return;
      case ApicRegister.SVR:
        this.svr = value & SVR_WRITABLE;
        // Software disable masks every LVT entry (§11.4.7.2).
        if (!(this.svr & SVR_ENABLE)) for (let i = 0; i < this.lvt.length; i++) this.lvt[i] |= LVT_MASKED;
        this.config.onRequest();
        return;
      case ApicRegister.ESR:
        // A write latches the errors seen since the last one (§11.5.3).
        this.esr = this.pendingErrors;
        this.pendingErrors = 0;
        return;
      case ApicRegister.ICR_LOW:
        this.icrLow = value & ICR_WRITABLE;
        this.sendIpi();
        return;
      case ApicRegister.ICR_HIGH:
        this.icrHigh = value & 0xff000000;
        return;
      case ApicRegister.TIMER_INITIAL:
        if (this.tscDeadlineMode) return; // the count is not used in TSC-deadline mode (§11.5.4.1)
        this.initialCount = value;
        this.startCount(value);
        return;
      case ApicRegister.TIMER_DIVIDE: {
        const remaining = this.currentCount(this.clock.nowNs());
        const counting = this.counting;
        this.divideConfig = value & 0xb;
        if (counting) this.startCount(remaining);
        return;
      }
      case ApicRegister.VERSION:
      case ApicRegister.APR:
      case ApicRegister.PPR:
      case ApicRegister.TIMER_CURRENT:
        return; // read-only
    }
    const lvt = LVT_OFFSETS.indexOf(register as (typeof LVT_OFFSETS)[number]);
    if (lvt >= 0) {
      let entry = value & LVT_WRITABLE[lvt];
      if (!this.softwareEnabled) entry |= LVT_MASKED;
      if (lvt === LVT.timer && !this.offersTscDeadline && ((entry >>> TIMER_MODE_SHIFT) & 3) === TIMER_TSC_DEADLINE) {
        entry &= ~(3 << TIMER_MODE_SHIFT); // a reserved mode on a CPU without the deadline timer
      }
      const wasPeriodic = this.periodic;
      const wasDeadline = this.tscDeadlineMode;
      this.lvt[lvt] = entry;
      if (lvt === LVT.timer && wasDeadline !== this.tscDeadlineMode) {
        // A change into or out of TSC-deadline mode disarms the timer, as KVM does.
        this.initialCount = 0;
        this.counting = false;
        this.deadline = 0n;
        this.deadlineNs = undefined;
      } else if (lvt === LVT.timer && wasPeriodic !== this.periodic) this.expiries = this.expiriesBy(this.clock.nowNs());
      if (lvt === LVT.lint0) this.config.onRequest();
      return;
    }
    if (register >= ApicRegister.ISR && register < ApicRegister.IRR + 0x80) return; // read-only
    this.raiseError(ApicError.illegalRegister);
  }

  /** EOI (§11.8.5): the highest vector in service leaves it; a level-triggered one is broadcast. */
  private endOfInterrupt(): void {
    const vector = this.isr.highest();
    if (vector < 0) return;
    this.isr.set(vector, false);
    if (this.tmr.has(vector)) {
      this.tmr.set(vector, false);
      this.config.onLevelEoi?.(vector);
    }
    if (this.hasInterrupt()) this.config.onRequest();
  }

  /** A write of the ICR's low half sends the IPI it describes, to this CPU if it is a target. */
  private sendIpi(): void {
    const icr = this.icrLow;
    const mode = (icr >>> DELIVERY_MODE_SHIFT) & 7;
    const vector = icr & VECTOR_MASK;
    const shorthand = (icr >>> ICR_SHORTHAND_SHIFT) & 3;
    // INIT level de-assert only synchronises arbitration IDs: nothing is delivered (§11.6.1).
    if (mode === DeliveryMode.init && (icr & ICR_TRIGGER_LEVEL) !== 0 && (icr & ICR_LEVEL_ASSERT) === 0) return;
    if ((mode === DeliveryMode.fixed || mode === DeliveryMode.lowestPriority) && vector < FIRST_LEGAL_VECTOR) {
      this.raiseError(ApicError.sendIllegalVector);
      return;
    }
    const toSelf =
      shorthand === Shorthand.self ||
      shorthand === Shorthand.allIncludingSelf ||
      (shorthand === Shorthand.none && this.matchesDestination(this.icrHigh >>> 24, (icr & ICR_DEST_LOGICAL) !== 0));
    // Start-up messages go to other processors only; there are none.
    if (toSelf && mode !== DeliveryMode.startup) this.deliver(mode, vector, false);
  }

  snapshot(): DeviceSnapshot {
    this.takePvEoi();
    this.withdrawPvEoi();
    return {
      version: SNAPSHOT_VERSION,
      apicBase: this.apicBase, id: this.id, tpr: this.tpr, ldr: this.ldr, dfr: this.dfr, svr: this.svr,
      irr: [...this.irr.words], isr: [...this.isr.words], tmr: [...this.tmr.words],
      esr: this.esr, pendingErrors: this.pendingErrors, icrLow: this.icrLow, icrHigh: this.icrHigh,
      lvt: [...this.lvt], nmiPending: this.nmiPending,
      initialCount: this.initialCount, countAtStart: this.countAtStart, startNs: this.startNs,
      divideConfig: this.divideConfig, counting: this.counting, expiries: this.expiries,
      deadline: this.deadline.toString(), deadlineNs: this.deadlineNs ?? null,
    };
  }

  restore(snapshot: DeviceSnapshot): void {
    checkSnapshotVersion(this.name, SNAPSHOT_VERSION, snapshot);
    const s = snapshot as unknown as SavedApic;
    this.apicBase = s.apicBase; this.id = s.id; this.tpr = s.tpr; this.ldr = s.ldr; this.dfr = s.dfr; this.svr = s.svr;
    this.irr.words.set(s.irr); this.isr.words.set(s.isr); this.tmr.words.set(s.tmr);
    this.esr = s.esr; this.pendingErrors = s.pendingErrors; this.icrLow = s.icrLow; this.icrHigh = s.icrHigh;
    this.lvt.splice(0, this.lvt.length, ...s.lvt); this.nmiPending = s.nmiPending;
    this.initialCount = s.initialCount; this.countAtStart = s.countAtStart; this.startNs = s.startNs;
    this.divideConfig = s.divideConfig; this.counting = s.counting; this.expiries = s.expiries;
    this.deadline = BigInt(s.deadline); this.deadlineNs = s.deadlineNs ?? undefined;
  }
}
