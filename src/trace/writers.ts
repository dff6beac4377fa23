// The trace output formats `vmm trace --trace-format` offers, and the writer for each.
// docs/trace-format.md describes every layout.
import { ChromeTraceWriter } from './chrome-trace-writer.js';
import { DrcovTraceWriter } from './drcov-writer.js';
import { JsonlTraceWriter } from './jsonl-writer.js';
import { TenetTraceWriter } from './tenet-writer.js';
import { TextTraceWriter } from './text-writer.js';
import type { TraceModule, TraceOutput, TraceWriter } from './trace-record.js';

export type TraceFormat = 'text' | 'jsonl' | 'tenet' | 'drcov' | 'chrome';

export const TRACE_FORMATS: readonly TraceFormat[] = ['text', 'jsonl', 'tenet', 'drcov', 'chrome'];

export interface TraceWriterOptions {
  /** The loaded images, for coverage (drcov). */
  modules: TraceModule[];
  /** Whether instruction records carry memory accesses (--mem); formats that show them do. */
  withMemory: boolean;
}

export function createTraceWriter(format: TraceFormat, out: TraceOutput, options: TraceWriterOptions): TraceWriter {
  switch (format) {
    case 'text':
      return new TextTraceWriter(out, options);
    case 'jsonl':
      return new JsonlTraceWriter(out, options);
    case 'tenet':
      return new TenetTraceWriter(out, options);
    case 'drcov':
      return new DrcovTraceWriter(out, options.modules);
    case 'chrome':
      return new ChromeTraceWriter(out);
    default:
      throw new Error(`unknown trace format '${String(format)}'`);
  }
}
