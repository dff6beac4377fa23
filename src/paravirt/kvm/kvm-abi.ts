// KVM's paravirtual interface as a guest sees it, in one place: the CPUID leaves
// (Documentation/virt/kvm/x86/cpuid.rst), the MSRs and the structures they point at (msr.rst),
// and the hypercalls (hypercalls.rst). Linux's own definitions are in
// arch/x86/include/uapi/asm/kvm_para.h and pvclock-abi.h.

/** CPUID leaf 0x40000000: EAX the highest KVM leaf, EBX:ECX:EDX "KVMKVMKVM\0\0\0". */
export const KVM_CPUID_SIGNATURE = 0x40000000;
/** CPUID leaf 0x40000001: EAX the feature bits below, EDX the hints. */
export const KVM_CPUID_FEATURES = 0x40000001;
/** The range of leaves a hypervisor answers (Linux looks for a signature every 0x100 up to here). */
export const HYPERVISOR_CPUID_LAST = 0x4000ffff;
export const KVM_SIGNATURE = 'KVMKVMKVM\0\0\0';

/** KVM_CPUID_FEATURES EAX bits. */
export const KvmFeature = {
  /** kvmclock at MSRs 0x11 and 0x12. */
  CLOCKSOURCE: 0,
  /** I/O port delays (port 0x80 writes) are unnecessary. */
  NOP_IO_DELAY: 1,
  /** kvmclock at MSRs 0x4b564d00 and 0x4b564d01. */
  CLOCKSOURCE2: 3,
  STEAL_TIME: 5,
  PV_EOI: 6,
  /** Only with more than one vCPU: the guest's spinlocks halt and are kicked. */
  PV_UNHALT: 7,
  PV_TLB_FLUSH: 9,
  PV_SEND_IPI: 11,
  /** The PVCLOCK_TSC_STABLE_BIT of the time structures may be trusted. */
  CLOCKSOURCE_STABLE_BIT: 24,
} as const;

/** MSRs (msr.rst). The first two are the original kvmclock pair. */
export const MSR_KVM_WALL_CLOCK = 0x11;
export const MSR_KVM_SYSTEM_TIME = 0x12;
export const MSR_KVM_WALL_CLOCK_NEW = 0x4b564d00;
export const MSR_KVM_SYSTEM_TIME_NEW = 0x4b564d01;
export const MSR_KVM_ASYNC_PF_EN = 0x4b564d02;
export const MSR_KVM_STEAL_TIME = 0x4b564d03;
export const MSR_KVM_PV_EOI_EN = 0x4b564d04;
/** Bit 0 of the system-time, steal-time and PV EOI MSRs: the structure is in use. */
export const KVM_MSR_ENABLED = 1n;

/**
 * struct pvclock_vcpu_time_info (32 bytes, 4-byte aligned): time in ns = system_time +
 * scale(TSC - tsc_timestamp), where scale shifts by tsc_shift, then multiplies by
 * tsc_to_system_mul / 2^32. The version is odd while the VMM writes it.
 */
export const PvclockTimeInfo = {
  version: 0,
  tscTimestamp: 8,
  systemTime: 16,
  tscToSystemMul: 24,
  tscShift: 28,
  flags: 29,
  bytes: 32,
} as const;
/** pvclock flags: the TSC is stable across vCPUs and time, so no global monotonicity check is needed. */
export const PVCLOCK_TSC_STABLE_BIT = 1 << 0;

/** struct pvclock_wall_clock (12 bytes): the wall-clock time at which system_time was 0. */
export const PvclockWallClock = { version: 0, sec: 4, nsec: 8, bytes: 12 } as const;

/** struct kvm_steal_time (64 bytes, 64-byte aligned): ns the vCPU was runnable but not run. */
export const KvmStealTime = { steal: 0, version: 8, flags: 12, preempted: 16, bytes: 64 } as const;

/** Hypercall numbers (hypercalls.rst). */
export const KvmHypercall = {
  VAPIC_POLL_IRQ: 1,
  MMU_OP: 2,
  FEATURES: 3,
  KICK_CPU: 5,
  CLOCK_PAIRING: 9,
  SEND_IPI: 10,
  SCHED_YIELD: 11,
  MAP_GPA_RANGE: 12,
} as const;

/** Hypercall results (include/uapi/linux/kvm_para.h), negative in EAX. */
export const KVM_ENOSYS = 1000;
export const KVM_EPERM = 1;
