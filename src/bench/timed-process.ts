// Runs a command to completion and measures its wall time (asynchronously, so that a signal that
// ends the benchmark can end the command too: running-children.ts).
import { runWithLineTimes } from './line-times.js';

export interface TimedRun {
  seconds: number;
  status: number | null;
  stdout: string;
  stderr: string;
}

export async function timedRun(command: string, args: string[], timeoutSeconds: number): Promise<TimedRun> {
  const run = await runWithLineTimes(command, args, timeoutSeconds);
  const stdout = run.lines.map((line) => `${line.text}\n`).join('');
  return { seconds: run.seconds, status: run.status, stdout, stderr: run.stderr };
}
