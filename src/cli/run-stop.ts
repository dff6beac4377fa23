// Ending a run from the host side: a signal, the console's quit key, an output that broke. The
// first request wins and stops the guest at the end of its time slice, so the run still ends
// the usual way (trace flushed, summary printed) and vmm exits with the request's status.

/** Exit statuses of a run vmm ended itself, as a shell reports a process killed by the signal. */
export const SIGNAL_STATUS = { SIGHUP: 129, SIGINT: 130, SIGTERM: 143 } as const;
export type StopSignal = keyof typeof SIGNAL_STATUS;
/** Standard output closed by its reader (`vmm boot | head`): as if killed by SIGPIPE. */
export const BROKEN_PIPE_STATUS = 141;
/** Ctrl-A x on the interactive console: the user quit, as with Ctrl-C elsewhere. */
export const USER_QUIT_STATUS = SIGNAL_STATUS.SIGINT;

export interface StopRequest {
  status: number;
  /**
   * - `report`: say why (`message`) where the outcome line goes, then the summary as usual;
   * - `quiet`: print nothing more (a broken pipe: nobody is reading);
   * - `error`: print only `vmm: error: <message>` (an output that cannot be written).
   */
  kind: 'report' | 'quiet' | 'error';
  message: string;
}

export class RunStopper {
  private current: StopRequest | undefined;
  private stopRun: (() => void) | undefined;
  private readonly waiters: (() => void)[] = [];

  get request(): StopRequest | undefined {
    return this.current;
  }

  /** While a guest runs: how to stop it. A request made before is carried out at once. */
  attach(stopRun: () => void): void {
    this.stopRun = stopRun;
    if (this.current) stopRun();
  }

  detach(): void {
    this.stopRun = undefined;
  }

  /** Asks for the end of the run; later requests are ignored (the first cause is reported). */
  stop(request: StopRequest): void {
    if (this.current) return;
    this.current = request;
    this.stopRun?.();
    for (const wake of this.waiters.splice(0)) wake();
  }

  /** Resolves when a request is made (at once if one was): ends waits that must not outlast one. */
  requested(): Promise<void> {
    if (this.current) return Promise.resolve();
    return new Promise((resolve) => this.waiters.push(resolve));
  }
}
