// CPUID against what the CPU really executes, under every registered engine: the cpufeatures
// guest runs one or more instructions of each family its CPUID reports (x87 to SSE3, paging
// modes, MSRs, ...) and names any that faults or computes a wrong result. A bit set for a
// family the emulated CPU cannot run (SSSE3 once was: a C library that saw it used PSHUFB and
// the guest stopped) fails here with the instruction named.
import { describe, expect, it } from 'vitest';
import { unmodifiedGuestEngines } from '../../src/engines/index.js';
import { guestPath, runVmm } from './run-vmm.js';

function boot(engine: string, ...extra: string[]) {
  return runVmm(['boot', guestPath('cpufeatures.elf'), '--engine', engine, '-m', '64', '--no-stdin', '--time-limit', '30', ...extra]);
}

/** The guest's `feature <name>: ...` lines, by family name. */
function families(stdout: string): Map<string, string> {
  const lines = new Map<string, string>();
  for (const [, name, verdict] of stdout.matchAll(/^feature (\S+): (.*)$/gm)) lines.set(name, verdict);
  return lines;
}

describe.each(unmodifiedGuestEngines)('CPU features under %s', (engine) => {
  it('every advertised family executes', () => {
    // Only the advertised families: what the guest was told must work whatever else does.
    const run = boot(engine, '-a', 'unadvertised=0');
    const lines = families(run.stdout);
    const failing = [...lines].filter(([, verdict]) => verdict.startsWith('advertised') && verdict !== 'advertised, executes');
    expect(failing.map(([name, verdict]) => `${name}: ${verdict}`)).toEqual([]);
    expect(run.stdout).toMatch(/^advertised families: [1-9]\d*, failing: 0$/m);
    // The families a 32-bit guest relies on are there and run.
    for (const name of ['fpu', 'tsc', 'cx8', 'cmov', 'pae', 'fxsr', 'sse', 'sse2']) expect(lines.get(name)).toBe('advertised, executes');
    expect(run.stderr).not.toMatch(/FAILED|invalid instruction/);
    expect(run.status).toBe(1); // exit value 0 through the debug-exit port
  });

  it('families that are not advertised are tried as well, and the run still ends cleanly', () => {
    // Trying them takes faults the guest must get back (#UD for the SSE families beyond SSE3 and
    // for SYSENTER, #GP for VME's STI at ring 3), so this run also shows the VMM delivers them.
    const run = boot(engine);
    const lines = families(run.stdout);
    expect(lines.size).toBeGreaterThanOrEqual(35);
    for (const [name, verdict] of lines) {
      if (verdict.startsWith('not advertised')) expect(verdict, name).not.toBe('not advertised, not tried');
    }
    expect(lines.get('ssse3')).toMatch(/^not advertised, /);
    expect(run.stdout).toMatch(/^advertised families: [1-9]\d*, failing: 0$/m);
    expect(run.status).toBe(1);
  });

  it('--cpu max adds RDTSCP, SMEP and SMAP; each executes as advertised', () => {
    const run = boot(engine, '--cpu', 'max', '-a', 'unadvertised=0');
    const lines = families(run.stdout);
    expect(lines.get('rdtscp')).toBe('advertised, executes');
    expect(lines.get('smep')).toBe('advertised, executes');
    expect(lines.get('smap')).toBe('advertised, executes');
    expect(run.stdout).toMatch(/^advertised families: [1-9]\d*, failing: 0$/m);
    expect(run.status).toBe(1);
  });
});
