import { describe, expect, it } from 'vitest';
import { TenetTraceWriter } from '../../src/trace/tenet-writer.js';
import type { TraceRecord } from '../../src/trace/trace-record.js';
import { insn, Sink, SUMMARY } from './records.js';

// What Tenet's text parser accepts (tenet/trace/file.py, _process_line, with the x86 registers of
// tenet/trace/arch/x86.py): anything else fails the line.
const TENET_X86 = ['EAX', 'EBX', 'ECX', 'EDX', 'EBP', 'ESP', 'ESI', 'EDI', 'EIP'];

interface TenetLine {
  regs: Map<string, number>;
  mem: { kind: 'mr' | 'mw'; address: number; bytes: string }[];
}

function parseTenetLine(line: string): TenetLine {
  const parsed: TenetLine = { regs: new Map(), mem: [] };
  for (const item of line.split(',')) {
    const [name, value, ...rest] = item.split('=');
    expect(rest, item).toEqual([]);
    const upper = name.toUpperCase();
    if (upper === 'MR' || upper === 'MW') {
      const [address, bytes] = value.split(':');
      expect(address).toMatch(/^0x[0-9a-f]+$/);
      expect(bytes).toMatch(/^([0-9a-f]{2})+$/);
      parsed.mem.push({ kind: upper === 'MR' ? 'mr' : 'mw', address: parseInt(address, 16), bytes });
    } else {
      expect(TENET_X86, `register ${name}`).toContain(upper);
      expect(name).toBe(name.toLowerCase());
      expect(value).toMatch(/^0x[0-9a-f]+$/);
      parsed.regs.set(name, parseInt(value, 16));
    }
  }
  return parsed;
}

const FIRST_REGS = {
  eax: 7, ecx: 0x11, edx: 0x22, ebx: 0, esp: 0x2000, ebp: 0x33, esi: 0x44, edi: 0x55,
  eip: 0x1005, eflags: 0x2, cs: 8, ss: 0x10, ds: 0x10, es: 0x10, fs: 0x10, gs: 0x10, cr0: 0x11, cr2: 0, cr3: 0, cr4: 0,
};

const RECORDS: TraceRecord[] = [
  insn({ seq: 0, linear: 0x1000, bytes: [0xb8, 7, 0, 0, 0], asm: 'mov eax, 7', regs: FIRST_REGS }),
  insn({ seq: 1, linear: 0x1005, bytes: [0x50], asm: 'push eax', regs: { esp: 0x1ffc }, mem: [{ kind: 'write', address: 0x1ffc, size: 4, value: 7 }] }),
  insn({ seq: 2, linear: 0x1006, bytes: [0x5b], asm: 'pop ebx', regs: { ebx: 7, esp: 0x2000 }, mem: [{ kind: 'read', address: 0x1ffc, size: 4, value: 7 }] }),
  insn({ seq: 3, linear: 0x1007, bytes: [0xeb, 0xf7], asm: 'jmp 0x1000', regs: { eip: 0x1000 } }),
  { type: 'io', seq: 3, timeNs: 0, direction: 'out', port: 0x3f8, size: 1, value: 0x41 },
  { type: 'exit', seq: 4, timeNs: 0, durationNs: 100, reason: 'timeslice' },
  insn({ seq: 4, linear: 0x1000, bytes: [0xb8, 7, 0, 0, 0], asm: 'mov eax, 7' }),
  insn({
    seq: 5, linear: 0x1005, bytes: [0x66, 0x0f, 0xd6, 0x05, 0x00, 0x30, 0x00, 0x00], asm: 'movq qword ptr [0x3000], xmm0',
    mem: [{ kind: 'write', address: 0x3000, size: 8, value: 0x0102030405060708n }, { kind: 'write', address: 0x3008, size: 2, value: 0xbeef }],
  }),
  insn({ seq: 6, linear: 0x100d, bytes: [0xf4], asm: 'hlt', regs: { eip: 0x100e }, mem: [{ kind: 'read', address: 0x4000, size: 1, value: 1 }] }),
];

function writeTenet(withMemory: boolean): Sink {
  const sink = new Sink();
  const writer = new TenetTraceWriter(sink.write, { withMemory });
  for (const record of RECORDS) writer.write(record);
  writer.end(SUMMARY);
  return sink;
}

describe('Tenet trace writer', () => {
  it('writes one line per instruction: its address, and what the instruction before it did', () => {
    expect(writeTenet(true).lines).toEqual([
      'eax=0x7,ebx=0x0,ecx=0x11,edx=0x22,ebp=0x33,esp=0x2000,esi=0x44,edi=0x55,eip=0x1000',
      'eip=0x1005',
      'esp=0x1ffc,eip=0x1006,mw=0x1ffc:07000000',
      'ebx=0x7,esp=0x2000,eip=0x1007,mr=0x1ffc:07000000',
      'eip=0x1000',
      'eip=0x1005',
      'eip=0x100d,mw=0x3000:0807060504030201,mw=0x3008:efbe',
    ]);
  });

  it('parses as Tenet parses it, the first line carrying the full register state', () => {
    const lines = writeTenet(true).lines.map(parseTenetLine);
    const first = lines[0].regs;
    expect([...first.keys()].map((n) => n.toUpperCase()).sort()).toEqual([...TENET_X86].sort());
    // Replaying the deltas gives the state before each instruction ran.
    const state = new Map<string, number>();
    const states = lines.map((line) => {
      for (const [name, value] of line.regs) state.set(name, value);
      return Object.fromEntries(state);
    });
    expect(states[2]).toMatchObject({ eip: 0x1006, esp: 0x1ffc, eax: 7, ebx: 0 });
    expect(states[3]).toMatchObject({ eip: 0x1007, esp: 0x2000, ebx: 7 });
    expect(states[6]).toMatchObject({ eip: 0x100d, eax: 7, ebx: 7, ecx: 0x11, edx: 0x22, ebp: 0x33, esp: 0x2000, esi: 0x44, edi: 0x55 });
    expect(lines.map((l) => l.regs.get('eip'))).toEqual([0x1000, 0x1005, 0x1006, 0x1007, 0x1000, 0x1005, 0x100d]);
    expect(lines[2].mem).toEqual([{ kind: 'mw', address: 0x1ffc, bytes: '07000000' }]);
    expect(lines[3].mem).toEqual([{ kind: 'mr', address: 0x1ffc, bytes: '07000000' }]);
    expect(lines[6].mem).toEqual([
      { kind: 'mw', address: 0x3000, bytes: '0807060504030201' },
      { kind: 'mw', address: 0x3008, bytes: 'efbe' },
    ]);
  });

  it('leaves memory out without --mem', () => {
    const lines = writeTenet(false).lines;
    expect(lines).toHaveLength(7);
    expect(lines.some((line) => /m[rw]=/.test(line))).toBe(false);
    expect(lines[3]).toBe('ebx=0x7,esp=0x2000,eip=0x1007');
  });

  it('writes nothing for a trace without instructions', () => {
    const sink = new Sink();
    const writer = new TenetTraceWriter(sink.write, { withMemory: true });
    writer.write({ type: 'interrupt', seq: 0, timeNs: 0, vector: 0x20, source: 'external' });
    writer.end(SUMMARY);
    expect(sink.text).toBe('');
  });
});
