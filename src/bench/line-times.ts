// Runs a command to completion and records when each line of its standard output arrived, so
// that a guest's phases can be timed from outside by the lines it prints at their ends (the
// same clock for every engine and for QEMU, whatever the guest's own clock does).
import { spawn } from 'node:child_process';
import { trackChild } from './running-children.js';

export interface TimedLine {
  /** Seconds from the start of the command to the arrival of the line's newline. */
  seconds: number;
  text: string;
}

export interface LineTimedRun {
  lines: TimedLine[];
  stderr: string;
  /** Exit status, or null when a signal (the timeout's) ended it. */
  status: number | null;
  /** Seconds from start to exit. */
  seconds: number;
}

export function runWithLineTimes(command: string, args: readonly string[], timeoutSeconds: number): Promise<LineTimedRun> {
  return new Promise((resolve, reject) => {
    const started = process.hrtime.bigint();
    const now = () => Number(process.hrtime.bigint() - started) / 1e9;
    const child = spawn(command, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    trackChild(child);
    const lines: TimedLine[] = [];
    let partial = '';
    let stderr = '';
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutSeconds * 1000);
    child.stdout.on('data', (chunk: Buffer) => {
      const at = now();
      const parts = (partial + chunk.toString('latin1')).split('\n');
      partial = parts.pop() ?? '';
      for (const text of parts) lines.push({ seconds: at, text: text.replace(/\r$/, '') });
    });
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString('latin1')));
    child.on('error', (error) => {
      clearTimeout(timer);
      reject(new Error(`cannot run ${command}: ${error.message}`));
    });
    child.on('close', (status) => {
      clearTimeout(timer);
      if (partial !== '') lines.push({ seconds: now(), text: partial });
      resolve({ lines, stderr, status, seconds: now() });
    });
  });
}
