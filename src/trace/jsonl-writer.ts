// JSON Lines (https://jsonlines.org/): one JSON object per record, one record per line, UTF-8.
// Each line validates against TRACE_JSONL_SCHEMA (jsonl-schema.ts); docs/trace-format.md
// describes the fields. Keys come in a fixed order, "type" first, so a consumer can pick lines
// by prefix (`{"type":"insn"`) without parsing them.
import type { EventRecord, InstructionRecord, TraceOutput, TraceRecord, TraceSummary, TraceWriter } from './trace-record.js';
import { bytesHex, REGISTER_ORDER } from './writer-util.js';

export interface JsonlWriterOptions {
  withMemory: boolean;
}

export class JsonlTraceWriter implements TraceWriter {
  constructor(
    private readonly out: TraceOutput,
    private readonly options: JsonlWriterOptions,
  ) {}

  write(record: TraceRecord): void {
    this.out((record.type === 'insn' ? this.instruction(record) : event(record)) + '\n');
  }

  /** JSON Lines has no trailer. */
  end(_summary: TraceSummary): void {}

  private instruction(r: InstructionRecord): string {
    let line =
      `{"type":"insn","seq":${r.seq},"timeNs":${r.timeNs},"mode":"${r.mode}","cpl":${r.cpl},"cs":${r.cs},` +
      `"eip":${r.eip},"linear":${r.linear},"bytes":"${bytesHex(r.bytes)}","asm":${JSON.stringify(r.asm)},` +
      `"mnemonic":${JSON.stringify(r.mnemonic)}`;
    if (r.symbol !== undefined) line += `,"symbol":${JSON.stringify(r.symbol)}`;
    line += ',"regs":{';
    let first = true;
    for (const name of REGISTER_ORDER) {
      const value = r.regs[name];
      if (value === undefined) continue;
      line += `${first ? '' : ','}"${name}":${value}`;
      first = false;
    }
    line += '}';
    if (this.options.withMemory && r.mem) {
      line += ',"mem":[';
      r.mem.forEach((a, i) => {
        // JSON numbers are exact only to 2^53, so 8-byte values (bigint) are decimal strings.
        const value = typeof a.value === 'bigint' ? `"${a.value.toString()}"` : String(a.value);
        line += `${i > 0 ? ',' : ''}{"kind":"${a.kind}","address":${a.address},"size":${a.size},"value":${value}}`;
      });
      line += ']';
    }
    return line + '}';
  }
}

function event(e: EventRecord): string {
  const head = `{"type":"${e.type}","seq":${e.seq},"timeNs":${e.timeNs}`;
  switch (e.type) {
    case 'io':
      return `${head},"direction":"${e.direction}","port":${e.port},"size":${e.size},"value":${e.value}}`;
    case 'mmio':
      return `${head},"direction":"${e.direction}","address":${e.address},"size":${e.size},"value":${e.value}}`;
    case 'interrupt': {
      let line = `${head},"vector":${e.vector},"source":"${e.source}"`;
      if (e.errorCode !== undefined) line += `,"errorCode":${e.errorCode}`;
      if (e.cr2 !== undefined) line += `,"cr2":${e.cr2}`;
      return line + '}';
    }
    case 'page-fault':
      return `${head},"address":${e.address},"errorCode":${e.errorCode},"handling":"${e.handling}"}`;
    case 'control':
      return `${head},"register":"${e.register}","previous":${e.previous},"value":${e.value}${e.mode ? `,"mode":"${e.mode}"` : ''}}`;
    case 'exit':
      return `${head},"durationNs":${e.durationNs},"reason":${JSON.stringify(e.reason)}}`;
    case 'translate':
      return `${head},"start":${e.start},"end":${e.end},"cacheBytes":${e.cacheBytes},"rewritten":${e.rewritten}}`;
    case 'vmm-call':
      return `${head},"kind":"${e.kind}","address":${e.address}}`;
  }
}
