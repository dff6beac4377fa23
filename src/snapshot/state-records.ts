// The machine-state stream: what a snapshot file holds and what live migration sends, in one
// format. After an 8-byte magic, a sequence of records, each
//   type (u8) | payload length (u32 LE) | payload | CRC-32 of type, length and payload (u32 LE),
// so that a flipped byte anywhere, or a stream cut short, is found before anything is applied.
// Records: HELLO (JSON: format version, machine description, engine, CPU-state format), PAGES
// (guest pages: a u32 count, count page numbers with bit 31 set for an all-zero page, then the
// 4 KiB of each other page in order), STATE (u32 JSON length, JSON of the devices and the clock,
// then the vCPU's saved state), END (or POSTCOPY: JSON {port} of the page server the rest of RAM
// comes from; see src/migration/postcopy-pages.ts). A page never sent is zero: zero pages take no space.
import { crc32 } from 'node:zlib';

export const STATE_MAGIC = Buffer.from('VMMSTATE', 'latin1');
/** The version of the records' contents (HELLO's `version`). */
export const STATE_FORMAT_VERSION = 1;
export const PAGE_BYTES = 4096;
const ZERO_PAGE_FLAG = 0x8000_0000;
const RECORD_HEADER_BYTES = 5;
const RECORD_TRAILER_BYTES = 4;
/** The largest record a reader accepts: a page batch of MAX_BATCH_PAGES, or a state. */
const MAX_RECORD_BYTES = 64 << 20;
/** Pages per PAGES record. */
export const MAX_BATCH_PAGES = 256;

export const enum RecordType {
  hello = 1,
  pages = 2,
  state = 3,
  end = 4,
  /** Instead of END: the rest of RAM comes by post-copy, from the page server at this port (JSON). */
  postcopy = 5,
}

export class StateStreamError extends Error {}

export function encodeRecord(type: RecordType, payload: Uint8Array): Buffer {
  const out = Buffer.allocUnsafe(RECORD_HEADER_BYTES + payload.length + RECORD_TRAILER_BYTES);
  out[0] = type;
  out.writeUInt32LE(payload.length, 1);
  out.set(payload, RECORD_HEADER_BYTES);
  out.writeUInt32LE(crc32(out.subarray(0, RECORD_HEADER_BYTES + payload.length)), RECORD_HEADER_BYTES + payload.length);
  return out;
}

export function encodeJson(type: RecordType, value: unknown): Buffer {
  return encodeRecord(type, Buffer.from(JSON.stringify(value), 'utf8'));
}

const ZERO_PAGE = Buffer.alloc(PAGE_BYTES);

/** Whether a page of `ram` holds only zero bytes (a memcmp, not a loop in JavaScript). */
export function isZeroPage(ram: Uint8Array, page: number): boolean {
  return Buffer.from(ram.buffer, ram.byteOffset + page * PAGE_BYTES, PAGE_BYTES).equals(ZERO_PAGE);
}

/** Where page bytes are read from: RAM as it is (a paused machine), or through the dirty log. */
export type PageReader = (pages: number[]) => Uint8Array;

/** Page bytes straight from RAM. */
export function ramPages(ram: Uint8Array): PageReader {
  return (pages) => {
    const out = new Uint8Array(pages.length * PAGE_BYTES);
    pages.forEach((page, i) => out.set(ram.subarray(page * PAGE_BYTES, (page + 1) * PAGE_BYTES), i * PAGE_BYTES));
    return out;
  };
}

/**
 * PAGES records for the pages `pages`, read by `read` as they are now: an all-zero page is sent
 * as a flag alone. With `omitZero`, a page that `zeroPages` (a bitmap, NativeVcpu.zeroPageMap)
 * or its bytes show to be zero is not sent at all (a whole machine into an empty one: a page not
 * sent is zero).
 */
export function* encodePages(read: PageReader, pages: Iterable<number>, omitZero: boolean, zeroPages?: Uint8Array): Generator<Buffer> {
  const batch: number[] = [];
  const flush = function* (): Generator<Buffer> {
    const bytes = Buffer.from(read(batch).buffer);
    const zero = batch.map((_, i) => bytes.subarray(i * PAGE_BYTES, (i + 1) * PAGE_BYTES).equals(ZERO_PAGE));
    const numbers = batch.filter((_, i) => !(omitZero && zero[i]));
    if (numbers.length > 0) {
      const withData = numbers.length - zero.filter((z) => z && !omitZero).length;
      const payloadBytes = 4 + numbers.length * 4 + withData * PAGE_BYTES;
      const out = Buffer.allocUnsafe(RECORD_HEADER_BYTES + payloadBytes + RECORD_TRAILER_BYTES);
      out[0] = RecordType.pages;
      out.writeUInt32LE(payloadBytes, 1);
      out.writeUInt32LE(numbers.length, RECORD_HEADER_BYTES);
      let slot = 0;
      let data = RECORD_HEADER_BYTES + 4 + numbers.length * 4;
      batch.forEach((page, i) => {
        if (omitZero && zero[i]) return;
        out.writeUInt32LE((zero[i] ? page | ZERO_PAGE_FLAG : page) >>> 0, RECORD_HEADER_BYTES + 4 + slot++ * 4);
        if (zero[i]) return;
        bytes.copy(out, data, i * PAGE_BYTES, (i + 1) * PAGE_BYTES);
        data += PAGE_BYTES;
      });
      out.writeUInt32LE(crc32(out.subarray(0, data)), data);
      yield out;
    }
    batch.length = 0;
  };
  for (const page of pages) {
    if (omitZero && zeroPages && (zeroPages[page >> 3] & (1 << (page & 7))) !== 0) continue;
    batch.push(page);
    if (batch.length === MAX_BATCH_PAGES) yield* flush();
  }
  if (batch.length > 0) yield* flush();
}

/** Writes a PAGES record's pages into `ram`; returns how many pages it held. */
export function applyPages(payload: Buffer, ram: Uint8Array): number {
  if (payload.length < 4) throw new StateStreamError('a page record is too short');
  const count = payload.readUInt32LE(0);
  if (count > MAX_BATCH_PAGES || payload.length < 4 + count * 4) throw new StateStreamError('a page record is malformed');
  let offset = 4 + count * 4;
  const pages = ram.length / PAGE_BYTES;
  for (let i = 0; i < count; i++) {
    const word = payload.readUInt32LE(4 + i * 4);
    const page = word & ~ZERO_PAGE_FLAG;
    if (page >= pages) throw new StateStreamError(`a page record names page ${page}, beyond the machine's ${pages}`);
    const at = page * PAGE_BYTES;
    if ((word & ZERO_PAGE_FLAG) !== 0) {
      ram.fill(0, at, at + PAGE_BYTES);
      continue;
    }
    if (offset + PAGE_BYTES > payload.length) throw new StateStreamError('a page record is shorter than its pages');
    ram.set(payload.subarray(offset, offset + PAGE_BYTES), at);
    offset += PAGE_BYTES;
  }
  if (offset !== payload.length) throw new StateStreamError('a page record is longer than its pages');
  return count;
}

export interface StateRecord {
  type: RecordType;
  /** Valid until the reader's next push(): take what is kept out of it. */
  payload: Buffer;
}

/**
 * Splits a byte stream into checked records: feed it chunks as they come, take the complete
 * records. Throws StateStreamError for a wrong magic, a bad checksum or an impossible length.
 */
export class RecordReader {
  /** Bytes received and not yet taken, at [start, end) of a buffer reused from record to record. */
  private buffer = Buffer.allocUnsafe(4 << 20);
  private start = 0;
  private end = 0;
  private magicSeen = false;

  push(chunk: Buffer): StateRecord[] {
    this.append(chunk);
    const records: StateRecord[] = [];
    if (!this.magicSeen) {
      if (this.end - this.start < STATE_MAGIC.length) return records;
      if (!this.buffer.subarray(this.start, this.start + STATE_MAGIC.length).equals(STATE_MAGIC)) {
        throw new StateStreamError('this is not a vmm machine state (no VMMSTATE header)');
      }
      this.magicSeen = true;
      this.start += STATE_MAGIC.length;
    }
    for (;;) {
      const record = this.parse();
      if (!record) break;
      records.push(record);
    }
    return records;
  }

  /** Whether bytes remain that make no complete record (a stream cut short). */
  get partial(): boolean {
    return this.end > this.start || !this.magicSeen;
  }

  private append(chunk: Buffer): void {
    if (this.end + chunk.length > this.buffer.length) {
      // Move what is left to the front, or into a larger buffer for a larger record.
      const pending = this.end - this.start;
      const target = pending + chunk.length > this.buffer.length ? Buffer.allocUnsafe(Math.max(this.buffer.length * 2, pending + chunk.length)) : this.buffer;
      this.buffer.copy(target, 0, this.start, this.end);
      this.buffer = target;
      this.start = 0;
      this.end = pending;
    }
    chunk.copy(this.buffer, this.end);
    this.end += chunk.length;
  }

  /**
   * The next complete record, checked; undefined until its bytes have all come. Its payload is a
   * view of the reader's buffer, valid until the next push().
   */
  private parse(): StateRecord | undefined {
    const at = this.start;
    if (this.end - at < RECORD_HEADER_BYTES) return undefined;
    const type = this.buffer[at];
    const length = this.buffer.readUInt32LE(at + 1);
    if (type < RecordType.hello || type > RecordType.postcopy || length > MAX_RECORD_BYTES) {
      throw new StateStreamError('the machine state is damaged (a record header is invalid)');
    }
    const end = at + RECORD_HEADER_BYTES + length;
    if (this.end < end + RECORD_TRAILER_BYTES) return undefined;
    if (crc32(this.buffer.subarray(at, end)) !== this.buffer.readUInt32LE(end)) {
      throw new StateStreamError('the machine state is damaged (a record fails its checksum)');
    }
    this.start = end + RECORD_TRAILER_BYTES;
    return { type, payload: this.buffer.subarray(at + RECORD_HEADER_BYTES, end) };
  }
}
