// Hand-built trace records for the writer tests, and a sink that collects a writer's output.
import type { EventRecord, InstructionRecord, TraceSummary } from '../../src/trace/trace-record.js';

export function insn(
  fields: Omit<Partial<InstructionRecord>, 'bytes'> & { seq: number; linear: number; bytes: number[] | Uint8Array; asm: string },
): InstructionRecord {
  const { bytes, asm, ...rest } = fields;
  const space = asm.indexOf(' ');
  return {
    type: 'insn',
    timeNs: 0,
    mode: 'protected',
    cpl: 0,
    cs: 8,
    eip: fields.linear,
    mnemonic: space < 0 ? asm : asm.slice(0, space),
    regs: {},
    ...rest,
    bytes: bytes instanceof Uint8Array ? bytes : Uint8Array.from(bytes),
    asm,
  };
}

export const SUMMARY: TraceSummary = { instructions: 0, mnemonics: {}, exits: {} };

export function summary(instructions: number): TraceSummary {
  return { instructions, mnemonics: {}, exits: {} };
}

/** A TraceOutput that keeps everything, as text and as bytes. */
export class Sink {
  readonly chunks: (string | Uint8Array)[] = [];
  readonly write = (chunk: string | Uint8Array): void => {
    this.chunks.push(chunk);
  };

  get text(): string {
    return this.chunks.map((c) => (typeof c === 'string' ? c : Buffer.from(c).toString('latin1'))).join('');
  }

  get bytes(): Buffer {
    return Buffer.concat(this.chunks.map((c) => (typeof c === 'string' ? Buffer.from(c, 'utf8') : Buffer.from(c))));
  }

  get lines(): string[] {
    const text = this.text;
    return text.endsWith('\n') ? text.slice(0, -1).split('\n') : text.split('\n');
  }
}

export const EVENTS: EventRecord[] = [
  { type: 'io', seq: 3, timeNs: 1500, direction: 'out', port: 0x3f8, size: 1, value: 0x48 },
  { type: 'mmio', seq: 3, timeNs: 1500, direction: 'write', address: 0xfee000b0, size: 4, value: 0 },
  { type: 'interrupt', seq: 4, timeNs: 2000, vector: 0x20, source: 'external' },
  { type: 'interrupt', seq: 4, timeNs: 2000, vector: 0xe, source: 'exception', errorCode: 4, cr2: 0x300000 },
  { type: 'control', seq: 4, timeNs: 2500, register: 'cr0', previous: 0x11, value: 0x80000011, mode: 'paging' },
  { type: 'control', seq: 4, timeNs: 2500, register: 'cr3', previous: 0x104000, value: 0x108000 },
  { type: 'exit', seq: 5, timeNs: 10_002_000, durationNs: 10_000_000, reason: 'timeslice' },
];
