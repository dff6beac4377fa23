import { describe, expect, it } from 'vitest';
import { ChromeTraceWriter } from '../../src/trace/chrome-trace-writer.js';
import { DrcovTraceWriter } from '../../src/trace/drcov-writer.js';
import { JsonlTraceWriter } from '../../src/trace/jsonl-writer.js';
import { TenetTraceWriter } from '../../src/trace/tenet-writer.js';
import { TextTraceWriter } from '../../src/trace/text-writer.js';
import { createTraceWriter, TRACE_FORMATS, type TraceFormat } from '../../src/trace/writers.js';

describe('createTraceWriter', () => {
  it('makes the writer of each format', () => {
    const kinds = { text: TextTraceWriter, jsonl: JsonlTraceWriter, tenet: TenetTraceWriter, drcov: DrcovTraceWriter, chrome: ChromeTraceWriter };
    for (const format of TRACE_FORMATS) {
      expect(createTraceWriter(format, () => {}, { modules: [], withMemory: false })).toBeInstanceOf(kinds[format]);
    }
  });

  it('refuses a format it does not know', () => {
    expect(() => createTraceWriter('csv' as TraceFormat, () => {}, { modules: [], withMemory: false })).toThrow("unknown trace format 'csv'");
  });

  it('refuses a drcov module id that does not fit the 16-bit mod_id field', () => {
    expect(() => createTraceWriter('drcov', () => {}, { modules: [{ id: 70000, path: 'x', base: 0, end: 1, entry: 0 }], withMemory: false })).toThrow(RangeError);
  });
});
