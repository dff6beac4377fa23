// SIGINT, SIGTERM and SIGHUP end a run cleanly: the run stops at the next time slice, the summary
// is printed, a trace is completed (valid JSON, a whole drcov file), and the status is 128 + the
// signal's number. A second signal while vmm is still stopping ends it at once.
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { FLAT_ARGS, sleep, VmmProcess, writeGuest } from './cli-process.js';

const dir = mkdtempSync(join(tmpdir(), 'vmm-cli-signals-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const STATUS = { SIGHUP: 129, SIGINT: 130, SIGTERM: 143 } as const;

function expectCleanStop(stderr: string, signal: string): void {
  expect(stderr).toMatch(new RegExp(`^vmm: stopped by ${signal}; the guest was running at 0008:0010000[0-9a-f]$`, 'm'));
  expect(stderr).toMatch(/^vmm: engine=direct time=\d+\.\d{3}s exits=\d+ .*timeslice=\d+/m);
  expect(stderr).not.toMatch(/\n\s+at |internal error/);
}

describe('signals end a boot cleanly', () => {
  for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
    it(`${signal}: summary printed, status ${STATUS[signal]}`, async () => {
      const vmm = new VmmProcess(['boot', writeGuest(dir, 'readySpin'), ...FLAT_ARGS]);
      await vmm.waitFor('R\n');
      vmm.kill(signal);
      const ended = await vmm.end();
      expect(ended.signal).toBeNull();
      expect(ended.status).toBe(STATUS[signal]);
      expectCleanStop(ended.stderr, signal);
    });
  }

  it('a second signal while vmm is stopping ends it at once, with the same status', async () => {
    // Stopped by the first SIGINT, vmm gives a reader that does not read a second to take the
    // guest's last output; the second SIGINT does not wait for that.
    const vmm = new VmmProcess(['boot', writeGuest(dir, 'chatter'), ...FLAT_ARGS], { stdout: 'stalled' });
    await vmm.waitFor('y\n');
    await sleep(500);
    vmm.kill('SIGINT');
    await sleep(150);
    const second = Date.now();
    vmm.kill('SIGINT');
    const ended = await vmm.end();
    expect(ended.status).toBe(130);
    expect(ended.stderr).toMatch(/^vmm: SIGINT while stopping: ending at once$/m);
    expect(Date.now() - second).toBeLessThan(700);
  });
});

describe('signals end a trace cleanly, with the trace complete', () => {
  it('SIGTERM: a chrome trace is valid JSON', async () => {
    const output = join(dir, 'trace.json');
    const vmm = new VmmProcess(['trace', writeGuest(dir, 'readySpin'), ...FLAT_ARGS, '-f', 'chrome', '-o', output]);
    await vmm.waitFor('R\n');
    await sleep(300);
    vmm.kill('SIGTERM');
    const ended = await vmm.end();
    expect(ended.status).toBe(143);
    expectCleanStop(ended.stderr, 'SIGTERM');
    expect(ended.stderr).toMatch(/^vmm: trace: \d+ instructions executed, \d+ recorded$/m);
    const trace = JSON.parse(readFileSync(output, 'utf8')) as { traceEvents: { name: string }[] };
    expect(trace.traceEvents.some((e) => e.name === 'instructions')).toBe(true);
  });

  it('SIGHUP: a drcov file has its header and its whole block table', async () => {
    const output = join(dir, 'trace.drcov');
    const vmm = new VmmProcess(['trace', writeGuest(dir, 'readySpin'), ...FLAT_ARGS, '-f', 'drcov', '-o', output]);
    await vmm.waitFor('R\n');
    await sleep(300);
    vmm.kill('SIGHUP');
    const ended = await vmm.end();
    expect(ended.status).toBe(129);
    expectCleanStop(ended.stderr, 'SIGHUP');
    const bytes = readFileSync(output);
    const text = bytes.toString('latin1');
    expect(text.startsWith('DRCOV VERSION: 2\nDRCOV FLAVOR: drcov\nModule Table: version 2, count 1\n')).toBe(true);
    const table = /BB Table: (\d+) bbs\n/.exec(text)!;
    const blocks = Number(table[1]);
    expect(blocks).toBeGreaterThan(0);
    expect(bytes.length - (table.index + table[0].length)).toBe(blocks * 8);
  });

  it('while the trace waits for a reader that does not read, a signal has its default action', async () => {
    // No handler can run while vmm is held in a write, so the signal ends vmm at once.
    const vmm = new VmmProcess(['trace', writeGuest(dir, 'spin'), ...FLAT_ARGS], { stdout: 'unread' });
    await sleep(2500);
    const sent = Date.now();
    vmm.kill('SIGTERM');
    const ended = await vmm.end();
    expect(ended.signal).toBe('SIGTERM');
    expect(Date.now() - sent).toBeLessThan(1000);
  });

  it('SIGINT: a text trace ends with whole lines', async () => {
    const output = join(dir, 'trace.txt');
    const vmm = new VmmProcess(['trace', writeGuest(dir, 'readySpin'), ...FLAT_ARGS, '-o', output]);
    await vmm.waitFor('R\n');
    vmm.kill('SIGINT');
    const ended = await vmm.end();
    expect(ended.status).toBe(130);
    expectCleanStop(ended.stderr, 'SIGINT');
    const text = readFileSync(output, 'utf8');
    expect(text).toMatch(/^#\d{8} .*jmp 0x100008/m);
    expect(text.endsWith('\n')).toBe(true);
  });
});
