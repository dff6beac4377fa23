import { describe, expect, it } from 'vitest';
import { TRACE_JSONL_SCHEMA } from '../../src/trace/jsonl-schema.js';
import { JsonlTraceWriter } from '../../src/trace/jsonl-writer.js';
import { validate } from './json-schema-subset.js';
import { EVENTS, insn, Sink, SUMMARY } from './records.js';

function writeSample(withMemory: boolean): Sink {
  const sink = new Sink();
  const writer = new JsonlTraceWriter(sink.write, { withMemory });
  writer.write(insn({
    seq: 42, timeNs: 1000, linear: 0x100010, bytes: [0x89, 0xd8], asm: 'mov eax, ebx', symbol: 'kmain+0x10',
    regs: { eflags: 0x246, eax: 7 }, mem: [{ kind: 'read', address: 0x100200, size: 4, value: 42 }],
  }));
  writer.write(insn({
    seq: 43, timeNs: 1000, linear: 0x10001c, bytes: [0xf3, 0x0f, 0x7e, 0x05, 0x00, 0x02, 0x10, 0x00], asm: 'movq xmm0, qword ptr [0x100200]',
    mem: [{ kind: 'read', address: 0x100200, size: 8, value: 0xffffffffffffffffn }],
  }));
  writer.write(insn({ seq: 44, timeNs: 1000, linear: 0x7c05, mode: 'real', cs: 0x7c0, eip: 5, bytes: [0xeb, 0xfe], asm: 'jmp "quoted\\name"', regs: { eip: 5 } }));
  for (const event of EVENTS) writer.write(event);
  writer.end(SUMMARY);
  return sink;
}

describe('JSON Lines trace writer', () => {
  it('writes one object per record, keys in a fixed order, absent optional fields omitted', () => {
    expect(writeSample(true).lines).toEqual([
      '{"type":"insn","seq":42,"timeNs":1000,"mode":"protected","cpl":0,"cs":8,"eip":1048592,"linear":1048592,"bytes":"89d8",' +
        '"asm":"mov eax, ebx","mnemonic":"mov","symbol":"kmain+0x10","regs":{"eax":7,"eflags":582},' +
        '"mem":[{"kind":"read","address":1049088,"size":4,"value":42}]}',
      '{"type":"insn","seq":43,"timeNs":1000,"mode":"protected","cpl":0,"cs":8,"eip":1048604,"linear":1048604,"bytes":"f30f7e0500021000",' +
        '"asm":"movq xmm0, qword ptr [0x100200]","mnemonic":"movq","regs":{},' +
        '"mem":[{"kind":"read","address":1049088,"size":8,"value":"18446744073709551615"}]}',
      '{"type":"insn","seq":44,"timeNs":1000,"mode":"real","cpl":0,"cs":1984,"eip":5,"linear":31749,"bytes":"ebfe",' +
        '"asm":"jmp \\"quoted\\\\name\\"","mnemonic":"jmp","regs":{"eip":5}}',
      '{"type":"io","seq":3,"timeNs":1500,"direction":"out","port":1016,"size":1,"value":72}',
      '{"type":"mmio","seq":3,"timeNs":1500,"direction":"write","address":4276093104,"size":4,"value":0}',
      '{"type":"interrupt","seq":4,"timeNs":2000,"vector":32,"source":"external"}',
      '{"type":"interrupt","seq":4,"timeNs":2000,"vector":14,"source":"exception","errorCode":4,"cr2":3145728}',
      '{"type":"control","seq":4,"timeNs":2500,"register":"cr0","previous":17,"value":2147483665,"mode":"paging"}',
      '{"type":"control","seq":4,"timeNs":2500,"register":"cr3","previous":1064960,"value":1081344}',
      '{"type":"exit","seq":5,"timeNs":10002000,"durationNs":10000000,"reason":"timeslice"}',
    ]);
  });

  it('writes lines that parse back and validate against the published schema', () => {
    for (const withMemory of [true, false]) {
      const lines = writeSample(withMemory).lines;
      for (const line of lines) {
        const parsed: unknown = JSON.parse(line);
        expect(validate(TRACE_JSONL_SCHEMA, parsed), line).toEqual([]);
      }
      const first = JSON.parse(lines[0]) as { asm: string; mem?: unknown };
      expect(first.asm).toBe('mov eax, ebx');
      expect(first.mem !== undefined).toBe(withMemory);
      expect((JSON.parse(lines[2]) as { asm: string }).asm).toBe('jmp "quoted\\name"');
    }
  });

  it('has a schema that rejects malformed lines', () => {
    const good = JSON.parse(writeSample(true).lines[0]) as Record<string, unknown>;
    expect(validate(TRACE_JSONL_SCHEMA, good)).toEqual([]);
    const { asm: _asm, ...missing } = good;
    expect(validate(TRACE_JSONL_SCHEMA, missing)).not.toEqual([]);
    expect(validate(TRACE_JSONL_SCHEMA, { ...good, extra: 1 })).not.toEqual([]);
    expect(validate(TRACE_JSONL_SCHEMA, { ...good, regs: { eax: -1 } })).not.toEqual([]);
    expect(validate(TRACE_JSONL_SCHEMA, { ...good, regs: { rax: 1 } })).not.toEqual([]);
    expect(validate(TRACE_JSONL_SCHEMA, { ...good, bytes: '89D8' })).not.toEqual([]);
    expect(validate(TRACE_JSONL_SCHEMA, { ...good, type: 'io' })).not.toEqual([]);
    expect(validate(TRACE_JSONL_SCHEMA, { type: 'exit', seq: 1, timeNs: 0, durationNs: 5, reason: 'hlt' })).toEqual([]);
    expect(validate(TRACE_JSONL_SCHEMA, { type: 'exit', seq: 1, timeNs: 0, reason: 'hlt' })).not.toEqual([]);
  });
});
