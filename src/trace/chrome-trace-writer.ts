// Chrome / Perfetto trace events, for chrome://tracing and https://ui.perfetto.dev.
// Format: "Trace Event Format" (Google, https://docs.google.com/document/d/1CvAClvFfyA5R-PhYUmn5OOQtYMH4h6I0nSsKchNAySU),
// the JSON Object Format: {"displayTimeUnit":"ns","traceEvents":[ ...events... ]}.
//
// The object is written as it goes: the opening and the metadata events with the first record,
// one event per line after that, and "]}" at end(), so memory stays bounded for any trace.
// Timestamps ("ts") and durations ("dur") are in microseconds, fractional for nanosecond guest
// times. All events are on process 1 ("vmm"), thread 1 ("vCPU 0"):
//   - an exit is a complete event ("ph":"X") named "exit: <reason>", spanning the slice that ended
//     in it: from timeNs - durationNs for durationNs;
//   - port I/O and MMIO accesses are thread-scoped instant events ("ph":"i","s":"t"),
//     "io: out 0x3f8", "mmio: write 0xfee000b0";
//   - delivered interrupts and exceptions are instant events "interrupt: <source> 0x<vector>";
//   - instructions are not events (there are far too many): a counter event ("ph":"C") named
//     "instructions" reports the number executed each time it passes a multiple of 100000, and
//     once more at the end.
// Numbers a person reads as addresses or register values are hex strings in "args".
import type { EventRecord, TraceOutput, TraceRecord, TraceSummary, TraceWriter } from './trace-record.js';
import { hex } from './writer-util.js';

export const COUNTER_INTERVAL = 100_000;
const PID = 1;
const TID = 1;

export class ChromeTraceWriter implements TraceWriter {
  private opened = false;
  private nextCounter = COUNTER_INTERVAL;
  private lastTimeNs = 0;
  private executed = 0;

  constructor(private readonly out: TraceOutput) {}

  write(record: TraceRecord): void {
    this.open();
    this.lastTimeNs = Math.max(this.lastTimeNs, record.timeNs);
    if (record.type === 'insn') {
      this.executed = record.seq + 1;
      if (this.executed >= this.nextCounter) {
        this.counter(record.timeNs, this.executed);
        this.nextCounter = (Math.floor(this.executed / COUNTER_INTERVAL) + 1) * COUNTER_INTERVAL;
      }
      return;
    }
    this.event(record);
  }

  end(summary: TraceSummary): void {
    this.open();
    const executed = Math.max(summary.instructions, this.executed);
    if (executed > 0) this.counter(this.lastTimeNs, executed);
    this.out('\n]}\n');
  }

  private open(): void {
    if (this.opened) return;
    this.opened = true;
    this.out(
      '{"displayTimeUnit":"ns","traceEvents":[\n' +
        JSON.stringify({ name: 'process_name', ph: 'M', pid: PID, tid: TID, args: { name: 'vmm' } }) +
        ',\n' +
        JSON.stringify({ name: 'thread_name', ph: 'M', pid: PID, tid: TID, args: { name: 'vCPU 0' } }),
    );
  }

  private emit(event: Record<string, unknown>): void {
    this.out(',\n' + JSON.stringify(event));
  }

  private counter(timeNs: number, executed: number): void {
    this.emit({ name: 'instructions', ph: 'C', ts: micros(timeNs), pid: PID, tid: TID, args: { executed } });
  }

  private event(e: EventRecord): void {
    const base = { pid: PID, tid: TID };
    switch (e.type) {
      case 'exit': {
        const start = Math.max(0, e.timeNs - e.durationNs);
        this.emit({
          name: `exit: ${e.reason}`, cat: 'exit', ph: 'X', ts: micros(start), dur: micros(e.timeNs - start), ...base,
          args: { reason: e.reason, seq: e.seq, durationNs: e.durationNs },
        });
        return;
      }
      case 'io':
        this.emit({
          name: `io: ${e.direction} 0x${e.port.toString(16)}`, cat: 'io', ph: 'i', s: 't', ts: micros(e.timeNs), ...base,
          args: { port: `0x${e.port.toString(16)}`, size: e.size, value: `0x${(e.value >>> 0).toString(16)}`, seq: e.seq },
        });
        return;
      case 'mmio':
        this.emit({
          name: `mmio: ${e.direction} 0x${hex(e.address)}`, cat: 'mmio', ph: 'i', s: 't', ts: micros(e.timeNs), ...base,
          args: { address: `0x${hex(e.address)}`, size: e.size, value: `0x${(e.value >>> 0).toString(16)}`, seq: e.seq },
        });
        return;
      case 'page-fault':
        this.emit({
          name: `page fault: ${e.handling}`, cat: 'mmu', ph: 'i', s: 't', ts: micros(e.timeNs), ...base,
          args: { address: `0x${hex(e.address)}`, errorCode: `0x${e.errorCode.toString(16)}`, seq: e.seq },
        });
        return;
      case 'control': {
        const args: Record<string, unknown> = { previous: `0x${hex(e.previous)}`, value: `0x${hex(e.value)}`, seq: e.seq };
        if (e.mode) args.mode = e.mode;
        this.emit({ name: `${e.register} write`, cat: 'control', ph: 'i', s: 't', ts: micros(e.timeNs), ...base, args });
        return;
      }
      case 'translate':
        this.emit({
          name: `translate 0x${hex(e.start)}`, cat: 'bt', ph: 'i', s: 't', ts: micros(e.timeNs), ...base,
          args: { start: `0x${hex(e.start)}`, end: `0x${hex(e.end)}`, cacheBytes: e.cacheBytes, rewritten: e.rewritten, seq: e.seq },
        });
        return;
      case 'vmm-call':
        this.emit({
          name: `vmm-call: ${e.kind}`, cat: 'bt', ph: 'i', s: 't', ts: micros(e.timeNs), ...base,
          args: { kind: e.kind, address: `0x${hex(e.address)}`, seq: e.seq },
        });
        return;
      case 'interrupt': {
        const args: Record<string, unknown> = { vector: e.vector, source: e.source, seq: e.seq };
        if (e.errorCode !== undefined) args.errorCode = `0x${(e.errorCode >>> 0).toString(16)}`;
        if (e.cr2 !== undefined) args.cr2 = `0x${hex(e.cr2)}`;
        this.emit({
          name: `interrupt: ${e.source} 0x${e.vector.toString(16)}`, cat: 'interrupt', ph: 'i', s: 't', ts: micros(e.timeNs), ...base,
          args,
        });
        return;
      }
    }
  }
}

/** Nanoseconds to the format's microseconds, keeping nanosecond precision. */
function micros(ns: number): number {
  return ns / 1000;
}
