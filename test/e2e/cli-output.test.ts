// Outputs that go away, fill up or stop being read: `| head` ends vmm quietly with status 141
// (as SIGPIPE ends other tools), a full device is one error line naming it, and a reader that
// does not read does not keep the time limit from ending the run.
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import { closeSync, mkdtempSync, openSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { FLAT_ARGS, VmmProcess, writeGuest } from './cli-process.js';
import { guestPath, ROOT, runVmm, VMM } from './run-vmm.js';

const dir = mkdtempSync(join(tmpdir(), 'vmm-cli-output-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** Runs `vmm <args> | head -<lines>` in a shell: vmm's status, what head printed, vmm's stderr. */
function intoHead(args: string[], lines: number): { status: number; stdout: string; stderr: string } {
  const quoted = [process.execPath, VMM, ...args].map((a) => `'${a}'`).join(' ');
  const run = spawnSync('bash', ['-c', `${quoted} 2>"$ERR" | head -${lines}; exit "\${PIPESTATUS[0]}"`], {
    cwd: ROOT,
    encoding: 'utf8',
    timeout: 30_000,
    env: { ...process.env, ERR: join(dir, 'stderr.txt') },
  });
  const stderr = spawnSync('cat', [join(dir, 'stderr.txt')], { encoding: 'utf8' }).stdout;
  return { status: run.status ?? -1, stdout: run.stdout, stderr };
}

function expectOneLineError(run: { status: number | null; stderr: string }, line: string): void {
  expect(run.status).toBe(2);
  expect(run.stderr).toBe(`${line}\n`);
}

describe('a reader that goes away', () => {
  it('vmm boot | head -2: status 141, nothing on stderr', () => {
    const run = intoHead(['boot', writeGuest(dir, 'chatter'), ...FLAT_ARGS], 2);
    expect(run).toEqual({ status: 141, stdout: 'y\ny\n', stderr: '' });
  });

  it('vmm boot --serial <FIFO> whose reader leaves: status 141, nothing on stderr', () => {
    const fifo = join(dir, 'serial.fifo');
    execFileSync('mkfifo', [fifo]);
    const reader = spawn('sh', ['-c', `head -c 10 '${fifo}' > /dev/null`], { stdio: 'ignore' });
    const run = runVmm(['boot', writeGuest(dir, 'chatter'), ...FLAT_ARGS, '--serial', fifo]);
    reader.kill();
    expect(run).toEqual({ status: 141, stdout: '', stderr: '' });
  });

  it('vmm trace | head: status 141, nothing on stderr', () => {
    const run = intoHead(['trace', writeGuest(dir, 'spin'), ...FLAT_ARGS], 3);
    expect(run.status).toBe(141);
    expect(run.stdout.split('\n')).toHaveLength(4);
    expect(run.stderr).toBe('');
  });
});

describe('an output that is full', () => {
  it('vmm trace -o /dev/full', () => {
    const run = runVmm(['trace', writeGuest(dir, 'spin'), ...FLAT_ARGS, '-o', '/dev/full', '--time-limit', '10']);
    expectOneLineError(run, "vmm: error: cannot write the trace to '/dev/full': ENOSPC (no space left on device)");
  });

  it('vmm trace -o /dev/full with a trace too short to fill a buffer', () => {
    const run = runVmm(['trace', guestPath('multiboot.elf'), '--no-stdin', '-f', 'chrome', '-o', '/dev/full']);
    expectOneLineError(run, "vmm: error: cannot write the trace to '/dev/full': ENOSPC (no space left on device)");
  });

  it('vmm boot --serial /dev/full', () => {
    const run = runVmm(['boot', guestPath('multiboot.elf'), '--no-stdin', '--serial', '/dev/full']);
    expectOneLineError(run, "vmm: error: cannot write serial output to '/dev/full': ENOSPC (no space left on device)");
  });

  it('vmm boot > /dev/full', () => {
    const full = openSync('/dev/full', 'w');
    try {
      const run = spawnSync(process.execPath, [VMM, 'boot', guestPath('multiboot.elf'), '--no-stdin'], {
        cwd: ROOT,
        encoding: 'utf8',
        timeout: 30_000,
        stdio: ['ignore', full, 'pipe'],
      });
      expectOneLineError(run, 'vmm: error: cannot write standard output: ENOSPC (no space left on device)');
    } finally {
      closeSync(full);
    }
  });
});

describe('a reader that does not read', () => {
  it('--time-limit still ends the run, with status 6', async () => {
    const vmm = new VmmProcess(['boot', writeGuest(dir, 'chatter'), ...FLAT_ARGS, '--time-limit', '2'], { stdout: 'unread' }, 20_000);
    const ended = await vmm.end();
    expect(ended.status).toBe(6);
    expect(ended.elapsedMs).toBeLessThan(6000);
    expect(ended.stderr).toMatch(/^vmm: wall-clock limit of 2 s reached; guest was running at 0008:001000[0-9a-f]{2}$/m);
    expect(ended.stderr).toMatch(/^vmm: engine=direct time=2\.\d{3}s exits=\d+ /m);
    expect(ended.stderr).toMatch(/^vmm: \d+ bytes of guest output were (dropped|not written)/m);
  });
});
