// Ticks a periodic timer owes the guest: periods that fell due while the VMM did not run (the
// host preempted it, or it waited on a post-copy page) and so reached the interrupt controller as
// one edge. Left alone, the guest would count fewer ticks than its TSC says time passed, which
// is how Linux's check that the timer works (check_timer's timer_irq_works in
// arch/x86/kernel/apic/io_apic.c: five jiffies within 40e9/HZ TSC cycles) fails on a busy host
// and moves the timer to another route, or panics. As KVM's PIT does by default (its "reinject"
// lost-tick policy, QEMU's lost_tick_policy=delay), the owed ticks are raised one at a time,
// each as soon as the CPU takes the last one, so that they arrive back to back before the guest
// reads its TSC again. Ticks the guest misses with interrupts disabled are lost as on hardware:
// the timer raises those on time, and the controller merges them.

/** At most this many ticks are owed: a host stall of minutes does not become an interrupt storm. */
export const MAX_MISSED_TICKS = 1000;

export class MissedTicks {
  private owed = 0;
  /** An edge was raised that the CPU has not taken yet: a new one merges with it. */
  private awaiting = false;

  /**
   * `edges` rising edges fell due at once: one is raised now, the others are owed, and so is the
   * one raised now if the last is still waiting (the host stopped the VMM before the CPU took it).
   */
  due(edges: number): void {
    if (edges > 1) this.owed = Math.min(MAX_MISSED_TICKS, this.owed + edges - (this.awaiting ? 0 : 1));
    this.awaiting = true;
  }

  /** The CPU took the timer's interrupt: whether to raise one owed edge now. */
  taken(): boolean {
    this.awaiting = this.owed > 0;
    if (this.owed === 0) return false;
    this.owed--;
    return true;
  }

  /** The guest programmed the timer again: what the old programming owed goes. */
  clear(): void {
    this.owed = 0;
    this.awaiting = false;
  }

  get count(): number {
    return this.owed;
  }

  /** A saved count (a snapshot saved before ticks were owed has none). */
  restore(owed: unknown): void {
    this.owed = typeof owed === 'number' ? Math.min(MAX_MISSED_TICKS, Math.max(0, Math.floor(owed))) : 0;
  }
}
