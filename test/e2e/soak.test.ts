// `vmm soak --quick`: Debian's Linux with the forks workload once per engine and the demand-paging
// guest four times per engine, two guests at a time, must end without a single failed run. A fault
// that comes once in twenty runs, or only when two guests share the host, fails here.
import { spawn } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { paravirtualEngines, unmodifiedGuestEngines } from '../../src/engines/index.js';
import { QUICK_RUNS } from '../../src/cli/soak-command.js';
import { ROOT, runVmm, runVmmAsync, VMM } from './run-vmm.js';

const QUICK_SOAK_SECONDS = 600;

function lastLine(text: string): string {
  return text.trimEnd().split('\n').at(-1) ?? '';
}

describe('vmm soak', () => {
  it(
    'the quick soak: every engine boots Linux through 300 forks and runs the paging guest (the paravirtual ones the paravirtual kernel), no run fails',
    async () => {
      const run = await runVmmAsync(['soak', '--quick', '--parallel', '2'], QUICK_SOAK_SECONDS);
      // The whole report as the message: it names each failure's run and first distinguishing line.
      expect(lastLine(run.stdout), run.stdout + run.stderr).toBe(`soak: ${QUICK_RUNS} runs, 0 failures`);
      expect(run.status).toBe(0);
      for (const engine of unmodifiedGuestEngines) {
        expect(run.stdout).toMatch(new RegExp(`^linux\\s+${engine}\\s+1\\s+0\\s`, 'm'));
        expect(run.stdout).toMatch(new RegExp(`^paging\\s+${engine}\\s+4\\s+0\\s`, 'm'));
      }
      for (const engine of paravirtualEngines) {
        expect(run.stdout).toMatch(new RegExp(`^pvkernel\\s+${engine}\\s+4\\s+0\\s`, 'm'));
      }
    },
    (QUICK_SOAK_SECONDS + 30) * 1000,
  );

  it('SIGINT ends the soak at once with the partial report', async () => {
    const child = spawn(process.execPath, [VMM, 'soak', '--guests', 'paging', '--runs', '40'], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let interruptedAt = 0;
    child.stdout.on('data', (chunk: Buffer) => {
      stdout += chunk.toString();
      // After the first finished run, so the partial report has something in it.
      if (interruptedAt === 0 && /^\[ *\d+\/40\]/m.test(stdout)) {
        interruptedAt = Date.now();
        child.kill('SIGINT');
      }
    });
    const status = await new Promise<number | null>((resolve) => child.on('close', resolve));
    expect(interruptedAt, stdout).toBeGreaterThan(0);
    // The runs in progress are ended, not waited for (a paging run takes a second or more).
    expect(Date.now() - interruptedAt).toBeLessThan(5000);
    expect(stdout).toMatch(/^soak: interrupted; \d+ of 40 planned runs not done$/m);
    expect(lastLine(stdout)).toMatch(/^soak: \d+ runs, 0 failures$/);
    expect(status).toBe(130);
  });

  it('refuses unknown engines and guests with a one-line error', () => {
    const engine = runVmm(['soak', '--engines', 'direct,warp']);
    expect(engine.stderr).toMatch(/^vmm: error: unknown engine 'warp'; choose from direct, /);
    expect(engine.status).toBe(2);
    const guest = runVmm(['soak', '--guests', 'plan9']);
    expect(guest.stderr).toMatch(/^vmm: error: unknown guest 'plan9'; choose from linux, linux-pv, paging, compute, kvmpv/);
    expect(guest.status).toBe(2);
  });
});
