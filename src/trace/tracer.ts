// Turns the native core's trace buffer (native/src/trace-buffer.h) into instruction and event
// records: register deltas, disassembly, symbols, filters; and keeps the run's summary.
import type { ElfSymbol } from '../boot/elf32.js';
import { lookupSymbol } from '../boot/elf32.js';
import type { Decoder } from '../decode/decoder.js';
import type { Exit } from '../vmm/exit-record.js';
import { Field, InlineKind } from '../vmm/exit-record.js';
import type { NativeVcpu } from '../vmm/native.js';
import { Reg } from '../vmm/registers.js';
import type { RunObserver } from '../vmm/run-observer.js';
import { CR0_PE, CR0_PG } from '../x86/control-registers.js';
import { selectorRpl } from '../x86/selector.js';
import { Vector } from '../x86/vectors.js';
import { selects, type TraceFilter } from './filters.js';
import { endsBasicBlock } from './writer-util.js';
import type { CpuMode, EventRecord, InstructionRecord, MemoryAccess, TracedRegister, TraceSummary, TraceWriter, VmmCallKind } from './trace-record.js';

// Mirrors native/src/trace-buffer.h.
const RECORD_WORDS = 28;
/** Omit over each member of a union. */
type DistributiveOmit<T, K extends PropertyKey> = T extends unknown ? Omit<T, K> : never;

const KIND_INSTRUCTION = 1;
const KIND_WRITE = 3;
const KIND_HIDDEN_FAULT = 4;
const KIND_TRANSLATE = 5;
const KIND_VMM_CALL = 6;
/** native/src/trace-buffer.h, TraceVmmCall. */
const VMM_CALL_KINDS: Record<number, VmmCallKind> = { 1: 'exit', 2: 'lookup-miss', 3: 'emulate', 4: 'iret' };
const SNAPSHOT_REGISTERS: TracedRegister[] = [
  'eax', 'ecx', 'edx', 'ebx', 'esp', 'ebp', 'esi', 'edi', 'eflags', 'es', 'cs', 'ss', 'ds', 'fs', 'gs', 'cr0', 'cr2', 'cr3', 'cr4',
];
// The native register ids of the same registers, to read the state at exits.
const REGISTER_IDS = SNAPSHOT_REGISTERS.map((name) => Reg[name]);
// Positions of CR0, CR3 and CR4 in SNAPSHOT_REGISTERS: a change is a VMM-visible "control" event.
const CONTROL_REGISTERS = (['cr0', 'cr3', 'cr4'] as const).map((name) => [SNAPSHOT_REGISTERS.indexOf(name), name] as const);

interface Pending {
  record: InstructionRecord;
  before: Uint32Array;
  events: EventRecord[];
}

export interface TracerOptions {
  filter: TraceFilter;
  symbols?: ElfSymbol[];
  /** Addresses the symbols describe (the image); outside it no symbol is shown. */
  symbolSpan?: { base: number; end: number };
  now: () => number;
  /** Called once the --count limit of recorded instructions is reached. */
  onCountReached: (recorded: number) => void;
}

export class Tracer implements RunObserver {
  private readonly exitRecord: Uint32Array;
  private words: Uint32Array | undefined;
  private pending: Pending | undefined;
  private seq = 0;
  private selected = 0;
  private recorded = 0;
  private started: boolean;
  private done = false;
  private previousEnd = -1;
  private previousTransfer = true;
  private written = 0;
  readonly mnemonics: Record<string, number> = {};
  private readonly blockCounts = new Map<number, number>();

  constructor(
    private readonly vcpu: NativeVcpu,
    private readonly decoder: Decoder,
    private readonly writer: TraceWriter,
    private readonly options: TracerOptions,
  ) {
    this.exitRecord = new Uint32Array(vcpu.exitRecord);
    this.started = options.filter.startAt === undefined;
  }

  get instructionsExecuted(): number {
    return this.seq;
  }

  get instructionsRecorded(): number {
    return this.recorded;
  }

  onTraceBufferFull(): void {
    this.drain();
  }

  onInlineExit(kind: number): void {
    this.drain();
    const r = this.exitRecord;
    const timeNs = this.options.now();
    const seq = Math.max(0, this.seq - 1);
    let event: EventRecord | undefined;
    if (kind === InlineKind.portIn || kind === InlineKind.portOut) {
      const direction = kind === InlineKind.portIn ? 'in' : 'out';
      event = { type: 'io', seq, timeNs, direction, port: r[Field.address], size: r[Field.size], value: r[Field.value] };
    } else if (kind === InlineKind.mmioRead || kind === InlineKind.mmioWrite) {
      const direction = kind === InlineKind.mmioRead ? 'read' : 'write';
      event = { type: 'mmio', seq, timeNs, direction, address: r[Field.address], size: r[Field.size], value: r[Field.value] };
    }
    if (event) this.pending ? this.pending.events.push(event) : this.emitEvent(event);
  }

  onExit(exit: Exit, durationNs: number): void {
    this.drain();
    // The last instruction's effects are the registers as the run left them.
    if (this.pending) this.complete(this.pending, this.currentRegisters(), this.vcpu.readRegister(Reg.eip));
    this.pending = undefined;
    this.emitEvent({ type: 'exit', seq: this.seq, timeNs: this.options.now(), durationNs, reason: exit.kind });
  }

  onInjected(vector: number, source: 'external' | 'exception' | 'software', errorCode?: number, cr2?: number): void {
    const event: EventRecord = { type: 'interrupt', seq: this.seq, timeNs: this.options.now(), vector, source };
    if (source === 'exception' && errorCode !== undefined) event.errorCode = errorCode;
    if (vector === Vector.PF && source === 'exception') event.cr2 = cr2;
    this.emitEvent(event);
  }

  summary(exits: Record<string, number>): TraceSummary {
    return { instructions: this.seq, mnemonics: this.mnemonics, exits };
  }

  hottestBlocks(limit: number): { linear: number; count: number; symbol?: string }[] {
    return [...this.blockCounts.entries()]
      .sort((a, b) => b[1] - a[1])
      .slice(0, limit)
      .map(([linear, count]) => ({ linear, count, symbol: this.symbolAt(linear) }));
  }

  /** Processes what the native core left in the trace buffer and marks it empty. */
  private drain(): void {
    const count = this.exitRecord[Field.traceCount];
    if (count === 0) return;
    this.words ??= new Uint32Array(this.vcpu.traceBuffer!);
    const words = this.words;
    for (let i = 0; i < count; i++) {
      const at = i * RECORD_WORDS;
      const kind = words[at];
      if (kind === KIND_INSTRUCTION) this.onInstruction(words.subarray(at, at + RECORD_WORDS));
      else if (kind === KIND_HIDDEN_FAULT) this.onHiddenFault(words[at + 1], words[at + 2]);
      else if (kind === KIND_TRANSLATE) this.onEngineEvent({ type: 'translate', start: words[at + 1], end: words[at + 2], cacheBytes: words[at + 3], rewritten: words[at + 4] });
      else if (kind === KIND_VMM_CALL) this.onEngineEvent({ type: 'vmm-call', kind: VMM_CALL_KINDS[words[at + 1]] ?? 'emulate', address: words[at + 2] });
      else if (this.pending) this.onMemory(words, at, kind === KIND_WRITE);
    }
    this.exitRecord[Field.traceCount] = 0;
  }

  private onInstruction(words: Uint32Array): void {
    const before = words.subarray(9, 9 + SNAPSHOT_REGISTERS.length);
    if (this.pending) this.complete(this.pending, before, words[1]);
    this.pending = undefined;
    const seq = this.seq++;
    if (this.done) return;
    const linear = words[3];
    const size = words[4];
    const cs = words[2];
    const cr0 = before[15];
    const window = new Uint8Array(words.buffer, words.byteOffset + 5 * 4, size);
    const realMode = (cr0 & CR0_PE) === 0;
    const decoded = this.decoder.decode(realMode ? 16 : 32, linear, window);
    // An engine that runs translated code records the guest's bytes from the instruction on (16,
    // the most one can have): the instruction is as long as it decodes.
    const bytes = window.slice(0, decoded.size > 0 && decoded.size < size ? decoded.size : size);
    const cpl = realMode ? 0 : selectorRpl(cs);
    // Hot blocks are counted over every executed instruction, before any filter.
    if (this.previousTransfer || linear !== this.previousEnd) this.blockCounts.set(linear, (this.blockCounts.get(linear) ?? 0) + 1);
    this.previousEnd = linear + bytes.length;
    this.previousTransfer = endsBasicBlock(decoded.mnemonic);
    const filter = this.options.filter;
    if (!this.started) {
      if (linear !== filter.startAt) return;
      this.started = true;
    }
    if (!selects(filter, linear, cpl, decoded.text)) return;
    if (this.selected++ < filter.skip) return;
    const record: InstructionRecord = {
      type: 'insn',
      seq,
      timeNs: this.options.now(),
      mode: modeOf(cr0),
      cpl,
      cs,
      eip: words[1],
      linear,
      bytes,
      asm: decoded.text,
      mnemonic: decoded.mnemonic,
      regs: {},
    };
    const symbol = this.symbolAt(linear);
    if (symbol) record.symbol = symbol;
    this.mnemonics[decoded.mnemonic] = (this.mnemonics[decoded.mnemonic] ?? 0) + 1;
    this.pending = { record, before: before.slice(), events: [] };
    if (++this.recorded >= filter.count) {
      this.done = true;
      this.options.onCountReached(this.recorded);
    }
  }

  /** The engine core's own work (bt), in line with the instructions, as a hidden fault is. */
  private onEngineEvent(fields: DistributiveOmit<Extract<EventRecord, { type: 'translate' | 'vmm-call' }>, 'seq' | 'timeNs'>): void {
    const event = { ...fields, seq: Math.max(0, this.seq - 1), timeNs: this.options.now() } as EventRecord;
    this.pending ? this.pending.events.push(event) : this.emitEvent(event);
  }

  private onHiddenFault(address: number, errorCode: number): void {
    const event: EventRecord = { type: 'page-fault', seq: Math.max(0, this.seq - 1), timeNs: this.options.now(), address, errorCode, handling: 'hidden' };
    this.pending ? this.pending.events.push(event) : this.emitEvent(event);
  }

  private onMemory(words: Uint32Array, at: number, write: boolean): void {
    const size = words[at + 2];
    const low = words[at + 3];
    const value: number | bigint = size === 8 ? (BigInt(words[at + 4]) << 32n) | BigInt(low) : low;
    const access: MemoryAccess = { kind: write ? 'write' : 'read', address: words[at + 1], size, value };
    (this.pending!.record.mem ??= []).push(access);
  }

  /** Fills in what the instruction changed and writes it, followed by its events. */
  private complete(pending: Pending, after: ArrayLike<number>, nextEip: number): void {
    const record = pending.record;
    // The first record carries the whole register state, so a reader can replay the deltas.
    const full = this.written++ === 0;
    SNAPSHOT_REGISTERS.forEach((name, i) => {
      if (full || after[i] !== pending.before[i]) record.regs[name] = after[i] >>> 0;
    });
    // EIP counts as changed only when control did not fall through to the next instruction.
    if (nextEip !== ((record.eip + record.bytes.length) & 0xffffffff)) record.regs.eip = nextEip >>> 0;
    this.writer.write(record);
    for (const [index, register] of CONTROL_REGISTERS) {
      const previous = pending.before[index] >>> 0;
      const value = after[index] >>> 0;
      if (value === previous) continue;
      const event: EventRecord = { type: 'control', seq: record.seq, timeNs: record.timeNs, register, previous, value };
      if (register === 'cr0' && modeOf(previous) !== modeOf(value)) event.mode = modeOf(value);
      this.emitEvent(event);
    }
    for (const event of pending.events) this.emitEvent(event);
  }

  private emitEvent(event: EventRecord): void {
    if (this.started && !this.done) this.writer.write(event);
  }

  private currentRegisters(): number[] {
    return REGISTER_IDS.map((id) => this.vcpu.readRegister(id));
  }

  private symbolAt(linear: number): string | undefined {
    if (!this.options.symbols) return undefined;
    const span = this.options.symbolSpan;
    if (span && (linear < span.base || linear >= span.end)) return undefined;
    const found = lookupSymbol(this.options.symbols, linear);
    return found ? (found.offset ? `${found.symbol.name}+0x${found.offset.toString(16)}` : found.symbol.name) : undefined;
  }
}

function modeOf(cr0: number): CpuMode {
  return (cr0 & CR0_PE) === 0 ? 'real' : cr0 & CR0_PG ? 'paging' : 'protected';
}
