// The Paused state of a run, as Firecracker's: the host asks the run loop to pause, the loop
// stops the guest at its next exit and waits there, with guest time standing still, until the
// host resumes it or ends the run. A machine's state is only ever taken while it is paused.

export type RunStatus = 'running' | 'paused' | 'ended';

export class RunEnded extends Error {}

/** How end() ended a paused run. */
export interface RunEnding {
  message: string;
  lost: boolean;
}

export class RunControl {
  private pauseRequests = 0;
  private current: RunStatus = 'running';
  private pausedWaiters: { resolve: () => void; reject: (error: Error) => void }[] = [];
  private release: (() => void) | undefined;
  private ending: RunEnding | undefined;
  private pausedSince: bigint | undefined;
  private pausedNs = 0n;
  /** Set by the run loop: asks the running vCPU to stop at its next block boundary. */
  stopGuest: (() => void) | undefined;
  /** Set by the run loop: the exits so far, by reason. */
  exitCounts: (() => Record<string, number>) | undefined;
  /** Called on every change of status (the control socket's events). */
  onStatus: ((status: RunStatus) => void) | undefined;

  get status(): RunStatus {
    return this.current;
  }

  /** Seconds the run has spent paused. */
  get pausedSeconds(): number {
    const now = this.pausedSince === undefined ? 0n : process.hrtime.bigint() - this.pausedSince;
    return Number(this.pausedNs + now) / 1e9;
  }

  /** Resolves once the run is paused (at once if it is); rejects if the run ends first. */
  pause(): Promise<void> {
    if (this.current === 'ended') return Promise.reject(new RunEnded('the guest is no longer running'));
    if (this.current === 'paused') return Promise.resolve();
    this.pauseRequests++;
    this.stopGuest?.();
    return new Promise((resolve, reject) => this.pausedWaiters.push({ resolve, reject }));
  }

  /** Lets a paused run go on. */
  resume(): void {
    this.pauseRequests = 0;
    this.release?.();
  }

  /**
   * Ends a paused run (or the next pause) with `message`: the guest goes on elsewhere, or, `lost`,
   * nowhere (its state went partly to a host that failed).
   */
  end(message: string, lost = false): void {
    this.ending = { message, lost };
    this.release?.();
  }

  // The run loop's side.

  /** Whether the loop should pause before it enters the guest again. */
  get wantsPause(): boolean {
    return this.pauseRequests > 0 && this.current === 'running';
  }

  /** Pauses the loop until resumed; returns how an end() ended it instead, if one came. */
  async holdPaused(): Promise<RunEnding | undefined> {
    this.setStatus('paused');
    this.pausedSince = process.hrtime.bigint();
    for (const waiter of this.pausedWaiters.splice(0)) waiter.resolve();
    if (this.ending === undefined) await new Promise<void>((resolve) => (this.release = resolve));
    this.release = undefined;
    this.pausedNs += process.hrtime.bigint() - this.pausedSince;
    this.pausedSince = undefined;
    if (this.ending !== undefined) return this.ending;
    this.setStatus('running');
    return undefined;
  }

  /** The run is over: pauses asked for can no longer happen. */
  runEnded(): void {
    this.setStatus('ended');
    for (const waiter of this.pausedWaiters.splice(0)) waiter.reject(new RunEnded('the guest is no longer running'));
  }

  private setStatus(status: RunStatus): void {
    if (status === this.current) return;
    this.current = status;
    this.onStatus?.(status);
  }
}
