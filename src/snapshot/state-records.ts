// The machine-state stream: what a snapshot file holds and what live migration sends, in one
// format. After an 8-byte magic, a sequence of records, each
//   type (u8) | payload length (u32 LE) | payload | CRC-32 of type, length and payload (u32 LE),
// so that a flipped byte anywhere, or a stream cut short, is found before anything is applied.
// Records: HELLO (JSON: format version, machine description, engine, CPU-state format), PAGES
// (guest pages: a u32 count, count page numbers with bit 31 set for an all-zero page, then the
// 4 KiB of each other page in order), STATE (u32 JSON length, JSON of the devices and the clock,
// then the vCPU's saved state), END. A page never sent is zero: zero pages take no space.
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

/**
 * PAGES records for the pages `pages` of `ram`, as they are now: an all-zero page is sent as a
 * flag alone, unless `omitZero` (a whole machine into an empty one: a page not sent is zero).
 */
export function* encodePages(ram: Uint8Array, pages: Iterable<number>, omitZero: boolean): Generator<Buffer> {
  let numbers: number[] = [];
  let data: Uint8Array[] = [];
  const flush = () => {
    const head = Buffer.allocUnsafe(4 + numbers.length * 4);
    head.writeUInt32LE(numbers.length, 0);
    numbers.forEach((n, i) => head.writeUInt32LE(n >>> 0, 4 + i * 4));
    const record = encodeRecord(RecordType.pages, Buffer.concat([head, ...data]));
    numbers = [];
    data = [];
    return record;
  };
  for (const page of pages) {
    if (isZeroPage(ram, page)) {
      if (omitZero) continue;
      numbers.push(page | ZERO_PAGE_FLAG);
    } else {
      numbers.push(page);
      data.push(ram.slice(page * PAGE_BYTES, (page + 1) * PAGE_BYTES));
    }
    if (numbers.length === MAX_BATCH_PAGES) yield flush();
  }
  if (numbers.length > 0) yield flush();
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
  payload: Buffer;
}

/**
 * Splits a byte stream into checked records: feed it chunks as they come, take the complete
 * records. Throws StateStreamError for a wrong magic, a bad checksum or an impossible length.
 */
export class RecordReader {
  private pending: Buffer[] = [];
  private pendingBytes = 0;
  private magicSeen = false;
  /** Bytes needed before the next record can be complete: chunks are joined only then. */
  private needed = STATE_MAGIC.length;

  push(chunk: Buffer): StateRecord[] {
    this.pending.push(chunk);
    this.pendingBytes += chunk.length;
    const records: StateRecord[] = [];
    for (;;) {
      if (this.pendingBytes < this.needed) return records;
      const buffer = this.pending.length === 1 ? this.pending[0] : Buffer.concat(this.pending, this.pendingBytes);
      this.pending = [buffer];
      let used = 0;
      if (!this.magicSeen) {
        if (buffer.length < STATE_MAGIC.length) return records;
        if (!buffer.subarray(0, STATE_MAGIC.length).equals(STATE_MAGIC)) {
          throw new StateStreamError('this is not a vmm machine state (no VMMSTATE header)');
        }
        this.magicSeen = true;
        used = STATE_MAGIC.length;
      }
      const record = this.parse(buffer, used);
      if (typeof record === 'number') {
        this.consume(buffer, used);
        this.needed = record - used;
        return records;
      }
      records.push(record.record);
      this.consume(buffer, record.next);
      this.needed = RECORD_HEADER_BYTES;
    }
  }

  /** Whether bytes remain that make no complete record (a stream cut short). */
  get partial(): boolean {
    return this.pendingBytes > 0 || !this.magicSeen;
  }

  private consume(buffer: Buffer, bytes: number): void {
    const rest = buffer.subarray(bytes);
    this.pending = rest.length > 0 ? [rest] : [];
    this.pendingBytes = rest.length;
  }

  /** The record at `at`, or the buffer length it needs to be complete. */
  private parse(buffer: Buffer, at: number): { record: StateRecord; next: number } | number {
    if (buffer.length - at < RECORD_HEADER_BYTES) return at + RECORD_HEADER_BYTES;
    const type = buffer[at];
    const length = buffer.readUInt32LE(at + 1);
    if (type < RecordType.hello || type > RecordType.end || length > MAX_RECORD_BYTES) {
      throw new StateStreamError('the machine state is damaged (a record header is invalid)');
    }
    const end = at + RECORD_HEADER_BYTES + length;
    if (buffer.length < end + RECORD_TRAILER_BYTES) return end + RECORD_TRAILER_BYTES;
    if (crc32(buffer.subarray(at, end)) !== buffer.readUInt32LE(end)) {
      throw new StateStreamError('the machine state is damaged (a record fails its checksum)');
    }
    return { record: { type, payload: buffer.subarray(at + RECORD_HEADER_BYTES, end) }, next: end + RECORD_TRAILER_BYTES };
  }
}
