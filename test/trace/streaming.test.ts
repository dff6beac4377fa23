// Long traces stream: every record's output leaves the writer as it is written, nothing is held
// for the end (except drcov's set of distinct blocks), and the records themselves are not kept.
import { describe, expect, it } from 'vitest';
import type { InstructionRecord, TraceOutput } from '../../src/trace/trace-record.js';
import { createTraceWriter, TRACE_FORMATS, type TraceFormat } from '../../src/trace/writers.js';
import { summary } from './records.js';

const COUNT = 200_000;
const LOOP = 16; // instructions in the guest's loop: 15 one-byte incs and a 2-byte jump back

/** Counts what passes through, keeping nothing. */
class CountingSink {
  lines = 0;
  bytes = 0;
  readonly write: TraceOutput = (chunk) => {
    this.bytes += chunk.length;
    if (typeof chunk === 'string') {
      for (let i = chunk.indexOf('\n'); i >= 0; i = chunk.indexOf('\n', i + 1)) this.lines++;
    }
  };
}

function record(seq: number): InstructionRecord {
  const index = seq % LOOP;
  const last = index === LOOP - 1;
  return {
    type: 'insn',
    seq,
    timeNs: Math.floor(seq / 1000) * 1000,
    mode: 'protected',
    cpl: 0,
    cs: 8,
    eip: 0x100000 + index,
    linear: 0x100000 + index,
    bytes: last ? Uint8Array.of(0xeb, 0xf1) : Uint8Array.of(0x40),
    asm: last ? 'jmp 0x100000' : 'inc eax',
    mnemonic: last ? 'jmp' : 'inc',
    regs: last ? { eip: 0x100000 } : { eax: seq, eflags: 0x202 },
    mem: [{ kind: 'write', address: 0x200000 + 4 * index, size: 4, value: seq }],
  };
}

/** Streams COUNT instructions (and an exit every 10000) through a writer: what had come out
 *  before end(), and in all. */
function stream(format: TraceFormat): { beforeEnd: { lines: number; bytes: number }; total: CountingSink } {
  const sink = new CountingSink();
  const writer = createTraceWriter(format, sink.write, {
    modules: [{ id: 0, path: 'loop.bin', base: 0x100000, end: 0x101000, entry: 0x100000 }],
    withMemory: true,
  });
  for (let seq = 0; seq < COUNT; seq++) {
    writer.write(record(seq));
    if (seq % 10_000 === 9_999) writer.write({ type: 'exit', seq, timeNs: seq * 1000, durationNs: 10_000_000, reason: 'timeslice' });
  }
  const beforeEnd = { lines: sink.lines, bytes: sink.bytes };
  writer.end(summary(COUNT));
  return { beforeEnd, total: sink };
}

describe('streaming', () => {
  it('offers the five formats', () => {
    expect(TRACE_FORMATS).toEqual(['text', 'jsonl', 'tenet', 'drcov', 'chrome']);
  });

  it.each(['text', 'jsonl'] as const)('%s: 200000 instructions become 200000 lines as they are written', (format) => {
    const { beforeEnd, total } = stream(format);
    const exits = COUNT / 10_000;
    expect(beforeEnd.lines).toBe(COUNT + exits);
    expect(total.lines).toBe(COUNT + exits);
  });

  it('tenet: one line per instruction, events left out', () => {
    const { beforeEnd, total } = stream('tenet');
    expect(beforeEnd.lines).toBe(COUNT);
    expect(total.lines).toBe(COUNT);
  });

  it('chrome: events as they come, the array closed at the end', () => {
    const { beforeEnd, total } = stream('chrome');
    // One event per line: the opening line, two metadata events, 20 exits and 2 counters (at
    // 100000 and 200000) before end(); the final counter and the closing "]}" line after it.
    expect(beforeEnd.lines).toBe(1 + 2 + 20 + 2 - 1); // the last event's line is not ended yet
    expect(total.lines).toBe(1 + 2 + 20 + 2 + 1 + 1);
  });

  it('drcov: one block for the whole loop, written at the end', () => {
    const { beforeEnd, total } = stream('drcov');
    expect(beforeEnd.bytes).toBe(0);
    expect(total.lines).toBe(6); // four header lines, one module, the BB table line
    const header = 'DRCOV VERSION: 2\nDRCOV FLAVOR: drcov\nModule Table: version 2, count 1\nColumns: id, base, end, entry, checksum, timestamp, path\n' +
      '  0, 0x00100000, 0x00101000, 0x00100000, 0x00000000, 0x00000000, loop.bin\nBB Table: 1 bbs\n';
    expect(total.bytes).toBe(header.length + 8);
  });
});
