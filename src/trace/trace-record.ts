// What a trace is made of: one record per executed guest instruction, and VMM events in line
// with them. Every output format (text, JSON Lines, Tenet, drcov, Chrome trace events) is written
// from these records.

export type CpuMode = 'real' | 'protected' | 'paging';

export type TracedRegister =
  | 'eax' | 'ecx' | 'edx' | 'ebx' | 'esp' | 'ebp' | 'esi' | 'edi'
  | 'eip' | 'eflags' | 'cs' | 'ss' | 'ds' | 'es' | 'fs' | 'gs'
  | 'cr0' | 'cr2' | 'cr3' | 'cr4';

export interface MemoryAccess {
  kind: 'read' | 'write';
  address: number; // linear
  size: number; // bytes: 1, 2, 4 or 8
  value: number | bigint; // bigint for 8-byte accesses
}

export interface InstructionRecord {
  type: 'insn';
  /** Number of the executed instruction, from 0, counting every instruction the guest ran. */
  seq: number;
  /** Guest time of the run-loop slice the instruction ran in, in nanoseconds. */
  timeNs: number;
  mode: CpuMode;
  cpl: number;
  cs: number;
  eip: number;
  /** CS base + EIP. */
  linear: number;
  bytes: Uint8Array;
  /** Capstone's disassembly, "mnemonic operands". */
  asm: string;
  mnemonic: string;
  /** "function+0x12" for ELF guests with symbols. */
  symbol?: string;
  /** Registers this instruction changed, with their new values (eip only on control transfers). */
  regs: Partial<Record<TracedRegister, number>>;
  /** With --mem: the instruction's memory accesses in order. */
  mem?: MemoryAccess[];
}

export type EventRecord =
  | { type: 'io'; seq: number; timeNs: number; direction: 'in' | 'out'; port: number; size: number; value: number }
  | { type: 'mmio'; seq: number; timeNs: number; direction: 'read' | 'write'; address: number; size: number; value: number }
  | {
      type: 'interrupt';
      seq: number;
      timeNs: number;
      vector: number;
      source: 'external' | 'exception' | 'software';
      errorCode?: number;
      cr2?: number;
    }
  | {
      /** Trap engine: a page fault the shadow MMU filled without the guest seeing it. */
      type: 'page-fault';
      seq: number;
      timeNs: number;
      address: number;
      errorCode: number;
      handling: 'hidden';
    }
  | {
      /** A write to CR0, CR3 or CR4 that changed it; `mode` when the CPU mode changed with it. */
      type: 'control';
      seq: number;
      timeNs: number;
      register: 'cr0' | 'cr3' | 'cr4';
      previous: number;
      value: number;
      mode?: CpuMode;
    }
  | { type: 'exit'; seq: number; timeNs: number; durationNs: number; reason: string }
  | {
      /** bt engine: a block of guest code translated into the cache. */
      type: 'translate';
      seq: number;
      timeNs: number;
      /** The guest bytes [start, end) it came from. */
      start: number;
      end: number;
      /** Bytes of translated code; instructions rewritten (not copied as they are). */
      cacheBytes: number;
      rewritten: number;
    }
  | {
      /** bt engine: translated code called the VMM, for the guest instruction or target at `address`. */
      type: 'vmm-call';
      seq: number;
      timeNs: number;
      kind: VmmCallKind;
      address: number;
    };

/** Why translated code called the VMM: a direct jump's first run, a lookup miss, an instruction to emulate. */
export type VmmCallKind = 'exit' | 'lookup-miss' | 'emulate' | 'iret';

export type TraceRecord = InstructionRecord | EventRecord;

/** A module for coverage formats: a loaded image and its address range. */
export interface TraceModule {
  id: number;
  path: string;
  base: number;
  end: number; // exclusive
  entry: number;
}

export interface TraceSummary {
  instructions: number;
  mnemonics: Record<string, number>;
  exits: Record<string, number>;
}

/** An output format: records in, bytes out, streaming (bounded memory for any trace length). */
export interface TraceWriter {
  write(record: TraceRecord): void;
  /** Called once at the end; formats with a trailer (drcov, Chrome JSON) finish here. */
  end(summary: TraceSummary): void;
}

/** Where a writer sends its output. */
export type TraceOutput = (chunk: string | Uint8Array) => void;
