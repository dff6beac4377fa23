// Steal time (Documentation/virt/kvm/x86/msr.rst, MSR_KVM_STEAL_TIME): the nanoseconds the vCPU
// wanted to run but the host ran something else. As KVM does (record_steal_time takes the
// vCPU task's sched_info.run_delay), it is the host scheduler's run delay of the thread that runs
// the guest, counted from the moment the guest enabled the area. Linux shows it as "steal" in
// /proc/stat and leaves it out of its processes' run time.
import { readFileSync } from 'node:fs';
import { KvmStealTime } from './kvm-abi.js';

/**
 * The calling thread's run delay in ns (/proc/thread-self/schedstat, second field: time spent
 * runnable on a run queue), or undefined where the host kernel does not keep it.
 */
export function threadRunDelayNs(): bigint | undefined {
  try {
    const fields = readFileSync('/proc/thread-self/schedstat', 'latin1').split(' ');
    return fields.length >= 2 ? BigInt(fields[1]) : undefined;
  } catch {
    return undefined;
  }
}

/** How often the area is brought up to date (the guest reads it at each of its ticks). */
const UPDATE_INTERVAL_NS = 4_000_000;

export class StealTime {
  private area: number | undefined;
  private runDelayAtEnable = 0n;
  private lastUpdateNs = -Infinity;
  private version = 0;

  constructor(
    private readonly memory: DataView,
    private readonly runDelayNs: () => bigint | undefined = threadRunDelayNs,
  ) {}

  /** Whether the host can tell (else the feature is not offered). */
  static available(runDelayNs: () => bigint | undefined = threadRunDelayNs): boolean {
    return runDelayNs() !== undefined;
  }

  get enabled(): boolean {
    return this.area !== undefined;
  }

  /** The MSR with its enable bit: the 64-byte area at `address` starts from 0. */
  enable(address: number): void {
    this.area = address;
    this.runDelayAtEnable = this.runDelayNs() ?? 0n;
    this.version = this.memory.getUint32(address + KvmStealTime.version, true) & ~1;
    this.write(0n);
  }

  disable(): void {
    this.area = undefined;
  }

  /** Called before the guest runs again, with the machine's time: at most every few ms it reads the host. */
  update(nowNs: number): void {
    if (this.area === undefined || nowNs - this.lastUpdateNs < UPDATE_INTERVAL_NS) return;
    this.lastUpdateNs = nowNs;
    const delay = this.runDelayNs();
    if (delay !== undefined) this.write(delay - this.runDelayAtEnable);
  }

  private write(steal: bigint): void {
    const at = this.area;
    if (at === undefined) return;
    const view = this.memory;
    view.setUint32(at + KvmStealTime.version, (this.version + 1) >>> 0, true);
    view.setBigUint64(at + KvmStealTime.steal, steal, true);
    view.setUint8(at + KvmStealTime.preempted, 0);
    this.version = (this.version + 2) >>> 0;
    view.setUint32(at + KvmStealTime.version, this.version, true);
  }
}
