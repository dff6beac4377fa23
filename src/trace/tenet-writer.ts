// Tenet traces, for the Tenet trace explorer (IDA Pro / Binary Ninja plugin by Markus Gaasedelen).
// Format: https://github.com/gaasedelen/tenet/blob/master/tracers/README.md ("Trace Format").
//
// Each line is one step of execution: comma-separated `name=value` entries, register values in
// base 16 with 0x, then `mr=0xADDR:BYTES` / `mw=0xADDR:BYTES` memory entries whose BYTES are the
// accessed memory in address order (so a value's little-endian bytes).
//
//   eax=0x7,eip=0x100012,mw=0x1ffc:07000000
//
// What a line means follows the reference tracers (tracers/pin/pintenet.cpp, tracers/qemu/tenet.c)
// and the reader ("delta: the state delta since the previous timestamp", trace/reader.py): line N
// is the machine state when instruction N is about to run, so it carries instruction N's address
// and what instruction N-1 did (the registers it changed, the memory it read and wrote). Seeking
// to a timestamp in Tenet then shows, as a debugger would, the registers *before* the highlighted
// instruction runs. Our records carry each instruction's own effects, so the writer holds one
// record back. The effects of the last instruction would belong to a line whose address never ran;
// like the reference tracers, the writer leaves them out.
//
// Only the registers of Tenet's x86 architecture are written (trace/arch/x86.py: EAX, EBX, ECX,
// EDX, EBP, ESP, ESI, EDI, EIP): its text parser rejects a line with any other name
// (trace/file.py, _process_line), which would drop the rest of the trace segment. The first line
// carries every one of those registers the writer knows (the tracer's README: "dump the full
// register state at the start of the trace"); the first record's registers are the state after the
// first instruction, the nearest to the initial state the records give. EIP is on every line
// (Tenet's index is built from it) and is the instruction's linear address, the address a
// disassembler shows for a flat image.
import type { InstructionRecord, MemoryAccess, TracedRegister, TraceOutput, TraceRecord, TraceSummary, TraceWriter } from './trace-record.js';
import { bytesHex, valueBytes } from './writer-util.js';

/** Tenet's x86 registers other than EIP (trace/arch/x86.py), in the order lines list them. */
export const TENET_REGISTERS: readonly TracedRegister[] = ['eax', 'ebx', 'ecx', 'edx', 'ebp', 'esp', 'esi', 'edi'];

export interface TenetWriterOptions {
  withMemory: boolean;
}

export class TenetTraceWriter implements TraceWriter {
  /** Register values as of the last line written. */
  private readonly known = new Map<TracedRegister, number>();
  /** The previous instruction's effects, written on the next instruction's line. */
  private pending: { regs: InstructionRecord['regs']; mem: MemoryAccess[] | undefined } | undefined;
  private started = false;

  constructor(
    private readonly out: TraceOutput,
    private readonly options: TenetWriterOptions,
  ) {}

  write(record: TraceRecord): void {
    // Tenet has no events: interrupts and exits show only through where execution goes.
    if (record.type !== 'insn') return;
    const entries: string[] = [];
    if (!this.started) {
      this.started = true;
      for (const name of TENET_REGISTERS) {
        const value = record.regs[name];
        if (value !== undefined) this.known.set(name, value);
      }
      for (const name of TENET_REGISTERS) {
        const value = this.known.get(name);
        if (value !== undefined) entries.push(`${name}=0x${(value >>> 0).toString(16)}`);
      }
    } else if (this.pending) {
      for (const name of TENET_REGISTERS) {
        const value = this.pending.regs[name];
        if (value === undefined || this.known.get(name) === value) continue;
        this.known.set(name, value);
        entries.push(`${name}=0x${(value >>> 0).toString(16)}`);
      }
    }
    // The README's advice: the PC last among the registers.
    entries.push(`eip=0x${(record.linear >>> 0).toString(16)}`);
    if (this.pending?.mem) {
      for (const access of this.pending.mem) {
        entries.push(`${access.kind === 'read' ? 'mr' : 'mw'}=0x${(access.address >>> 0).toString(16)}:${bytesHex(valueBytes(access))}`);
      }
    }
    this.out(entries.join(',') + '\n');
    this.pending = { regs: record.regs, mem: this.options.withMemory ? record.mem : undefined };
  }

  end(_summary: TraceSummary): void {}
}
