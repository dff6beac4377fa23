// Guest time follows the host's monotonic clock, so the guest's own clock and sleeps are right.
import { performance } from 'node:perf_hooks';
import type { Clock } from '../devices/clock.js';

export class HostClock implements Clock {
  private readonly originMs = performance.now();

  nowNs(): number {
    return Math.round((performance.now() - this.originMs) * 1e6);
  }
}
