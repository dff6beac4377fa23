// Guest time for devices with timers. Timers are lazy: a device derives its state from nowNs()
// when it is accessed, tells the VMM when its next interrupt edge is due (nextEventNs) and raises
// its lines for everything due when the VMM calls update(). No device keeps a host timer.

/** Guest time in nanoseconds: monotonic, starts wherever the VMM likes. */
export interface Clock {
  nowNs(): number;
}

/** A device whose interrupt lines change with time alone. */
export interface TimedDevice {
  /** Absolute guest time of the next interrupt edge, or undefined if none is scheduled. */
  nextEventNs(): number | undefined;
  /** Raise or lower the device's lines for everything due at the clock's current time. */
  update(): void;
}

/** A clock that moves only when told to: for tests and deterministic replays. */
export class ManualClock implements Clock {
  constructor(private ns = 0) {}

  nowNs(): number {
    return this.ns;
  }

  advance(ns: number): void {
    if (!(ns >= 0)) throw new RangeError(`ManualClock.advance(${ns}): time only moves forward`);
    this.ns += ns;
  }

  set(ns: number): void {
    if (!(ns >= this.ns)) throw new RangeError(`ManualClock.set(${ns}): before the current ${this.ns}`);
    this.ns = ns;
  }
}

const NS_PER_S = 1e9;

/**
 * Whole periods of a `hz` oscillator that have elapsed from `fromNs` to `toNs`. Floating point
 * multiplication and division by positive constants are monotonic, so this never steps back.
 */
export function ticksBetween(fromNs: number, toNs: number, hz: number): number {
  return Math.floor(((toNs - fromNs) * hz) / NS_PER_S);
}

/** The earliest whole nanosecond at which `tick` periods of a `hz` oscillator have elapsed. */
export function nsAtTick(fromNs: number, tick: number, hz: number): number {
  let t = fromNs + Math.ceil((tick * NS_PER_S) / hz);
  // The closed form can be one nanosecond off after rounding; settle it against ticksBetween so
  // that update() at exactly this time sees the tick as due.
  while (ticksBetween(fromNs, t, hz) < tick) t++;
  while (t > fromNs && ticksBetween(fromNs, t - 1, hz) >= tick) t--;
  return t;
}
