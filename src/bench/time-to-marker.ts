// Starts a command and measures the wall time until a marker appears in its output.
import { spawn } from 'node:child_process';
import { trackChild } from './running-children.js';

export interface MarkerRun {
  seconds: number;
  output: string;
  stderr: string;
}

export interface MarkerOptions {
  /** End the command (SIGTERM) once the marker is seen: for a guest that never ends by itself. */
  endAtMarker?: boolean;
}

export function timeToMarker(command: string, args: string[], marker: string, timeoutSeconds: number, { endAtMarker = false }: MarkerOptions = {}): Promise<MarkerRun> {
  return new Promise((resolve, reject) => {
    const started = process.hrtime.bigint();
    const child = spawn(command, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    trackChild(child);
    let output = '';
    let stderr = '';
    let seconds: number | undefined;
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutSeconds * 1000);
    child.stdout.on('data', (chunk: Buffer) => {
      output += chunk.toString('latin1');
      if (seconds === undefined && output.includes(marker)) {
        seconds = Number(process.hrtime.bigint() - started) / 1e9;
        if (endAtMarker) child.kill('SIGTERM');
      }
    });
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString('latin1')));
    child.on('error', (error) => {
      clearTimeout(timer);
      reject(new Error(`cannot run ${command}: ${error.message}`));
    });
    child.on('close', () => {
      clearTimeout(timer);
      if (seconds === undefined) reject(new Error(`${command} never printed ${marker} (within ${timeoutSeconds} s)`));
      else resolve({ seconds, output, stderr });
    });
  });
}
