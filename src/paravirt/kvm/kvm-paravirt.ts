// KVM's paravirtual interface (`--pv kvm`), offered under any engine: what Debian's Linux, built
// with CONFIG_KVM_GUEST and CONFIG_PARAVIRT_CLOCK, finds and uses on its own. The VMM answers
// the KVM CPUID leaves, owns the KVM MSRs (kvmclock, steal time, PV EOI) and answers the guest's
// hypercalls (VMCALL and VMMCALL, native/src/hypercall.h). Documentation/virt/kvm/x86/cpuid.rst,
// msr.rst and hypercalls.rst are the specification followed.
//
// Offered, for the one vCPU: kvmclock at both MSR pairs with the stable bit, NOP_IO_DELAY, steal
// time (where the host keeps run delays), PV EOI. Not offered: async page faults (nothing here
// is paged out behind the guest's back), and what only matters with more than one vCPU
// (PV_UNHALT, PV_TLB_FLUSH, PV_SEND_IPI, PV_SCHED_YIELD): their hypercalls answer -KVM_ENOSYS,
// as KVM does for a feature it does not offer.
import type { PvEoiFlag } from '../../devices/local-apic.js';
import { cpuidTextWord } from '../../x86/cpuid-text.js';
import {
  HYPERVISOR_CPUID_LAST, KVM_CPUID_FEATURES, KVM_CPUID_SIGNATURE, KVM_ENOSYS, KVM_EPERM,
  KVM_MSR_ENABLED, KVM_SIGNATURE, KvmFeature, KvmHypercall, KvmStealTime, MSR_KVM_PV_EOI_EN, MSR_KVM_STEAL_TIME,
  MSR_KVM_SYSTEM_TIME, MSR_KVM_SYSTEM_TIME_NEW, MSR_KVM_WALL_CLOCK, MSR_KVM_WALL_CLOCK_NEW, PvclockTimeInfo,
  PvclockWallClock,
} from './kvm-abi.js';
import { KvmClock, type KvmClockHost } from './kvm-clock.js';
import { StealTime, threadRunDelayNs } from './steal-time.js';

export interface KvmParavirtHost extends KvmClockHost {
  /** Guest RAM. */
  readonly ram: Uint8Array;
  /** The local APIC, which carries out PV EOI. */
  readonly localApic: { attachPvEoi(flag: PvEoiFlag | undefined): void; readonly pvEois: number };
  /** The host's run delay for the vCPU's thread (steal time); undefined where unknown. */
  runDelayNs?: () => bigint | undefined;
}

interface Leaf {
  eax: number;
  ebx: number;
  ecx: number;
  edx: number;
}

/** The flag bit 0 of a u32 in guest memory (Linux's kvm_apic_eoi, KVM_PV_EOI_BIT). */
class GuestPvEoiFlag implements PvEoiFlag {
  constructor(
    private readonly ram: Uint8Array,
    private readonly address: number,
  ) {}

  isSet(): boolean {
    return (this.ram[this.address] & 1) !== 0;
  }

  set(on: boolean): void {
    this.ram[this.address] = on ? this.ram[this.address] | 1 : this.ram[this.address] & ~1;
  }
}

export class KvmParavirt {
  private readonly memory: DataView;
  private readonly clock: KvmClock | undefined;
  private readonly stealTime: StealTime | undefined;
  private readonly msrValues = new Map<number, bigint>();
  /** Hypercalls answered, by number. */
  readonly hypercalls = new Map<number, number>();
  /** Writes of a KVM MSR with an address the VMM could not use (outside RAM, misaligned). */
  refusedMsrWrites = 0;
  readonly features: number;

  constructor(private readonly host: KvmParavirtHost) {
    const ram = host.ram;
    this.memory = new DataView(ram.buffer, ram.byteOffset, ram.byteLength);
    let features = (1 << KvmFeature.NOP_IO_DELAY) | (1 << KvmFeature.PV_EOI);
    if (host.tscHz > 0) {
      this.clock = new KvmClock(this.memory, host);
      features |= (1 << KvmFeature.CLOCKSOURCE) | (1 << KvmFeature.CLOCKSOURCE2) | (1 << KvmFeature.CLOCKSOURCE_STABLE_BIT);
    }
    const runDelayNs = host.runDelayNs ?? threadRunDelayNs;
    if (StealTime.available(runDelayNs)) {
      this.stealTime = new StealTime(this.memory, runDelayNs);
      features |= 1 << KvmFeature.STEAL_TIME;
    }
    this.features = features >>> 0;
  }

  /** The hypervisor leaves (0x40000000-0x4000FFFF); undefined for any other leaf. */
  cpuid(leaf: number): Leaf | undefined {
    if (leaf < KVM_CPUID_SIGNATURE || leaf > HYPERVISOR_CPUID_LAST) return undefined;
    switch (leaf) {
      case KVM_CPUID_SIGNATURE:
        return { eax: KVM_CPUID_FEATURES, ebx: cpuidTextWord(KVM_SIGNATURE, 0), ecx: cpuidTextWord(KVM_SIGNATURE, 4), edx: cpuidTextWord(KVM_SIGNATURE, 8) };
      case KVM_CPUID_FEATURES:
        return { eax: this.features, ebx: 0, ecx: 0, edx: 0 };
      default:
        return { eax: 0, ebx: 0, ecx: 0, edx: 0 };
    }
  }

  private offers(feature: number): boolean {
    return (this.features & (1 << feature)) !== 0;
  }

  /** RDMSR: the value last written, for the MSRs of an offered feature; undefined for the rest. */
  readMsr(index: number): bigint | undefined {
    if (!this.owns(index)) return undefined;
    return this.msrValues.get(index) ?? 0n;
  }

  /** WRMSR: false when the MSR is not one of an offered feature. */
  writeMsr(index: number, value: bigint): boolean {
    if (!this.owns(index)) return false;
    this.msrValues.set(index, value);
    const address = Number(value & 0xfffffffen);
    const enable = (value & KVM_MSR_ENABLED) !== 0n;
    switch (index) {
      case MSR_KVM_WALL_CLOCK:
      case MSR_KVM_WALL_CLOCK_NEW:
        if (this.fits(address, PvclockWallClock.bytes, 4)) this.clock!.writeWallClock(address);
        return true;
      case MSR_KVM_SYSTEM_TIME:
      case MSR_KVM_SYSTEM_TIME_NEW:
        if (enable && this.fits(address, PvclockTimeInfo.bytes, 4)) this.clock!.enable(address);
        else this.clock!.disable();
        return true;
      case MSR_KVM_STEAL_TIME:
        // Bits 1-5 are reserved: the area is 64-byte aligned.
        if (enable && this.fits(Number(value & 0xffffffc0n), KvmStealTime.bytes, 64) && (value & 0x3en) === 0n) {
          this.stealTime!.enable(Number(value & 0xffffffc0n));
        } else {
          this.stealTime!.disable();
        }
        return true;
      case MSR_KVM_PV_EOI_EN:
        this.host.localApic.attachPvEoi(enable && this.fits(address, 4, 4) ? new GuestPvEoiFlag(this.host.ram, address) : undefined);
        return true;
    }
    return false;
  }

  private owns(index: number): boolean {
    switch (index) {
      case MSR_KVM_WALL_CLOCK:
      case MSR_KVM_SYSTEM_TIME:
        return this.offers(KvmFeature.CLOCKSOURCE);
      case MSR_KVM_WALL_CLOCK_NEW:
      case MSR_KVM_SYSTEM_TIME_NEW:
        return this.offers(KvmFeature.CLOCKSOURCE2);
      case MSR_KVM_STEAL_TIME:
        return this.offers(KvmFeature.STEAL_TIME);
      case MSR_KVM_PV_EOI_EN:
        return this.offers(KvmFeature.PV_EOI);
      default:
        return false;
    }
  }

  /** A structure of `bytes` at `address` lies in RAM with the alignment KVM asks for. */
  private fits(address: number, bytes: number, alignment: number): boolean {
    const ok = address % alignment === 0 && address + bytes <= this.host.ram.length;
    if (!ok) this.refusedMsrWrites++;
    return ok;
  }

  /**
   * A hypercall (hypercalls.rst): its result, which becomes the guest's EAX. Only the guest
   * kernel may make one (-KVM_EPERM from user mode, before the number is looked at, as KVM does).
   */
  hypercall(nr: number, fromUser: boolean): number {
    this.hypercalls.set(nr, (this.hypercalls.get(nr) ?? 0) + 1);
    if (fromUser) return -KVM_EPERM >>> 0;
    switch (nr) {
      case KvmHypercall.VAPIC_POLL_IRQ:
        // "Trigger guest exit so that the host can check for pending interrupts on reentry": the
        // run loop looks at its interrupt controllers before the guest runs again anyway.
        return 0;
      default:
        return -KVM_ENOSYS >>> 0;
    }
  }

  /** Before the guest runs again: steal time, and kvmclock after a pause. */
  update(nowNs: number): void {
    this.clock?.update();
    this.stealTime?.update(nowNs);
  }

  /** For the run summary: hypercalls answered, and EOIs the guest made through the PV EOI flag. */
  counters(): Record<string, number> {
    let hypercalls = 0;
    for (const count of this.hypercalls.values()) hypercalls += count;
    return { hypercall: hypercalls, 'pv-eoi': this.host.localApic.pvEois };
  }
}
