// The child processes a benchmark is waiting for (a vmm boot, QEMU), so that a signal that ends
// the benchmark ends them too instead of leaving them running with nobody to read them.
import type { ChildProcess } from 'node:child_process';

const running = new Set<ChildProcess>();

export function trackChild(child: ChildProcess): void {
  running.add(child);
  child.once('close', () => running.delete(child));
}

/** Sends SIGTERM to every child still running (vmm ends a guest run cleanly on it). */
export function endRunningChildren(): void {
  for (const child of running) child.kill('SIGTERM');
}
