import { describe, expect, it } from 'vitest';
import { ChromeTraceWriter } from '../../src/trace/chrome-trace-writer.js';
import { EVENTS, insn, Sink, summary } from './records.js';

interface TraceEvent {
  name: string;
  ph: string;
  ts?: number;
  dur?: number;
  pid: number;
  tid: number;
  s?: string;
  cat?: string;
  args?: Record<string, unknown>;
}

function parse(text: string): { displayTimeUnit: string; traceEvents: TraceEvent[] } {
  return JSON.parse(text) as { displayTimeUnit: string; traceEvents: TraceEvent[] };
}

describe('Chrome trace event writer', () => {
  it('writes a JSON object of trace events, incrementally, closed at the end', () => {
    const sink = new Sink();
    const writer = new ChromeTraceWriter(sink.write);
    writer.write(insn({ seq: 0, timeNs: 1000, linear: 0x1000, bytes: [0x90], asm: 'nop' }));
    expect(sink.text.startsWith('{"displayTimeUnit":"ns","traceEvents":[')).toBe(true);
    for (const event of EVENTS) writer.write(event);
    writer.write(insn({ seq: 99_999, timeNs: 3_000_000, linear: 0x1000, bytes: [0x90], asm: 'nop' }));
    writer.write(insn({ seq: 150_000, timeNs: 4_000_000, linear: 0x1000, bytes: [0x90], asm: 'nop' }));
    writer.write(insn({ seq: 250_000, timeNs: 5_000_500, linear: 0x1000, bytes: [0x90], asm: 'nop' }));
    const beforeEnd = sink.chunks.length;
    expect(() => JSON.parse(sink.text)).toThrow(); // still open
    writer.end(summary(260_000));
    expect(sink.chunks.length).toBeGreaterThan(beforeEnd);

    const trace = parse(sink.text);
    expect(trace.displayTimeUnit).toBe('ns');
    for (const event of trace.traceEvents) {
      expect(typeof event.name).toBe('string');
      expect(typeof event.ph).toBe('string');
      expect(event.pid).toBe(1);
      expect(event.tid).toBe(1);
      if (event.ph !== 'M') expect(typeof event.ts).toBe('number');
      if (event.ph === 'X') expect(typeof event.dur).toBe('number');
      if (event.ph === 'i') expect(event.s).toBe('t');
    }
    const byName = (name: string) => trace.traceEvents.filter((e) => e.name === name);
    expect(byName('process_name')).toEqual([{ name: 'process_name', ph: 'M', pid: 1, tid: 1, args: { name: 'vmm' } }]);
    expect(byName('thread_name')).toEqual([{ name: 'thread_name', ph: 'M', pid: 1, tid: 1, args: { name: 'vCPU 0' } }]);
    expect(byName('exit: timeslice')).toEqual([{
      name: 'exit: timeslice', cat: 'exit', ph: 'X', ts: 2, dur: 10_000, pid: 1, tid: 1,
      args: { reason: 'timeslice', seq: 5, durationNs: 10_000_000 },
    }]);
    expect(byName('io: out 0x3f8')).toEqual([{
      name: 'io: out 0x3f8', cat: 'io', ph: 'i', s: 't', ts: 1.5, pid: 1, tid: 1, args: { port: '0x3f8', size: 1, value: '0x48', seq: 3 },
    }]);
    expect(byName('mmio: write 0xfee000b0')[0]).toMatchObject({ ph: 'i', cat: 'mmio', args: { address: '0xfee000b0', size: 4, value: '0x0' } });
    expect(byName('interrupt: external 0x20')[0]).toMatchObject({ ph: 'i', ts: 2, args: { vector: 32, source: 'external' } });
    expect(byName('interrupt: exception 0xe')[0]).toMatchObject({ args: { vector: 14, source: 'exception', errorCode: '0x4', cr2: '0x00300000' } });
    expect(byName('cr0 write')[0]).toMatchObject({ ph: 'i', cat: 'control', args: { previous: '0x00000011', value: '0x80000011', mode: 'paging' } });
    // Instructions are not events; the counter reports them every 100000 and at the end.
    expect(byName('nop')).toEqual([]);
    expect(byName('instructions').map((e) => [e.ph, e.ts, e.args])).toEqual([
      ['C', 3000, { executed: 100_000 }],
      ['C', 5000.5, { executed: 250_001 }],
      ['C', 10_002, { executed: 260_000 }], // at the latest time seen (the exit's end)
    ]);
  });

  it('writes a valid, empty trace when nothing was recorded', () => {
    const sink = new Sink();
    new ChromeTraceWriter(sink.write).end(summary(0));
    const trace = parse(sink.text);
    expect(trace.traceEvents.map((e) => e.ph)).toEqual(['M', 'M']);
  });

  it('starts an exit no earlier than time 0', () => {
    const sink = new Sink();
    const writer = new ChromeTraceWriter(sink.write);
    writer.write({ type: 'exit', seq: 0, timeNs: 500, durationNs: 2000, reason: 'hlt' });
    writer.end(summary(0));
    expect(parse(sink.text).traceEvents[2]).toMatchObject({ name: 'exit: hlt', ph: 'X', ts: 0, dur: 0.5 });
  });
});
