// Events instead of EFLAGS.IF: pending flags and masks in the shared-info page, as the kernel reads
// and writes them, and the one-shot timer.
import { describe, expect, it } from 'vitest';
import { EventPort, SharedInfo } from '../../../src/engines/paravirt/abi.js';
import { EventChannel } from '../../../src/engines/paravirt/event-channel.js';

function channel() {
  const ram = new Uint8Array(64 * 1024);
  let now = 1_000_000;
  const events = new EventChannel(ram, () => now);
  const page = 0x4000;
  const view = new DataView(ram.buffer);
  return { ram, events, page, view, advance: (ns: number) => (now += ns) };
}

describe('EventChannel', () => {
  it('registers only a page of guest RAM, zeroed, with the system time written', () => {
    const c = channel();
    c.ram.fill(0xff, c.page, c.page + 4096);
    expect(c.events.register(c.page + 8)).toBe(false);
    expect(c.events.register(64 * 1024)).toBe(false);
    expect(c.events.register(c.page)).toBe(true);
    expect(c.ram[c.page + SharedInfo.upcallMask]).toBe(0);
    expect(c.view.getBigUint64(c.page + SharedInfo.systemTimeNs, true)).toBe(1_000_000n);
    expect(c.events.faultAddressSlot).toBe(c.page + SharedInfo.faultAddress);
  });

  it('raises an upcall for an unmasked port; the mask byte holds it back until cleared', () => {
    const c = channel();
    c.events.register(c.page);
    c.ram[c.page + SharedInfo.upcallMask] = 1;
    c.events.raise(EventPort.timer);
    expect(c.view.getUint32(c.page + SharedInfo.pendingPorts, true)).toBe(1);
    expect(c.ram[c.page + SharedInfo.upcallPending]).toBe(1);
    expect(c.events.deliverable).toBe(false);
    c.ram[c.page + SharedInfo.upcallMask] = 0;
    expect(c.events.deliverable).toBe(true);
    c.events.entered();
    expect(c.events.deliverable).toBe(false);
    expect(c.ram[c.page + SharedInfo.upcallMask]).toBe(1);
  });

  it('marks a masked port pending without an upcall', () => {
    const c = channel();
    c.events.register(c.page);
    c.view.setUint32(c.page + SharedInfo.maskedPorts, 1 << EventPort.timer, true);
    c.events.raise(EventPort.timer);
    expect(c.view.getUint32(c.page + SharedInfo.pendingPorts, true)).toBe(1);
    expect(c.ram[c.page + SharedInfo.upcallPending]).toBe(0);
  });

  it('fires the one-shot timer once, when due', () => {
    const c = channel();
    c.events.register(c.page);
    c.events.setTimer(1_500_000);
    expect(c.events.nanosUntilTimer()).toBe(500_000);
    c.events.raiseDue();
    expect(c.events.deliverable).toBe(false);
    c.advance(600_000);
    expect(c.events.nanosUntilTimer()).toBe(0);
    c.events.raiseDue();
    expect(c.events.deliverable).toBe(true);
    expect(c.events.nanosUntilTimer()).toBeUndefined();
    expect(c.events.raised).toBe(1);
  });

  it('runs the periodic timer, firing once for periods missed while the guest did not run', () => {
    const c = channel();
    c.events.register(c.page);
    c.events.setPeriodic(100_000);
    expect(c.events.nanosUntilTimer()).toBe(100_000);
    c.advance(100_000);
    c.events.raiseDue();
    expect(c.events.raised).toBe(1);
    expect(c.events.nanosUntilTimer()).toBe(100_000);
    c.advance(1_000_000);
    c.events.raiseDue();
    expect(c.events.raised).toBe(2);
    expect(c.events.nanosUntilTimer()).toBe(100_000);
    c.events.setPeriodic(undefined);
    expect(c.events.nanosUntilTimer()).toBeUndefined();
  });
});
