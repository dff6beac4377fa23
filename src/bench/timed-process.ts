// Runs a command to completion and measures its wall time.
import { spawnSync } from 'node:child_process';

export interface TimedRun {
  seconds: number;
  status: number | null;
  stdout: string;
  stderr: string;
}

export function timedRun(command: string, args: string[], timeoutSeconds: number): TimedRun {
  const started = process.hrtime.bigint();
  const result = spawnSync(command, args, { encoding: 'utf8', timeout: timeoutSeconds * 1000, stdio: ['ignore', 'pipe', 'pipe'] });
  const seconds = Number(process.hrtime.bigint() - started) / 1e9;
  if (result.error) throw new Error(`cannot run ${command}: ${result.error.message}`);
  return { seconds, status: result.status, stdout: result.stdout, stderr: result.stderr };
}
