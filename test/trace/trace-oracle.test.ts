// The external oracle: the instructions `vmm trace` records for a sample guest are the ones
// qemu-system-i386 executes (same addresses, same bytes, so the same disassembly), from the
// guest's entry on. QEMU's log is made by scripts/qemu-trace-log.sh, never edited by hand.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ROOT, runVmm } from '../e2e/run-vmm.js';
import { parseQemuExecLog } from './qemu-log.js';

const COUNT = 5000;

describe('vmm trace against QEMU', () => {
  // Known defect, kept visible: the first time a translated block with a hooked IN runs, Unicorn
  // does not call the code hook for the instructions after the IN (the second time it does), so
  // the trace misses them (here `and al, 0x20; je` after the first UART status read, at #599).
  // This test fails on that and must flip to passing once the tracer records them.
  it.fails(`records the same first ${COUNT} instructions as qemu-system-i386 executes`, () => {
    const dir = mkdtempSync(join(tmpdir(), 'vmm-oracle-'));
    const guest = 'guests/build/compute.elf';
    const append = 'iterations=1000';
    execFileSync('bash', ['scripts/qemu-trace-log.sh', guest, join(dir, 'qemu.log'), append], { cwd: ROOT });
    const qemu = parseQemuExecLog(readFileSync(join(dir, 'qemu.log'), 'utf8')).slice(0, COUNT);
    expect(qemu.length).toBe(COUNT);

    // QEMU hands the guest "path append" as its command line: give vmm the same.
    const run = runVmm(['trace', guest, '-a', `${guest} ${append}`, '--trace-format', 'jsonl', '--count', String(COUNT),
      '--output', join(dir, 'vmm.jsonl'), '--no-stdin', '--time-limit', '60']);
    expect(run.status).toBe(0);
    const vmm = readFileSync(join(dir, 'vmm.jsonl'), 'utf8')
      .split('\n')
      .filter((line) => line.startsWith('{"type":"insn"'))
      .map((line) => JSON.parse(line) as { linear: number; bytes: string; asm: string });
    expect(vmm.length).toBe(COUNT);
    for (let i = 0; i < COUNT; i++) {
      const expected = `#${i} ${qemu[i].pc.toString(16)} ${qemu[i].bytes}`;
      expect(`#${i} ${vmm[i].linear.toString(16)} ${vmm[i].bytes}`).toBe(expected);
    }
  });
});
