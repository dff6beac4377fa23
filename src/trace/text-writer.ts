// The human-readable trace: one line per instruction, one line per VMM event, in the order they
// happened. The layout is documented in docs/trace-format.md ("text").
//
//   #00000042  pm cpl0  0008:00100010 00100010  89 d8                    mov eax, ebx                      kmain+0x10  ; eax=00000007 eflags=00000246
//   #00000043  pm cpl0  0008:00100012 00100012  c7 05 00 02 10 00 2a ..  mov dword ptr [0x100200], 0x2a    ; [w 00100200 4 = 0000002a]
//   -- io out port 0x3f8 size 1 value 0x48
//
// Columns: sequence number (decimal, 8 digits), mode (rm real, pm protected, pg paging), CPL,
// CS:EIP, linear address, instruction bytes (up to 8; longer instructions show 7 and ".."), the
// disassembly, the symbol if known, then after ";" the registers the instruction changed (in
// REGISTER_ORDER) and, with --mem, its memory accesses in order as [r|w address size = value].
import type { EventRecord, InstructionRecord, TraceOutput, TraceRecord, TraceSummary, TraceWriter } from './trace-record.js';
import { bytesHex, hex, REGISTER_ORDER, registerHex, valueHex } from './writer-util.js';

const MODE = { real: 'rm', protected: 'pm', paging: 'pg' } as const;
/** Instructions up to this many bytes are shown whole; longer ones show BYTES_SHOWN - 1 bytes and "..". */
const BYTES_SHOWN = 8;
const BYTES_WIDTH = BYTES_SHOWN * 3 - 1;
const ASM_WIDTH = 32;

export interface TextWriterOptions {
  withMemory: boolean;
}

export class TextTraceWriter implements TraceWriter {
  constructor(
    private readonly out: TraceOutput,
    private readonly options: TextWriterOptions,
  ) {}

  write(record: TraceRecord): void {
    this.out((record.type === 'insn' ? this.instruction(record) : event(record)) + '\n');
  }

  /** The run's summary is printed by the command, not written into the trace. */
  end(_summary: TraceSummary): void {}

  private instruction(r: InstructionRecord): string {
    let line =
      `#${String(r.seq).padStart(8, '0')}  ${MODE[r.mode]} cpl${r.cpl}  ${hex(r.cs, 4)}:${hex(r.eip)} ${hex(r.linear)}  ` +
      `${instructionBytes(r.bytes).padEnd(BYTES_WIDTH)}  ${r.asm.padEnd(ASM_WIDTH)}`;
    if (r.symbol) line += `  ${r.symbol}`;
    let effects = '';
    for (const name of REGISTER_ORDER) {
      const value = r.regs[name];
      if (value !== undefined) effects += ` ${name}=${registerHex(name, value)}`;
    }
    if (this.options.withMemory && r.mem) {
      for (const access of r.mem) {
        effects += ` [${access.kind === 'read' ? 'r' : 'w'} ${hex(access.address)} ${access.size} = ${valueHex(access)}]`;
      }
    }
    if (effects) line += `  ;${effects}`;
    return line.trimEnd();
  }
}

function instructionBytes(bytes: Uint8Array): string {
  if (bytes.length <= BYTES_SHOWN) return bytesHex(bytes, ' ');
  return `${bytesHex(bytes.subarray(0, BYTES_SHOWN - 1), ' ')} ..`;
}

/** Events start with "--"; addresses (MMIO, CR2) are 8 hex digits, other numbers minimal hex,
 *  sizes in bytes and durations in decimal. */
function event(e: EventRecord): string {
  switch (e.type) {
    case 'io':
      return `-- io ${e.direction} port 0x${e.port.toString(16)} size ${e.size} value 0x${(e.value >>> 0).toString(16)}`;
    case 'mmio':
      return `-- mmio ${e.direction} address 0x${hex(e.address)} size ${e.size} value 0x${(e.value >>> 0).toString(16)}`;
    case 'interrupt': {
      let line = `-- interrupt ${e.source} vector 0x${e.vector.toString(16)}`;
      if (e.errorCode !== undefined) line += ` error 0x${(e.errorCode >>> 0).toString(16)}`;
      if (e.cr2 !== undefined) line += ` cr2 0x${hex(e.cr2)}`;
      return line;
    }
    case 'page-fault':
      return `-- page-fault ${e.handling} address 0x${hex(e.address)} error 0x${e.errorCode.toString(16)}`;
    case 'control':
      return `-- ${e.register} 0x${hex(e.previous)} -> 0x${hex(e.value)}${e.mode ? ` (mode ${e.mode})` : ''}`;
    case 'exit':
      return `-- exit ${e.reason} ${duration(e.durationNs)}`;
    case 'translate':
      return `-- translate 0x${hex(e.start)}-0x${hex(e.end)} cache ${e.cacheBytes} bytes, ${e.rewritten} rewritten`;
    case 'vmm-call':
      return `-- vmm-call ${e.kind} 0x${hex(e.address)}`;
  }
}

/** A duration with a unit that keeps it short: "10.0 ms", "3.2 us", "850 ns". */
export function duration(ns: number): string {
  if (ns >= 1e6) return `${(ns / 1e6).toFixed(1)} ms`;
  if (ns >= 1e3) return `${(ns / 1e3).toFixed(1)} us`;
  return `${Math.round(ns)} ns`;
}
