// The external oracle: the instructions `vmm trace` records for a sample guest are the ones
// qemu-system-i386 executes (same addresses, same bytes, so the same disassembly), from the
// guest's entry on. QEMU's log is made by scripts/qemu-trace-log.sh, never edited by hand.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ROOT, runVmm } from '../e2e/run-vmm.js';
import { collapsePollingLoops, parseQemuExecLog, readsPort } from './qemu-log.js';

const COUNT = 5000;

describe('vmm trace against QEMU', () => {
  it(`records the same first ${COUNT} instructions as qemu-system-i386 executes`, () => {
    const dir = mkdtempSync(join(tmpdir(), 'vmm-oracle-'));
    const guest = 'guests/build/compute.elf';
    const append = 'iterations=1000';
    execFileSync('bash', ['scripts/qemu-trace-log.sh', guest, join(dir, 'qemu.log'), append], { cwd: ROOT });
    const executed = parseQemuExecLog(readFileSync(join(dir, 'qemu.log'), 'utf8'));
    expect(executed.length).toBeGreaterThanOrEqual(COUNT);

    // QEMU hands the guest "path append" as its command line, and so does vmm.
    const run = runVmm(['trace', guest, '-a', append, '--trace-format', 'jsonl', '--count', String(COUNT),
      '--output', join(dir, 'vmm.jsonl'), '--no-stdin', '--time-limit', '60']);
    expect(run.status).toBe(0);
    const recorded = readFileSync(join(dir, 'vmm.jsonl'), 'utf8')
      .split('\n')
      .filter((line) => line.startsWith('{"type":"insn"'))
      .map((line) => JSON.parse(line) as { linear: number; bytes: string; asm: string });
    expect(recorded.length).toBe(COUNT);
    // Both sides as "address bytes", with device-polling loops collapsed (their iteration count
    // is the UART's timing, not the CPU's); the shorter prefix is compared.
    const qemu = collapsePollingLoops(executed.map((q) => `${q.pc.toString(16)} ${q.bytes}`), (x) => x, (x) => readsPort(x.split(' ')[1]));
    const vmm = collapsePollingLoops(recorded.map((r) => `${r.linear.toString(16)} ${r.bytes}`), (x) => x, (x) => readsPort(x.split(' ')[1]));
    const length = Math.min(qemu.length, vmm.length);
    expect(length).toBeGreaterThan(COUNT * 0.9);
    for (let i = 0; i < length; i++) expect(`#${i} ${vmm[i]}`).toBe(`#${i} ${qemu[i]}`);
  });
});
