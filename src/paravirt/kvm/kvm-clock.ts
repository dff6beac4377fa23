// kvmclock (Documentation/virt/kvm/x86/msr.rst, MSR_KVM_SYSTEM_TIME_NEW and MSR_KVM_WALL_CLOCK_NEW):
// the VMM tells the guest how to turn its TSC into nanoseconds since boot, in a structure in
// guest memory, and what the wall-clock time was at boot. The guest then needs neither a PIT
// calibration of its TSC nor the RTC's one-second resolution.
//
// The guest's TSC is the host's (Unicorn's RDTSC reads it), and guest time is the VMM's clock
// (HostClock: the host's monotonic time, standing still while a debugger holds the machine). The
// structure is written once when the guest enables it, with PVCLOCK_TSC_STABLE_BIT; after a
// pause its TSC reference moves on by the ticks of the pause, so that guest time does not jump.
import { PVCLOCK_TSC_STABLE_BIT, PvclockTimeInfo, PvclockWallClock } from './kvm-abi.js';

/** What kvmclock reads of the host. */
export interface KvmClockHost {
  /** Guest time in ns (the machine's clock). */
  nowNs(): number;
  /** Seconds the machine's clock has stood still so far. */
  readonly pausedSeconds: number;
  /** The host TSC now (the guest's RDTSC). */
  tsc(): bigint;
  /** The TSC rate in Hz. */
  readonly tscHz: number;
  /** The host's wall-clock time in ns since the Unix epoch. */
  realtimeNs(): bigint;
}

export interface TimeScale {
  /** 32.32 fixed-point multiplier. */
  mul: number;
  /** Applied to the TSC delta first: left if positive, right if negative. */
  shift: number;
}

/**
 * The (shift, multiplier) pair for a TSC at `tscHz`: ns = ((delta << shift) * mul) >> 32, with the
 * multiplier in [2^31, 2^32) for the most precision (KVM's kvm_get_time_scale does the same).
 */
export function timeScale(tscHz: number): TimeScale {
  if (!(tscHz > 0)) throw new RangeError(`timeScale: TSC rate ${tscHz} Hz`);
  const hz = BigInt(Math.round(tscHz));
  for (let shift = -32; shift <= 32; shift++) {
    // mul = 1e9 * 2^32 / (hz * 2^shift)
    const mul = shift >= 0 ? (1_000_000_000n << 32n) / (hz << BigInt(shift)) : (1_000_000_000n << BigInt(32 - shift)) / hz;
    if (mul < 1n << 32n) return { mul: Number(mul), shift };
  }
  throw new RangeError(`timeScale: TSC rate ${tscHz} Hz is out of range`);
}

/** ns for `delta` TSC ticks, as the guest computes them (pvclock_scale_delta). */
export function scaleDelta(delta: bigint, scale: TimeScale): bigint {
  const shifted = scale.shift >= 0 ? delta << BigInt(scale.shift) : delta >> BigInt(-scale.shift);
  return (shifted * BigInt(scale.mul)) >> 32n;
}

export class KvmClock {
  private readonly scale: TimeScale;
  /** The guest-physical address of the time structure, while enabled. */
  private timeInfo: number | undefined;
  private tscTimestamp = 0n;
  private systemTime = 0n;
  private version = 0;
  private pausedSecondsAtPublish = 0;

  constructor(
    private readonly memory: DataView,
    private readonly host: KvmClockHost,
  ) {
    this.scale = timeScale(host.tscHz);
  }

  get enabled(): boolean {
    return this.timeInfo !== undefined;
  }

  /** MSR_KVM_SYSTEM_TIME(_NEW) with the enable bit: the structure at `address` is the guest's clock. */
  enable(address: number): void {
    this.timeInfo = address;
    this.version = this.memory.getUint32(address, true) & ~1;
    this.tscTimestamp = this.host.tsc();
    this.systemTime = BigInt(Math.round(this.host.nowNs()));
    this.pausedSecondsAtPublish = this.host.pausedSeconds;
    this.publish();
  }

  disable(): void {
    this.timeInfo = undefined;
  }

  /** Guest time (ns since boot) as the guest reads it now. */
  guestNowNs(): bigint {
    if (this.timeInfo === undefined) return BigInt(Math.round(this.host.nowNs()));
    return this.systemTime + scaleDelta(this.host.tsc() - this.tscTimestamp, this.scale);
  }

  /** After the machine stood still (a debugger), the TSC reference moves past the pause. */
  update(): void {
    if (this.timeInfo === undefined) return;
    const paused = this.host.pausedSeconds;
    if (paused === this.pausedSecondsAtPublish) return;
    this.tscTimestamp += BigInt(Math.round((paused - this.pausedSecondsAtPublish) * this.host.tscHz));
    this.pausedSecondsAtPublish = paused;
    this.publish();
  }

  /**
   * MSR_KVM_WALL_CLOCK(_NEW): the wall-clock time at which guest time was 0, written at
   * `address` now (the guest adds its kvmclock reading to it).
   */
  writeWallClock(address: number): void {
    const bootNs = this.host.realtimeNs() - this.guestNowNs();
    const view = this.memory;
    const version = (view.getUint32(address + PvclockWallClock.version, true) | 1) >>> 0;
    view.setUint32(address + PvclockWallClock.version, version, true);
    view.setUint32(address + PvclockWallClock.sec, Number(bootNs / 1_000_000_000n), true);
    view.setUint32(address + PvclockWallClock.nsec, Number(bootNs % 1_000_000_000n), true);
    view.setUint32(address + PvclockWallClock.version, (version + 1) >>> 0, true);
  }

  /** Writes the structure under the version protocol: odd while it changes. */
  private publish(): void {
    const at = this.timeInfo;
    if (at === undefined) return;
    const view = this.memory;
    view.setUint32(at + PvclockTimeInfo.version, (this.version + 1) >>> 0, true);
    view.setBigUint64(at + PvclockTimeInfo.tscTimestamp, this.tscTimestamp, true);
    view.setBigUint64(at + PvclockTimeInfo.systemTime, this.systemTime, true);
    view.setUint32(at + PvclockTimeInfo.tscToSystemMul, this.scale.mul, true);
    view.setInt8(at + PvclockTimeInfo.tscShift, this.scale.shift);
    view.setUint8(at + PvclockTimeInfo.flags, PVCLOCK_TSC_STABLE_BIT);
    this.version = (this.version + 2) >>> 0;
    view.setUint32(at + PvclockTimeInfo.version, this.version, true);
  }
}
