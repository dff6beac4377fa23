// `vmm trace` as a user runs it: every format parses back; bad input is one clear line.
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { TRACE_JSONL_SCHEMA } from '../../src/trace/jsonl-schema.js';
import { guestPath, runVmm } from '../e2e/run-vmm.js';
import { validate } from './json-schema-subset.js';

const dir = mkdtempSync(join(tmpdir(), 'vmm-trace-'));

function trace(format: string, ...extra: string[]) {
  const output = join(dir, `trace.${format}`);
  const run = runVmm(['trace', guestPath('multiboot.elf'), '-a', 'exit=3', '--trace-format', format, '--output', output,
    '--no-stdin', '--time-limit', '30', ...extra]);
  return { run, output };
}

describe('vmm trace', () => {
  it('text: one line per instruction with symbols, register deltas and I/O events in line', () => {
    const { run, output } = trace('text', '--count', '300');
    expect(run.status).toBe(0);
    expect(run.stderr).toMatch(/trace complete: 300 instructions recorded/);
    expect(run.stderr).toMatch(/vmm: trace: \d+ instructions executed, 300 recorded/);
    expect(run.stderr).toMatch(/hottest basic blocks/);
    const lines = readFileSync(output, 'utf8').trimEnd().split('\n');
    expect(lines.filter((l) => l.startsWith('#'))).toHaveLength(300);
    // (The first record is the first instruction's, unless a time slice ended before it ran: on a
    // busy host the PIT's first tick can be due by the time the guest starts.)
    expect(lines.find((l) => l.startsWith('#'))).toMatch(/^#00000000 +pm cpl0 +0008:00100010 00100010 +bc 00 50 10 00 +mov esp, 0x105000 +_start +; .*esp=00105000/);
    expect(lines.some((l) => /call 0x[0-9a-f]+ .*kmain|; .*eip=/.test(l))).toBe(true);
    expect(lines.some((l) => l.startsWith('-- io out port 0x3f'))).toBe(true);
  });

  it('ends with the instruction that ended the run: nothing after the debug-exit OUT is recorded or run', () => {
    const { run, output } = trace('text');
    expect(run.status).toBe(7);
    const lines = readFileSync(output, 'utf8').trimEnd().split('\n');
    expect(lines.slice(-3)[0]).toMatch(/out 0xf4, al +guest_exit\+0x5$/);
    expect(lines.slice(-2)[0]).toBe('-- io out port 0xf4 size 1 value 0x3');
    expect(lines.slice(-1)[0]).toMatch(/^-- exit stop /);
    const recorded = lines.filter((l) => l.startsWith('#')).length;
    expect(run.stderr).toContain(`vmm: trace: ${recorded} instructions executed, ${recorded} recorded`);
  });

  it('reports CR writes and mode switches in line', () => {
    const output = join(dir, 'protected.txt');
    const run = runVmm(['trace', guestPath('protected.bin'), '--output', output, '--no-stdin', '--time-limit', '30']);
    expect(run.status).toBe(1); // the guest's debug exit with value 0
    const events = readFileSync(output, 'utf8').split('\n').filter((l) => /^-- cr[034] /.test(l));
    expect(events).toEqual([
      '-- cr0 0x00000010 -> 0x00000011 (mode protected)',
      '-- cr3 0x00000000 -> 0x00010000',
      '-- cr0 0x00000011 -> 0x80000011 (mode paging)',
    ]);
  });

  it('trap engine: hidden page faults in line, the faulting instruction recorded again when it reruns', () => {
    const output = join(dir, 'paging.jsonl');
    const run = runVmm(['trace', guestPath('paging.elf'), '-e', 'trap', '-m', '64', '--trace-format', 'jsonl', '--count', '3000',
      '--output', output, '--no-stdin', '--time-limit', '30']);
    expect(run.status).toBe(0);
    const records = readFileSync(output, 'utf8').trimEnd().split('\n').map((l) => JSON.parse(l));
    for (const r of records) expect(validate(TRACE_JSONL_SCHEMA, r), JSON.stringify(r)).toEqual([]);
    // The first instruction is the VMM's world-switch IRET in the hole: no guest symbol there.
    // (On a busy host a time slice can end before it runs: an exit record may come first.)
    const first = records.find((r) => r.type === 'insn');
    expect(first).toMatchObject({ type: 'insn', linear: 0xffc12000, asm: 'iretd' });
    expect(first.symbol).toBeUndefined();
    expect(records.slice(0, records.indexOf(first)).every((r) => r.type === 'exit')).toBe(true);
    const faults = records.filter((r) => r.type === 'page-fault');
    expect(faults.length).toBeGreaterThan(3);
    // The first instruction fetch from the kernel faults (no shadow yet), hidden from the guest.
    expect(faults[0]).toMatchObject({ address: 0x100010, errorCode: 0, handling: 'hidden' });
    const at = records.indexOf(faults[1]);
    const before = records.slice(0, at).filter((r) => r.type === 'insn').pop();
    const after = records.slice(at).find((r) => r.type === 'insn');
    expect(after.linear).toBe(before.linear);
    expect(records.some((r) => r.type === 'interrupt' && r.vector === 14 && r.cr2 === 0x40000000)).toBe(true);
  });

  it('bt engine: the guest\'s own instructions at guest addresses, the same as under trap, with translations and VMM calls in line', () => {
    const records: Record<string, { type: string; linear?: number }[]> = {};
    for (const engine of ['trap', 'bt']) {
      const output = join(dir, `paging-${engine}.jsonl`);
      const run = runVmm(['trace', guestPath('paging.elf'), '-e', engine, '-m', '64', '--trace-format', 'jsonl', '--count', '3000',
        '--output', output, '--no-stdin', '--time-limit', '30']);
      expect(run.status).toBe(0);
      records[engine] = readFileSync(output, 'utf8').trimEnd().split('\n').map((l) => JSON.parse(l));
    }
    for (const r of records.bt) expect(validate(TRACE_JSONL_SCHEMA, r), JSON.stringify(r)).toEqual([]);
    // Never a translation-cache address: only the VMM's world-switch IRET lies in the hole.
    const inHole = records.bt.filter((r) => r.type === 'insn' && r.linear! >= 0xffc00000);
    expect(inHole).toHaveLength(1);
    expect(records.bt.filter((r) => r.type === 'translate').length).toBeGreaterThan(10);
    expect(records.bt.some((r) => r.type === 'vmm-call')).toBe(true);
    // The same guest instructions as under trap (an instruction a hidden fault restarts counted once).
    // Hidden faults differ (under bt no fetch fills the shadow of a kernel page the kernel also
    // reads data from), and each restart takes one of the --count records: the runs are compared
    // as far as both go.
    const executed = (list: { type: string; linear?: number }[]) =>
      list.filter((r) => r.type === 'insn').map((r) => r.linear).filter((x, i, a) => i === 0 || x !== a[i - 1]);
    const [bt, trap] = [executed(records.bt), executed(records.trap)];
    const common = Math.min(bt.length, trap.length);
    expect(common).toBeGreaterThan(2900);
    expect(bt.slice(0, common)).toEqual(trap.slice(0, common));
  });

  it('jsonl: every line is a JSON object with the documented fields', () => {
    const { run, output } = trace('jsonl', '--count', '200', '--mem');
    expect(run.status).toBe(0);
    const records = readFileSync(output, 'utf8').trimEnd().split('\n').map((l) => JSON.parse(l));
    const insns = records.filter((r) => r.type === 'insn');
    expect(insns).toHaveLength(200);
    for (const r of insns) {
      expect(typeof r.seq).toBe('number');
      expect(['real', 'protected', 'paging']).toContain(r.mode);
      expect(r.bytes).toMatch(/^([0-9a-f]{2})+$/);
      expect(typeof r.asm).toBe('string');
    }
    expect(insns.some((r) => r.mem?.some((m: { kind: string }) => m.kind === 'write'))).toBe(true); // pushes
  });

  it('tenet: eip on every line, memory accesses with --mem', () => {
    const { run, output } = trace('tenet', '--count', '100', '--mem');
    expect(run.status).toBe(0);
    const lines = readFileSync(output, 'utf8').trimEnd().split('\n');
    expect(lines).toHaveLength(100);
    for (const line of lines) expect(line).toMatch(/(^|,)eip=0x[0-9a-f]+/);
    expect(lines.some((l) => /mw=0x[0-9a-f]+:[0-9a-f]+/.test(l))).toBe(true);
  });

  it('drcov: the header and module table Lighthouse reads, then the basic blocks', () => {
    const { run, output } = trace('drcov');
    expect(run.status).toBe(7);
    const bytes = readFileSync(output);
    const text = bytes.toString('latin1');
    expect(text.startsWith('DRCOV VERSION: 2\nDRCOV FLAVOR: drcov\nModule Table: version 2, count 1\n')).toBe(true);
    expect(text).toContain('multiboot.elf');
    const bbs = /BB Table: (\d+) bbs\n/.exec(text)!;
    const count = Number(bbs[1]);
    expect(count).toBeGreaterThan(10);
    expect(bytes.length - (bbs.index + bbs[0].length)).toBe(count * 8);
  });

  it('chrome: trace-event JSON with VMM exits and I/O', () => {
    const { run, output } = trace('chrome');
    expect(run.status).toBe(7);
    const json = JSON.parse(readFileSync(output, 'utf8'));
    expect(Array.isArray(json.traceEvents)).toBe(true);
    for (const e of json.traceEvents) {
      expect(e).toHaveProperty('ph');
      expect(e).toHaveProperty('pid');
    }
    expect(json.traceEvents.some((e: { ph: string; dur?: number }) => e.ph === 'X' && typeof e.dur === 'number')).toBe(true);
  });

  it.each([
    [['--trace-format', 'xml'], /unknown trace format 'xml'; choose one of text, jsonl, tenet, drcov, chrome/],
    [['--range', '0x100000'], /invalid --range '0x100000': give START-END or START\+LENGTH/],
    [['--count', '0'], /invalid --count '0': give a whole number of instructions \(at least 1\)/],
  ])('bad input %j is one clear line and status 2', (args, message) => {
    const run = runVmm(['trace', guestPath('multiboot.elf'), ...args, '--no-stdin']);
    expect(run.status).toBe(2);
    expect(run.stderr.trimEnd().split('\n')).toHaveLength(1);
    expect(run.stderr).toMatch(message);
  });
});
