// KVM's paravirtual interface against its documentation (Documentation/virt/kvm/x86/cpuid.rst,
// msr.rst, hypercalls.rst): the leaves, the MSRs and the structures they fill, the hypercalls.
import { describe, expect, it } from 'vitest';
import type { PvEoiFlag } from '../../src/devices/local-apic.js';
import { scaleDelta, timeScale } from '../../src/paravirt/kvm/kvm-clock.js';
import { KvmParavirt } from '../../src/paravirt/kvm/kvm-paravirt.js';

const TSC_HZ = 2_096_025_000;

class FakeHost {
  readonly ram = new Uint8Array(1 << 20);
  nowNsValue = 5_000_000_000;
  tscValue = 1_000_000_000_000n;
  pausedSeconds = 0;
  readonly tscHz = TSC_HZ;
  runDelay: bigint | undefined = 7_000_000n;
  attached: PvEoiFlag | undefined;
  readonly localApic = { attachPvEoi: (flag: PvEoiFlag | undefined) => (this.attached = flag), pvEois: 0 };
  nowNs = () => this.nowNsValue;
  tsc = () => this.tscValue;
  realtimeNs = () => 1_800_000_000_123_456_789n;
  runDelayNs = () => this.runDelay;
  get view() {
    return new DataView(this.ram.buffer);
  }
  /** ns advanced on both clocks together, as on the host. */
  advance(ns: number) {
    this.nowNsValue += ns;
    this.tscValue += BigInt(Math.round((ns * TSC_HZ) / 1e9));
  }
}

/** What a guest computes from the time structure at `at` (pvclock_clocksource_read). */
function guestTime(host: FakeHost, at: number): bigint {
  const view = host.view;
  const delta = host.tscValue - view.getBigUint64(at + 8, true);
  return view.getBigUint64(at + 16, true) + scaleDelta(delta, { mul: view.getUint32(at + 24, true), shift: view.getInt8(at + 28) });
}

describe('kvmclock time scale', () => {
  it('turns TSC ticks into nanoseconds with a 32.32 multiplier in [2^31, 2^32)', () => {
    for (const hz of [1_000_000, 1_000_000_000, TSC_HZ, 3_999_999_000]) {
      const scale = timeScale(hz);
      expect(scale.mul).toBeGreaterThanOrEqual(2 ** 31);
      expect(scale.mul).toBeLessThan(2 ** 32);
      const second = scaleDelta(BigInt(hz) * 10n, scale);
      expect(Number(second)).toBeGreaterThan(10e9 - 10);
      expect(Number(second)).toBeLessThanOrEqual(10e9);
    }
  });
});

describe('KVM paravirtual interface', () => {
  it('answers the signature and feature leaves, and nothing else of the hypervisor range', () => {
    const kvm = new KvmParavirt(new FakeHost());
    const signature = kvm.cpuid(0x40000000)!;
    const text = [signature.ebx, signature.ecx, signature.edx].map((w) => String.fromCharCode(w & 0xff, (w >> 8) & 0xff, (w >> 16) & 0xff, w >>> 24)).join('');
    expect(text).toBe('KVMKVMKVM\0\0\0');
    expect(signature.eax).toBe(0x40000001);
    // clocksource (0), nop-io-delay (1), clocksource2 (3), steal time (5), PV EOI (6), stable bit (24)
    expect(kvm.cpuid(0x40000001)!.eax).toBe((1 << 0) | (1 << 1) | (1 << 3) | (1 << 5) | (1 << 6) | (1 << 24));
    expect(kvm.cpuid(0x40000100)).toEqual({ eax: 0, ebx: 0, ecx: 0, edx: 0 });
    expect(kvm.cpuid(0x3fffffff)).toBeUndefined();
    expect(kvm.cpuid(1)).toBeUndefined();
  });

  it('offers no steal time where the host keeps no run delays', () => {
    const host = new FakeHost();
    host.runDelay = undefined;
    const kvm = new KvmParavirt(host);
    expect(kvm.cpuid(0x40000001)!.eax & (1 << 5)).toBe(0);
    expect(kvm.writeMsr(0x4b564d03, 0x1000n | 1n)).toBe(false);
  });

  it('kvmclock: a filled-in time structure that follows the host, under the version protocol', () => {
    const host = new FakeHost();
    const kvm = new KvmParavirt(host);
    expect(kvm.writeMsr(0x4b564d01, 0x2000n | 1n)).toBe(true);
    expect(kvm.readMsr(0x4b564d01)).toBe(0x2001n);
    const view = host.view;
    expect(view.getUint32(0x2000, true) % 2).toBe(0);
    expect(view.getUint8(0x2000 + 29) & 1).toBe(1); // PVCLOCK_TSC_STABLE_BIT
    expect(guestTime(host, 0x2000)).toBe(5_000_000_000n);
    host.advance(60e9);
    const minute = Number(guestTime(host, 0x2000) - 5_000_000_000n);
    expect(Math.abs(minute - 60e9)).toBeLessThan(1000);
    // A pause (the machine's clock stands still, the TSC does not): guest time does not jump.
    const before = guestTime(host, 0x2000);
    host.tscValue += BigInt(TSC_HZ) * 3n;
    host.pausedSeconds = 3;
    const version = view.getUint32(0x2000, true);
    kvm.update(host.nowNsValue);
    expect(view.getUint32(0x2000, true)).toBe(version + 2);
    expect(Number(guestTime(host, 0x2000) - before)).toBeLessThan(1000);
  });

  it('kvmclock: the wall clock is the host\'s time at guest time 0', () => {
    const host = new FakeHost();
    const kvm = new KvmParavirt(host);
    kvm.writeMsr(0x4b564d01, 0x2000n | 1n);
    kvm.writeMsr(0x4b564d00, 0x3000n);
    const view = host.view;
    expect(view.getUint32(0x3000, true) % 2).toBe(0);
    const bootNs = BigInt(view.getUint32(0x3004, true)) * 1_000_000_000n + BigInt(view.getUint32(0x3008, true));
    expect(bootNs).toBe(1_800_000_000_123_456_789n - 5_000_000_000n);
  });

  it('steal time: the run delay since the area was enabled, at most every few milliseconds', () => {
    const host = new FakeHost();
    const kvm = new KvmParavirt(host);
    expect(kvm.writeMsr(0x4b564d03, 0x4000n | 1n)).toBe(true);
    const view = host.view;
    expect(view.getBigUint64(0x4000, true)).toBe(0n);
    host.runDelay = 7_000_000n + 2_500_000n;
    kvm.update(host.nowNsValue);
    expect(view.getBigUint64(0x4000, true)).toBe(2_500_000n);
    expect(view.getUint32(0x4008, true) % 2).toBe(0);
    host.runDelay = 7_000_000n + 9_000_000n;
    kvm.update(host.nowNsValue + 1_000_000); // too soon: unchanged
    expect(view.getBigUint64(0x4000, true)).toBe(2_500_000n);
    kvm.update(host.nowNsValue + 5_000_000);
    expect(view.getBigUint64(0x4000, true)).toBe(9_000_000n);
  });

  it('refuses structures outside RAM or misaligned, and leaves them off', () => {
    const host = new FakeHost();
    const kvm = new KvmParavirt(host);
    expect(kvm.writeMsr(0x4b564d01, BigInt(host.ram.length - 16) | 1n)).toBe(true);
    expect(kvm.writeMsr(0x4b564d03, 0x4020n | 1n)).toBe(true); // bit 5 is reserved: the area is 64-byte aligned
    expect(kvm.writeMsr(0x4b564d04, 0x5002n | 1n)).toBe(true);
    expect(host.attached).toBeUndefined();
    expect(kvm.refusedMsrWrites).toBeGreaterThanOrEqual(2);
    expect(kvm.writeMsr(0x4b564d04, 0x5000n | 1n)).toBe(true);
    expect(host.attached).toBeDefined();
    host.attached!.set(true);
    expect(host.ram[0x5000] & 1).toBe(1);
  });

  it('hypercalls: 0 for VAPIC_POLL_IRQ, -KVM_ENOSYS for the rest, -KVM_EPERM from user mode', () => {
    const kvm = new KvmParavirt(new FakeHost());
    expect(kvm.hypercall(1, false)).toBe(0);
    expect(kvm.hypercall(5, false)).toBe(-1000 >>> 0); // KICK_CPU: PV_UNHALT is not offered
    expect(kvm.hypercall(0x1234, false)).toBe(-1000 >>> 0);
    expect(kvm.hypercall(1, true)).toBe(-1 >>> 0);
    expect(kvm.counters().hypercall).toBe(4);
  });

  it('does not claim the MSRs of features it does not offer', () => {
    const kvm = new KvmParavirt(new FakeHost());
    expect(kvm.readMsr(0x4b564d02)).toBeUndefined(); // ASYNC_PF_EN
    expect(kvm.writeMsr(0x4b564d02, 1n)).toBe(false);
    expect(kvm.readMsr(0x1b)).toBeUndefined();
  });
});
