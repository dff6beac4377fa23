// Guest time follows the host's monotonic clock, so the guest's own clock and sleeps are right.
// It stands still while the machine is paused (stopped in a debugger): time there is not guest
// time, and a guest resumed after a minute must not see a minute of timer ticks at once.
import { performance } from 'node:perf_hooks';
import type { Clock } from '../devices/clock.js';

export class HostClock implements Clock {
  private originMs = performance.now();
  private pausedMs = 0;
  private pausedAtMs: number | undefined;

  nowNs(): number {
    const now = this.pausedAtMs ?? performance.now();
    return Math.round((now - this.originMs - this.pausedMs) * 1e6);
  }

  /** Seconds the clock has stood still, up to now. */
  get pausedSeconds(): number {
    const current = this.pausedAtMs === undefined ? 0 : performance.now() - this.pausedAtMs;
    return (this.pausedMs + current) / 1000;
  }

  /** Guest time goes on from `ns` (a restored machine's clock continues its saved one). */
  continueFrom(ns: number): void {
    this.pausedMs = 0;
    this.pausedAtMs = undefined;
    this.originMs = performance.now() - ns / 1e6;
  }

  pause(): void {
    this.pausedAtMs ??= performance.now();
  }

  resume(): void {
    if (this.pausedAtMs === undefined) return;
    this.pausedMs += performance.now() - this.pausedAtMs;
    this.pausedAtMs = undefined;
  }
}
