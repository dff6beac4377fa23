// Events instead of interrupts (Xen's event channels, reduced to one vCPU and a few ports): the
// VMM marks a port pending in the shared-info page and, unless the port is masked, raises the
// upcall flag; the kernel holds upcalls back by writing the mask byte, with no instruction that
// traps. The VMM looks at the flags whenever it has the CPU (before each run and at every
// hypercall): that is how an unmask is noticed without a trap, as in Xen, whose guests also make
// a hypercall right after an unmask when the pending flag is already set.
import { EventPort, SharedInfo } from './abi.js';

export class EventChannel {
  /** Guest-physical address of the shared-info page (undefined until registered). */
  private page: number | undefined;
  private readonly view: DataView;
  /** The timer's next deadline (machine clock, ns). */
  private timerDeadlineNs: number | undefined;
  /** The periodic timer's period (ns), while it runs. */
  private periodNs: number | undefined;
  raised = 0;

  constructor(
    private readonly ram: Uint8Array,
    private readonly nowNs: () => number,
  ) {
    this.view = new DataView(ram.buffer, ram.byteOffset, ram.byteLength);
  }

  get sharedInfo(): number | undefined {
    return this.page;
  }

  /** Registers the shared-info page; false when it is not a page of guest RAM. */
  register(physical: number): boolean {
    if (physical % 4096 !== 0 || physical + 4096 > this.ram.byteLength) return false;
    this.page = physical;
    this.ram.fill(0, physical, physical + 4096);
    this.writeSystemTime();
    return true;
  }

  /** The one-shot timer: an event at `deadlineNs` (machine clock); undefined cancels it (and a periodic one). */
  setTimer(deadlineNs: number | undefined): void {
    this.periodNs = undefined;
    this.timerDeadlineNs = deadlineNs;
    this.raiseDue();
  }

  /** The periodic timer: an event every `periodNs` from now; undefined stops it. */
  setPeriodic(periodNs: number | undefined): void {
    this.periodNs = periodNs;
    this.timerDeadlineNs = periodNs === undefined ? undefined : this.nowNs() + periodNs;
  }

  /** ns until the timer fires (0: due), undefined when none is set. */
  nanosUntilTimer(): number | undefined {
    return this.timerDeadlineNs === undefined ? undefined : Math.max(0, this.timerDeadlineNs - this.nowNs());
  }

  /** Fires the timer if it is due. */
  raiseDue(): void {
    const now = this.nowNs();
    if (this.timerDeadlineNs !== undefined && this.timerDeadlineNs <= now) {
      // Periods missed while the guest did not run (a busy host) fire once, as Xen coalesces them.
      const next = this.periodNs === undefined ? undefined : this.timerDeadlineNs + this.periodNs;
      this.timerDeadlineNs = next === undefined ? undefined : next > now ? next : now + this.periodNs!;
      this.raise(EventPort.timer);
    }
  }

  /** Marks `port` pending; raises the upcall unless the port is masked (Xen's evtchn_set_pending). */
  raise(port: number): void {
    if (this.page === undefined) return;
    this.raised++;
    const bit = 1 << port;
    const pending = this.view.getUint32(this.page + SharedInfo.pendingPorts, true);
    this.view.setUint32(this.page + SharedInfo.pendingPorts, (pending | bit) >>> 0, true);
    if ((this.view.getUint32(this.page + SharedInfo.maskedPorts, true) & bit) === 0) this.ram[this.page + SharedInfo.upcallPending] = 1;
  }

  /** Whether an upcall is pending and not masked: the callback is to be entered now. */
  get deliverable(): boolean {
    return this.page !== undefined && this.ram[this.page + SharedInfo.upcallPending] !== 0 && this.ram[this.page + SharedInfo.upcallMask] === 0;
  }

  /** The callback is being entered: upcalls stay held back until the kernel unmasks them. */
  entered(): void {
    if (this.page === undefined) return;
    this.ram[this.page + SharedInfo.upcallPending] = 0;
    this.ram[this.page + SharedInfo.upcallMask] = 1;
  }

  /** The block hypercall: upcalls are unmasked (SCHEDOP_block's contract). */
  unmask(): void {
    if (this.page !== undefined) this.ram[this.page + SharedInfo.upcallMask] = 0;
  }

  writeSystemTime(): void {
    if (this.page === undefined) return;
    this.view.setBigUint64(this.page + SharedInfo.systemTimeNs, BigInt(Math.floor(this.nowNs())), true);
  }

  /** Where the kernel reads the address of its last page fault (its CR2). */
  get faultAddressSlot(): number | undefined {
    return this.page === undefined ? undefined : this.page + SharedInfo.faultAddress;
  }
}
