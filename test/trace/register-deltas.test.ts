// Register deltas for a hand-checked sequence (fixtures/deltas.asm): each instruction record
// carries exactly the registers the instruction changed, with their new values.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect, it } from 'vitest';
import { ROOT, runVmm } from '../e2e/run-vmm.js';

it('records the registers each instruction changed, and the whole state on the first record', () => {
  const dir = mkdtempSync(join(tmpdir(), 'vmm-deltas-'));
  const image = join(dir, 'deltas.bin');
  execFileSync('nasm', ['-f', 'bin', '-o', image, join(ROOT, 'test/trace/fixtures/deltas.asm')]);
  const output = join(dir, 'trace.jsonl');
  const run = runVmm(['trace', image, '--format', 'flat', '--load-address', '0x100000', '--trace-format', 'jsonl',
    '--output', output, '--no-stdin', '--time-limit', '30']);
  expect(run.status).toBe(0x2a * 2 + 1);
  const insns = readFileSync(output, 'utf8').trimEnd().split('\n').map((l) => JSON.parse(l)).filter((r) => r.type === 'insn');
  const esp = insns[0].regs.esp as number;
  expect(insns[0].regs).toMatchObject({ eax: 5, ecx: 0, cs: 8, eflags: 2 });
  expect(insns.map((r) => [r.asm, r.regs])).toEqual([
    ['mov eax, 5', insns[0].regs],
    ['mov ecx, 3', { ecx: 3 }],
    ['add eax, ecx', { eax: 8 }],
    ['sub eax, 8', { eax: 0, eflags: 0x46 }],
    ['push ecx', { esp: esp - 4 }],
    ['pop edx', { edx: 3, esp }],
    ['jmp 0x100014', { eip: 0x100014 }],
    ['mov al, 0x2a', { eax: 0x2a }],
    ['out 0xf4, al', {}],
  ]);
});
