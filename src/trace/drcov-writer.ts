// drcov coverage (DynamoRIO's drcov tool, file version 2), for Lighthouse and other coverage
// viewers. DynamoRIO documents the layout only by its source (clients/drcov/drcov.c,
// ext/drcovlib/modules.c); the reader this is checked against is Lighthouse's
// (https://github.com/gaasedelen/lighthouse, plugins/lighthouse/reader/parsers/drcov.py):
//
//   DRCOV VERSION: 2
//   DRCOV FLAVOR: drcov
//   Module Table: version 2, count 1
//   Columns: id, base, end, entry, checksum, timestamp, path
//     0, 0x00100000, 0x00112000, 0x00100010, 0x00000000, 0x00000000, /path/guest.elf
//   BB Table: 3 bbs
//   <3 binary entries>
//
// Lighthouse splits each module line on ", " and parses the numbers with int(x, 16), so the
// fields are separated by exactly ", " and the path is last (a path containing ", " cannot be
// represented; line breaks in a path are replaced by spaces). The id is right-aligned in three
// columns and addresses are 0x and 8 digits, as DynamoRIO prints them for 32-bit processes. Each BB
// table entry is DynamoRIO's bb_entry_t, little-endian:
//   struct { uint32 start; /* offset from the module base */ uint16 size; uint16 mod_id; }
// and the table follows the "BB Table" line directly.
//
// Basic blocks come from the instruction stream: a block starts where execution did not simply
// fall through, that is at an instruction whose address is not the previous instruction's end,
// after a control transfer (endsBasicBlock), after an interrupt or exception was delivered, or where
// execution crosses into another module. Its size is the byte length of its instructions. Each
// distinct (module, start, size) is kept once, in the order first executed; code outside every
// module is left out. Everything is written at end(), since the header needs the block count.
import type { InstructionRecord, TraceModule, TraceOutput, TraceRecord, TraceSummary, TraceWriter } from './trace-record.js';
import { endsBasicBlock, hex } from './writer-util.js';

const ENTRY_BYTES = 8;
const MAX_BLOCK_SIZE = 0xffff; // size is a uint16

interface Block {
  module: number; // index into modules
  start: number; // linear
  size: number;
}

export class DrcovTraceWriter implements TraceWriter {
  private readonly modules: TraceModule[];
  /** Per module (same index): the distinct blocks as start offset * 2^16 + size (exact below 2^48). */
  private readonly blocks: Set<number>[];
  private current: Block | undefined;
  private nextLinear = -1;
  private lastModule = -1;

  constructor(
    private readonly out: TraceOutput,
    modules: TraceModule[],
  ) {
    for (const m of modules) {
      if (!Number.isInteger(m.id) || m.id < 0 || m.id > 0xffff) throw new RangeError(`drcov module id ${m.id} does not fit 16 bits`);
    }
    this.modules = modules;
    this.blocks = modules.map(() => new Set<number>());
  }

  write(record: TraceRecord): void {
    if (record.type === 'insn') this.instruction(record);
    else if (record.type === 'interrupt') this.closeBlock();
  }

  end(_summary: TraceSummary): void {
    this.closeBlock();
    const count = this.blocks.reduce((sum, set) => sum + set.size, 0);
    let header =
      'DRCOV VERSION: 2\n' +
      'DRCOV FLAVOR: drcov\n' +
      `Module Table: version 2, count ${this.modules.length}\n` +
      'Columns: id, base, end, entry, checksum, timestamp, path\n';
    for (const m of this.modules) {
      header +=
        `${String(m.id).padStart(3)}, 0x${hex(m.base)}, 0x${hex(m.end)}, 0x${hex(m.entry)}, 0x00000000, 0x00000000, ` +
        `${m.path.replace(/[\r\n]+/g, ' ')}\n`;
    }
    header += `BB Table: ${count} bbs\n`;
    this.out(header);
    const table = new Uint8Array(count * ENTRY_BYTES);
    const view = new DataView(table.buffer);
    let at = 0;
    this.blocks.forEach((set, index) => {
      const id = this.modules[index].id;
      for (const key of set) {
        view.setUint32(at, Math.floor(key / 0x10000), true);
        view.setUint16(at + 4, key % 0x10000, true);
        view.setUint16(at + 6, id, true);
        at += ENTRY_BYTES;
      }
    });
    if (count > 0) this.out(table);
  }

  private instruction(r: InstructionRecord): void {
    const length = r.bytes.length;
    const module = this.moduleOf(r.linear);
    const block = this.current;
    if (!block || r.linear !== this.nextLinear || module !== block.module || block.size + length > MAX_BLOCK_SIZE) {
      this.closeBlock();
      if (module >= 0) this.current = { module, start: r.linear, size: length };
    } else {
      block.size += length;
    }
    this.nextLinear = (r.linear + length) >>> 0;
    if (endsBasicBlock(r.mnemonic)) this.closeBlock();
  }

  private closeBlock(): void {
    const block = this.current;
    if (!block) return;
    this.current = undefined;
    this.nextLinear = -1;
    const offset = block.start - this.modules[block.module].base;
    this.blocks[block.module].add(offset * 0x10000 + block.size);
  }

  /** The index of the module holding `linear`, or -1. */
  private moduleOf(linear: number): number {
    const last = this.modules[this.lastModule];
    if (last && linear >= last.base && linear < last.end) return this.lastModule;
    const index = this.modules.findIndex((m) => linear >= m.base && linear < m.end);
    if (index >= 0) this.lastModule = index;
    return index;
  }
}
