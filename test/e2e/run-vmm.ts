// Runs the built `vmm` command as a user would, capturing what it prints and its exit status.
import { spawn, spawnSync, type ChildProcessByStdio } from 'node:child_process';
import type { Readable } from 'node:stream';
import { existsSync } from 'node:fs';
import { join } from 'node:path';

export const ROOT = join(import.meta.dirname, '..', '..');
export const VMM = join(ROOT, 'dist', 'src', 'cli', 'vmm.js');

export interface VmmRun {
  status: number | null;
  stdout: string;
  stderr: string;
}

export function runVmm(args: string[], timeoutSeconds = 60): VmmRun {
  const result = spawnSync(process.execPath, [VMM, ...args], {
    encoding: 'utf8',
    timeout: timeoutSeconds * 1000,
    // A vmm that outlives its time is a failure to report, not something to wait for: a process
    // stuck where its SIGTERM handler cannot run would otherwise block this worker for good.
    killSignal: 'SIGKILL',
    stdio: ['ignore', 'pipe', 'pipe'],
    cwd: ROOT,
  });
  if (result.error) throw new Error(`vmm ${args.join(' ')}: ${result.error.message}; stderr so far:\n${result.stderr}`);
  return { status: result.status, stdout: result.stdout, stderr: result.stderr };
}

/**
 * runVmm for long runs (a Linux boot, a soak): the test worker keeps serving vitest while the
 * guest runs, where a synchronous wait of a minute or more makes vitest's own messages time out.
 */
export function runVmmAsync(args: string[], timeoutSeconds = 60): Promise<VmmRun> {
  const child = spawnWithDeadline(args, timeoutSeconds);
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
  child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  return new Promise((resolve, reject) => {
    child.on('error', reject);
    child.on('close', (status) => resolve({ status, stdout, stderr }));
  });
}

/**
 * Runs vmm until the guest prints `marker`, then ends the run as a user would with SIGTERM (a
 * guest that never stops by itself, like memtest86+): a busy host delays the marker, it never
 * loses it. `times`: wait for that many occurrences. Gives up after timeoutSeconds.
 */
export function runVmmUntil(args: string[], marker: string, timeoutSeconds = 120, times = 1): Promise<VmmRun> {
  const child = spawnWithDeadline(args, timeoutSeconds);
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (chunk: Buffer) => {
    stdout += chunk.toString();
    if (stdout.split(marker).length > times) child.kill('SIGTERM');
  });
  child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  return new Promise((resolve, reject) => {
    child.on('error', reject);
    child.on('close', (status) => resolve({ status, stdout, stderr }));
  });
}

/**
 * A vmm child that gets SIGTERM (a clean end, with its summary) once its time is up, and SIGKILL
 * if it is still there 10 s later: a run never outlives its test.
 */
function spawnWithDeadline(args: string[], timeoutSeconds: number): ChildProcessByStdio<null, Readable, Readable> {
  const child = spawn(process.execPath, [VMM, ...args], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
  const term = setTimeout(() => child.kill('SIGTERM'), timeoutSeconds * 1000);
  const kill = setTimeout(() => child.kill('SIGKILL'), timeoutSeconds * 1000 + 10_000);
  child.on('exit', () => {
    clearTimeout(term);
    clearTimeout(kill);
  });
  return child;
}

export function guestPath(name: string): string {
  return join(ROOT, 'guests', 'build', name);
}

export function guestBuilt(name: string): boolean {
  return existsSync(guestPath(name));
}

/** The exits-by-reason summary line, as numbers. */
export function exitCounts(stderr: string): Record<string, number> {
  const line = stderr.split('\n').find((l) => l.startsWith('vmm: engine='));
  if (!line) throw new Error(`no summary line in:\n${stderr}`);
  const counts: Record<string, number> = {};
  for (const [, key, value] of line.matchAll(/([a-z][a-z0-9-]*)=(\d+(?:\.\d+)?)/g)) counts[key] = Number(value);
  return counts;
}
