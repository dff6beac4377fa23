import { describe, expect, it } from 'vitest';
import { DrcovTraceWriter } from '../../src/trace/drcov-writer.js';
import type { TraceModule, TraceRecord } from '../../src/trace/trace-record.js';
import { endsBasicBlock } from '../../src/trace/writer-util.js';
import { insn, Sink, SUMMARY } from './records.js';

const MODULES: TraceModule[] = [
  { id: 0, path: '/guests/build/compute.elf', base: 0x100000, end: 0x112000, entry: 0x100010 },
  { id: 1, path: '/guests/build/other.bin', base: 0x200000, end: 0x201000, entry: 0x200000 },
];

interface Drcov {
  header: string[];
  modules: { id: number; base: number; end: number; entry: number; checksum: number; timestamp: number; path: string }[];
  blocks: { start: number; size: number; modId: number }[];
}

/** Reads a drcov file the way Lighthouse's parser (reader/parsers/drcov.py) does. */
function parseDrcov(file: Buffer): Drcov {
  let at = 0;
  const line = (): string => {
    const end = file.indexOf(0x0a, at);
    expect(end).toBeGreaterThanOrEqual(0);
    const text = file.subarray(at, end).toString('utf8');
    at = end + 1;
    return text;
  };
  const header = [line(), line()];
  const table = /^Module Table: version (\d+), count (\d+)$/.exec(line());
  expect(table?.[1]).toBe('2');
  const columns = line();
  expect(columns).toBe('Columns: id, base, end, entry, checksum, timestamp, path');
  const modules = [];
  for (let i = 0; i < Number(table![2]); i++) {
    const data = line().trim().split(', ');
    expect(data).toHaveLength(7);
    modules.push({
      id: Number(data[0]), base: parseInt(data[1], 16), end: parseInt(data[2], 16), entry: parseInt(data[3], 16),
      checksum: parseInt(data[4], 16), timestamp: parseInt(data[5], 16), path: data[6],
    });
  }
  const bbs = /^BB Table: (\d+) bbs$/.exec(line());
  expect(bbs).not.toBeNull();
  const count = Number(bbs![1]);
  expect(file.length - at).toBe(count * 8);
  const blocks = [];
  for (let i = 0; i < count; i++, at += 8) {
    blocks.push({ start: file.readUInt32LE(at), size: file.readUInt16LE(at + 4), modId: file.readUInt16LE(at + 6) });
  }
  return { header, modules, blocks };
}

function run(records: TraceRecord[], modules = MODULES): Drcov {
  const sink = new Sink();
  const writer = new DrcovTraceWriter(sink.write, modules);
  for (const record of records) writer.write(record);
  expect(sink.chunks).toEqual([]); // everything waits for the count
  writer.end(SUMMARY);
  return parseDrcov(sink.bytes);
}

let seq = 0;
const at = (linear: number, bytes: number[], asm: string) => insn({ seq: seq++, linear, bytes, asm });

const CALL_AND_LOOP = [
  at(0x100010, [0x55], 'push ebp'),
  at(0x100011, [0x89, 0xe5], 'mov ebp, esp'),
  at(0x100013, [0xe8, 0x18, 0, 0, 0], 'call 0x100030'),
  at(0x100030, [0xb8, 1, 0, 0, 0], 'mov eax, 1'),
  at(0x100035, [0xc3], 'ret'),
  at(0x100018, [0x83, 0xf8, 0x01], 'cmp eax, 1'),
  at(0x10001b, [0x75, 0xf3], 'jne 0x100010'),
];

describe('drcov coverage writer', () => {
  it('writes the header and the module table as Lighthouse reads them', () => {
    const sink = new Sink();
    const writer = new DrcovTraceWriter(sink.write, MODULES);
    writer.end(SUMMARY);
    expect(sink.text).toBe(
      'DRCOV VERSION: 2\n' +
        'DRCOV FLAVOR: drcov\n' +
        'Module Table: version 2, count 2\n' +
        'Columns: id, base, end, entry, checksum, timestamp, path\n' +
        '  0, 0x00100000, 0x00112000, 0x00100010, 0x00000000, 0x00000000, /guests/build/compute.elf\n' +
        '  1, 0x00200000, 0x00201000, 0x00200000, 0x00000000, 0x00000000, /guests/build/other.bin\n' +
        'BB Table: 0 bbs\n',
    );
    const parsed = parseDrcov(sink.bytes);
    expect(parsed.header).toEqual(['DRCOV VERSION: 2', 'DRCOV FLAVOR: drcov']);
    expect(parsed.modules).toEqual(MODULES.map((m) => ({ ...m, checksum: 0, timestamp: 0 })));
  });

  it('splits blocks at control transfers and jump targets, and counts a revisited block once', () => {
    const records: TraceRecord[] = [
      ...CALL_AND_LOOP, // A, B, C
      ...CALL_AND_LOOP.map((r) => ({ ...r, seq: seq++ })), // the loop again: the same blocks
      at(0x10001d, [0x90], 'nop'),
      { type: 'exit', seq, timeNs: 0, durationNs: 10, reason: 'timeslice' }, // not a control transfer
      at(0x10001e, [0x90], 'nop'),
      at(0x10001f, [0xe9, 0xdc, 0xff, 0x3f, 0x00], 'jmp 0x500000'),
    ];
    expect(run(records).blocks).toEqual([
      { start: 0x10, size: 8, modId: 0 },
      { start: 0x30, size: 6, modId: 0 },
      { start: 0x18, size: 5, modId: 0 },
      { start: 0x1d, size: 7, modId: 0 },
    ]);
  });

  it('starts a block where execution did not fall through even without a transfer', () => {
    const blocks = run([
      at(0x100040, [0x90], 'nop'),
      at(0x100041, [0x90], 'nop'),
      at(0x100050, [0x90], 'nop'), // not 0x100042: something moved execution (an exception return, say)
      at(0x100051, [0xf3, 0xa4], 'rep movsb'), // a prefix is part of Capstone's mnemonic, not a transfer
      at(0x100053, [0xc3], 'ret'),
    ]).blocks;
    expect(blocks).toEqual([
      { start: 0x40, size: 2, modId: 0 },
      { start: 0x50, size: 4, modId: 0 },
    ]);
  });

  it('leaves out code outside every module, and splits where execution crosses a module boundary or takes an interrupt', () => {
    const blocks = run([
      at(0x500000, [0x90], 'nop'), // outside: dropped
      at(0x500001, [0xe9, 0, 0, 0, 0], 'jmp 0x111ffe'),
      at(0x111ffe, [0x90], 'nop'),
      at(0x111fff, [0x90], 'nop'),
      at(0x112000, [0x90], 'nop'), // falls through past the module's end
      at(0x112001, [0xeb, 0x00], 'jmp 0x200000'),
      at(0x200000, [0x40], 'inc eax'),
      { type: 'interrupt', seq, timeNs: 0, vector: 0x20, source: 'external' },
      at(0x200001, [0xf4], 'hlt'),
    ]).blocks;
    expect(blocks).toEqual([
      { start: 0x11ffe, size: 2, modId: 0 },
      { start: 0x0, size: 1, modId: 1 },
      { start: 0x1, size: 1, modId: 1 },
    ]);
  });

  it('splits a straight run longer than a block size can say (16 bits)', () => {
    const big: TraceModule[] = [{ id: 3, path: 'big.bin', base: 0, end: 0x20000, entry: 0 }];
    const nops = Array.from({ length: 70_000 }, (_, i) => insn({ seq: i, linear: i, bytes: [0x90], asm: 'nop' }));
    expect(run(nops, big).blocks).toEqual([
      { start: 0, size: 0xffff, modId: 3 },
      { start: 0xffff, size: 70_000 - 0xffff, modId: 3 },
    ]);
  });

  it('decides block ends by mnemonic, prefixes aside', () => {
    for (const m of ['jmp', 'je', 'jecxz', 'call', 'lcall', 'ljmp', 'ret', 'retf', 'iretd', 'int', 'int3', 'into', 'loop', 'loopne', 'sysenter', 'hlt', 'bnd jmp', 'repz ret']) {
      expect(endsBasicBlock(m), m).toBe(true);
    }
    for (const m of ['mov', 'rep movsb', 'push', 'pop', 'inc', 'in', 'insb', 'cmp', 'lea']) {
      expect(endsBasicBlock(m), m).toBe(false);
    }
  });
});
