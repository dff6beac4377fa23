// One soak run: a `vmm boot` child process with its own time limit, collected whole.
import { spawn } from 'node:child_process';

export interface GuestRun {
  /** The child's exit status; null when a signal ended it. */
  status: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
  seconds: number;
  /** The child outlived its own --time-limit by the grace period and was killed here. */
  killed: boolean;
  /** The soak was interrupted while the child ran: the run says nothing about the guest. */
  interrupted: boolean;
}

/**
 * A vmm child that ignores its own --time-limit (a host thread stuck in the native core) is
 * killed this long after the limit, so one bad run cannot stall the soak.
 */
export const KILL_GRACE_SECONDS = 30;

export function runGuest(command: string, args: string[], timeLimitSeconds: number, interrupt: AbortSignal): Promise<GuestRun> {
  const started = process.hrtime.bigint();
  const child = spawn(command, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  const stdout: Buffer[] = [];
  const stderr: Buffer[] = [];
  child.stdout.on('data', (chunk: Buffer) => stdout.push(chunk));
  child.stderr.on('data', (chunk: Buffer) => stderr.push(chunk));
  let killed = false;
  let interrupted = interrupt.aborted;
  const timer = setTimeout(() => {
    killed = true;
    child.kill('SIGKILL');
  }, (timeLimitSeconds + KILL_GRACE_SECONDS) * 1000);
  const onInterrupt = () => {
    interrupted = true;
    // A terminal's Ctrl-C reaches the child too; a SIGINT sent to the soak alone does not.
    child.kill('SIGTERM');
  };
  interrupt.addEventListener('abort', onInterrupt, { once: true });
  if (interrupted) child.kill('SIGTERM');
  return new Promise((resolve, reject) => {
    child.on('error', (error) => {
      clearTimeout(timer);
      interrupt.removeEventListener('abort', onInterrupt);
      reject(new Error(`cannot run ${command}: ${error.message}`));
    });
    // 'close', not 'exit': the output pipes are drained by then.
    child.on('close', (status, signal) => {
      clearTimeout(timer);
      interrupt.removeEventListener('abort', onInterrupt);
      resolve({
        status,
        signal,
        stdout: Buffer.concat(stdout).toString('utf8'),
        stderr: Buffer.concat(stderr).toString('utf8'),
        seconds: Number(process.hrtime.bigint() - started) / 1e9,
        killed,
        interrupted,
      });
    });
  });
}
