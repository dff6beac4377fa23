// vmm's summary line, the one a benchmark reads its counters from: `vmm: engine=NAME time=X.XXXs
// exits=N ... stops=MECHANISM`, printed on stderr at the end of every boot.
import { BenchError } from './bench-error.js';

/** vmm's one-line boot summary (`engine=... stops=...`) in what it printed on stderr, without its `vmm: ` prefix. */
export function summaryIn(stderr: string): string | undefined {
  return stderr.split('\n').find((line) => line.startsWith('vmm: engine='))?.replace(/^vmm: /, '');
}

/**
 * The stop mechanism a vmm run used: the `stops=` field of its summary, the one that really ran
 * (exact stops asked for where they are not available run as block-hook).
 */
export function stopsIn(stderr: string): string {
  return / stops=(\S+)\s*$/.exec(summaryIn(stderr) ?? '')?.[1] ?? 'unknown';
}

/** Said by vmm when exact stops were asked for and the block hook ran instead. */
export function exactStopsFallback(stderr: string): string | undefined {
  return /exact stops are not available here \((.*)\)/.exec(stderr)?.[1];
}

/** The `key=value` pairs of the VMM's summary line (`vmm: engine=... time=X.XXXs ...`). */
export function summaryCounters(stderr: string): Record<string, number> {
  const line = stderr.split('\n').find((l) => l.startsWith('vmm: engine='));
  if (!line) throw new BenchError(`no summary line from vmm:\n${stderr.trim()}`);
  const counters: Record<string, number> = {};
  for (const [, key, value] of line.matchAll(/([a-z][a-z0-9-]*)=(\d+(?:\.\d+)?)/g)) counters[key] = Number(value);
  return counters;
}
