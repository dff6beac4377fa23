// The local APIC as the CPU and a guest's driver see it (SDM Vol. 3A ch. 11): registers in its
// page, the priority rules, EOI, self-IPIs through the ICR, the timer's modes and divider, and
// LINT0 passing the 8259s through.
import { beforeEach, describe, expect, it } from 'vitest';
import { ManualClock } from '../../src/devices/clock.js';
import { ApicError, ApicRegister as R, LocalApic } from '../../src/devices/local-apic.js';

const TIMER_HZ = 1_000_000_000; // one tick per nanosecond before the divider

/** A stand-in for the 8259 pair behind LINT0: one pending vector or none. */
class FakePics {
  pending: number | undefined;
  hasInterrupt(): boolean {
    return this.pending !== undefined;
  }
  acknowledge(): number {
    const v = this.pending ?? 0x27;
    this.pending = undefined;
    return v;
  }
}

describe('local APIC (xAPIC)', () => {
  let clock: ManualClock;
  let pics: FakePics;
  let apic: LocalApic;
  let requests: number;
  let levelEois: number[];
  const read = (reg: number) => apic.read(reg, 4);
  const write = (reg: number, value: number) => apic.write(reg, 4, value);
  const enable = () => write(R.SVR, 0x1ff);
  /** The vectors the CPU takes while INTR is asserted, each handler ending with an EOI. */
  const drain = () => {
    const vectors: number[] = [];
    while (apic.hasInterrupt()) {
      vectors.push(apic.acknowledge());
      write(R.EOI, 0);
    }
    return vectors;
  };

  beforeEach(() => {
    clock = new ManualClock();
    pics = new FakePics();
    requests = 0;
    levelEois = [];
    apic = new LocalApic(clock, { timerHz: TIMER_HZ, extInt: pics, onRequest: () => requests++, onLevelEoi: (v) => levelEois.push(v) });
  });

  it('resets as a BSP xAPIC left in virtual wire mode', () => {
    expect(apic.readBaseMsr()).toBe(0xfee00900n);
    expect(read(R.ID)).toBe(0);
    expect(read(R.VERSION)).toBe(0x00050014);
    expect(read(R.SVR)).toBe(0xff);
    expect(read(R.DFR)).toBe(0xffffffff);
    expect(read(R.LVT_TIMER)).toBe(0x10000);
    expect(read(R.LVT_LINT0)).toBe(0x700);
    expect(read(R.LVT_LINT1)).toBe(0x400);
    // Delivery status of the ICR reads idle: a guest polling it goes on.
    expect(read(R.ICR_LOW) & (1 << 12)).toBe(0);
  });

  it('passes the 8259s through LINT0, and stops them when LINT0 is masked', () => {
    pics.pending = 0x20;
    expect(apic.hasInterrupt()).toBe(true);
    expect(apic.acknowledge()).toBe(0x20);
    enable();
    write(R.LVT_LINT0, 0x10700);
    pics.pending = 0x21;
    expect(apic.hasInterrupt()).toBe(false);
  });

  it('delivers a self-IPI, highest vector first, with the TPR and in-service vectors holding lower classes back', () => {
    enable();
    write(R.ICR_LOW, (1 << 18) | 0x41); // shorthand self, fixed, vector 0x41
    write(R.ICR_LOW, (1 << 18) | 0x62);
    expect(read(R.IRR + 0x20) & (1 << 1)).toBeTruthy(); // vector 0x41 is IRR bit 65
    expect(apic.acknowledge()).toBe(0x62);
    expect(read(R.PPR)).toBe(0x60);
    // 0x41 is a lower class than the one in service: it waits for the EOI.
    expect(apic.hasInterrupt()).toBe(false);
    write(R.EOI, 0);
    write(R.TPR, 0x50);
    expect(apic.hasInterrupt()).toBe(false);
    write(R.TPR, 0x30);
    expect(apic.acknowledge()).toBe(0x41);
    expect(read(R.ISR + 0x20) & (1 << 1)).toBeTruthy();
    write(R.EOI, 0);
    expect(read(R.ISR + 0x20)).toBe(0);
  });

  it('sends a fixed IPI by physical and logical (flat) destination, and not to another APIC ID', () => {
    enable();
    write(R.ICR_HIGH, 0 << 24);
    write(R.ICR_LOW, 0x51);
    write(R.ICR_HIGH, 3 << 24);
    write(R.ICR_LOW, 0x52);
    write(R.LDR, 0x01000000);
    write(R.ICR_HIGH, 0x01 << 24);
    write(R.ICR_LOW, (1 << 11) | 0x53);
    write(R.ICR_HIGH, 0x02 << 24);
    write(R.ICR_LOW, (1 << 11) | 0x54);
    expect(drain()).toEqual([0x53, 0x51]);
  });

  it('refuses illegal vectors with an error, latched by an ESR write', () => {
    enable();
    write(R.ICR_LOW, (1 << 18) | 0x05);
    expect(read(R.ESR)).toBe(0);
    write(R.ESR, 0);
    expect(read(R.ESR)).toBe(ApicError.sendIllegalVector);
    write(R.ESR, 0);
    expect(read(R.ESR)).toBe(0);
  });

  it('delivers an NMI by ICR whatever the priority', () => {
    enable();
    write(R.ICR_LOW, (1 << 18) | (4 << 8));
    expect(apic.takeNmi()).toBe(true);
    expect(apic.takeNmi()).toBe(false);
  });

  it('broadcasts the EOI of a level-triggered vector', () => {
    enable();
    apic.deliver(0, 0x70, true);
    expect(read(R.TMR + 0x30)).toBe(1 << 16); // vector 0x70 is bit 16 of the fourth word
    expect(apic.acknowledge()).toBe(0x70);
    write(R.EOI, 0);
    expect(levelEois).toEqual([0x70]);
  });

  it('is deaf while software-disabled, and masks its LVT then', () => {
    apic.deliver(0, 0x40, false);
    expect(apic.hasInterrupt()).toBe(false);
    enable();
    write(R.LVT_TIMER, 0x30);
    write(R.SVR, 0xff);
    expect(read(R.LVT_TIMER)).toBe(0x10030);
  });

  it('counts down in one-shot mode at the divided rate and interrupts once', () => {
    enable();
    write(R.TIMER_DIVIDE, 0x3); // divide by 16
    write(R.LVT_TIMER, 0x31);
    write(R.TIMER_INITIAL, 1000);
    clock.advance(16 * 400);
    expect(read(R.TIMER_CURRENT)).toBe(600);
    expect(apic.nextEventNs()).toBe(16 * 1000);
    clock.advance(16 * 600);
    apic.update();
    expect(read(R.TIMER_CURRENT)).toBe(0);
    expect(drain()).toEqual([0x31]);
    clock.advance(16 * 5000);
    apic.update();
    expect(apic.hasInterrupt()).toBe(false);
    expect(apic.nextEventNs()).toBeUndefined();
  });

  it('reloads in periodic mode, and missed periods make one interrupt', () => {
    enable();
    write(R.TIMER_DIVIDE, 0xb); // divide by 1
    write(R.LVT_TIMER, (1 << 17) | 0x32);
    write(R.TIMER_INITIAL, 100);
    for (let period = 1; period <= 3; period++) {
      clock.set(period * 100);
      apic.update();
      expect(drain()).toEqual([0x32]);
    }
    clock.set(350);
    expect(read(R.TIMER_CURRENT)).toBe(50);
    clock.set(1000);
    apic.update();
    expect(drain()).toEqual([0x32]);
    expect(apic.nextEventNs()).toBe(1100);
  });

  it('counts with its entry masked but does not interrupt; writing 0 stops it', () => {
    enable();
    write(R.TIMER_DIVIDE, 0xb);
    write(R.LVT_TIMER, 0x10033);
    write(R.TIMER_INITIAL, 10);
    expect(apic.timerMayInterrupt).toBe(false);
    clock.advance(20);
    apic.update();
    expect(apic.hasInterrupt()).toBe(false);
    write(R.TIMER_INITIAL, 0);
    expect(apic.nextEventNs()).toBeUndefined();
  });

  it('turns off through IA32_APIC_BASE: the page floats and the 8259s reach the CPU directly', () => {
    enable();
    write(R.LVT_LINT0, 0x10700);
    apic.writeBaseMsr(0xfee00000n);
    expect(apic.globallyEnabled).toBe(false);
    expect(read(R.VERSION)).toBe(0xffffffff);
    pics.pending = 0x20;
    expect(apic.hasInterrupt()).toBe(true);
    apic.writeBaseMsr(0xfee00800n);
    expect(read(R.SVR) & 0x100).toBe(0);
  });

  it('ignores writes narrower than a register, and reads the bytes of one', () => {
    write(R.TPR, 0x20);
    apic.write(R.TPR, 1, 0x70);
    expect(read(R.TPR)).toBe(0x20);
    expect(apic.read(R.VERSION + 2, 1)).toBe(5);
  });

  it('saves and restores its state', () => {
    enable();
    write(R.ICR_LOW, (1 << 18) | 0x44);
    write(R.TIMER_INITIAL, 500);
    const copy = new LocalApic(clock, { timerHz: TIMER_HZ, extInt: pics, onRequest: () => {} });
    copy.restore(apic.snapshot());
    expect(copy.snapshot()).toEqual(apic.snapshot());
    expect(copy.acknowledge()).toBe(0x44);
  });

  describe("KVM's paravirtual EOI flag", () => {
    let flag: { on: boolean; isSet(): boolean; set(on: boolean): void };
    beforeEach(() => {
      flag = { on: false, isSet: () => flag.on, set: (on) => (flag.on = on) };
      enable();
      apic.attachPvEoi(flag);
    });
    const inService = (vector: number) => (read(R.ISR + (vector >>> 5) * 0x10) >>> (vector & 31)) & 1;

    it('is set for an edge-triggered interrupt alone in service; clearing it ends the interrupt', () => {
      apic.deliver(0, 0x40, false);
      expect(apic.acknowledge()).toBe(0x40);
      expect(flag.on).toBe(true);
      // The same vector again waits while 0x40 is in service (same priority class) ...
      apic.deliver(0, 0x40, false);
      expect(flag.on).toBe(false); // a new request: the EOI must be written after all
      expect(apic.hasInterrupt()).toBe(false);
      write(R.EOI, 0);
      expect(apic.hasInterrupt()).toBe(true);
      expect(apic.acknowledge()).toBe(0x40);
      expect(flag.on).toBe(true);
      // ... and the guest's clearing the flag is its EOI, noticed at the next question.
      flag.on = false;
      expect(inService(0x40)).toBe(0);
      expect(apic.pvEois).toBe(1);
    });

    it('is not set for a level-triggered vector, nor with another vector waiting', () => {
      apic.deliver(0, 0x70, true);
      expect(apic.acknowledge()).toBe(0x70);
      expect(flag.on).toBe(false);
      write(R.EOI, 0);
      expect(levelEois).toEqual([0x70]);
      apic.deliver(0, 0x50, false);
      apic.deliver(0, 0x40, false);
      expect(apic.acknowledge()).toBe(0x50);
      expect(flag.on).toBe(false); // 0x40 waits for this EOI
    });

    it('an EOI the guest writes while the flag is set takes the flag back: one EOI, not two', () => {
      apic.deliver(0, 0x40, false);
      apic.acknowledge();
      apic.deliver(0, 0x90, false);
      expect(flag.on).toBe(false);
      apic.acknowledge(); // 0x90 nested on 0x40
      expect(flag.on).toBe(false); // two in service
      write(R.EOI, 0); // ends 0x90
      expect(inService(0x40)).toBe(1);
      write(R.EOI, 0);
      expect(inService(0x40)).toBe(0);
      expect(apic.pvEois).toBe(0);
    });

    it('turned off, the flag is left alone', () => {
      apic.attachPvEoi(undefined);
      apic.deliver(0, 0x40, false);
      apic.acknowledge();
      expect(flag.on).toBe(false);
    });
  });

  describe('TSC-deadline mode', () => {
    let tsc: bigint;
    beforeEach(() => {
      tsc = 1_000_000n;
      // A 1 GHz TSC: one tick per nanosecond of the manual clock.
      apic = new LocalApic(clock, { timerHz: TIMER_HZ, extInt: pics, onRequest: () => requests++, tsc: { tsc: () => tsc, hz: 1e9 } });
      enable();
      write(R.LVT_TIMER, (2 << 17) | 0x40);
    });
    const advance = (ns: number) => {
      clock.advance(ns);
      tsc += BigInt(ns);
      apic.update();
    };

    it('fires when the TSC reaches IA32_TSC_DEADLINE, which then reads 0', () => {
      expect(apic.offersTscDeadline).toBe(true);
      apic.writeDeadlineMsr(tsc + 5000n);
      expect(apic.readDeadlineMsr()).toBe(1_005_000n);
      expect(apic.nextEventNs()).toBe(5000);
      advance(4999);
      expect(apic.hasInterrupt()).toBe(false);
      advance(1);
      expect(apic.acknowledge()).toBe(0x40);
      expect(apic.readDeadlineMsr()).toBe(0n);
      expect(apic.nextEventNs()).toBeUndefined();
    });

    it('a deadline already past fires at once; 0 disarms; the initial count is ignored', () => {
      apic.writeDeadlineMsr(1n);
      apic.update();
      expect(apic.acknowledge()).toBe(0x40);
      write(R.EOI, 0);
      write(R.TIMER_INITIAL, 100);
      expect(read(R.TIMER_CURRENT)).toBe(0);
      apic.writeDeadlineMsr(tsc + 10n);
      apic.writeDeadlineMsr(0n);
      advance(100);
      expect(apic.hasInterrupt()).toBe(false);
    });

    it('leaving the mode disarms the timer, and the MSR is ignored outside it', () => {
      apic.writeDeadlineMsr(tsc + 10n);
      write(R.LVT_TIMER, 0x40); // one-shot
      expect(apic.readDeadlineMsr()).toBe(0n);
      advance(100);
      expect(apic.hasInterrupt()).toBe(false);
      apic.writeDeadlineMsr(tsc + 10n);
      advance(100);
      expect(apic.hasInterrupt()).toBe(false);
    });

    it('is a reserved mode on an APIC without a TSC source: the entry keeps one-shot mode', () => {
      apic = new LocalApic(clock, { timerHz: TIMER_HZ, extInt: pics, onRequest: () => requests++ });
      enable();
      write(R.LVT_TIMER, (2 << 17) | 0x40);
      expect(apic.offersTscDeadline).toBe(false);
      expect(read(R.LVT_TIMER)).toBe(0x40);
    });
  });
});
