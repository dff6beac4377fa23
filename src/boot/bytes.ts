// Bounds-checked little-endian access to image bytes, and the number
// formatting used in loader messages.

import { LoadError } from './load-plan.js';

/** Lower-case hexadecimal with a 0x prefix, as used in every loader message. */
export function hex(value: number): string {
  return `0x${value.toString(16)}`;
}

/** A byte count for the user: "16 MiB", "640 KiB", or plain bytes. */
export function formatSize(bytes: number): string {
  const KiB = 1024;
  const MiB = 1024 * KiB;
  const GiB = 1024 * MiB;
  if (bytes > 0 && bytes % GiB === 0) return `${bytes / GiB} GiB`;
  if (bytes > 0 && bytes % MiB === 0) return `${bytes / MiB} MiB`;
  if (bytes > 0 && bytes % KiB === 0) return `${bytes / KiB} KiB`;
  return `${bytes} bytes`;
}

/**
 * Reads little-endian fields from an image. Every access names the structure
 * it reads so that a short file produces a message such as
 * "truncated ELF: program header 2 ends at 0x12345 beyond the file's 4096 bytes".
 * Offsets and lengths come from header fields (at most 32 bits each), so their
 * sums are exact in a double and the comparison with the length is safe.
 */
export class ByteReader {
  private readonly view: DataView;

  constructor(
    readonly bytes: Uint8Array,
    /** What the file is, for messages: "ELF", "multiboot header"... */
    private readonly context: string,
  ) {
    this.view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  }

  get length(): number {
    return this.bytes.length;
  }

  /** Throws 'truncated' unless [offset, offset+length) lies inside the file. */
  require(offset: number, length: number, what: string): void {
    const end = offset + length;
    if (offset < 0 || length < 0 || end > this.bytes.length) {
      throw new LoadError(
        'truncated',
        `truncated ${this.context}: ${what} ends at ${hex(end)} beyond the file's ${this.bytes.length} bytes`,
      );
    }
  }

  u8(offset: number, what: string): number {
    this.require(offset, 1, what);
    return this.view.getUint8(offset);
  }

  u16(offset: number, what: string): number {
    this.require(offset, 2, what);
    return this.view.getUint16(offset, true);
  }

  u32(offset: number, what: string): number {
    this.require(offset, 4, what);
    return this.view.getUint32(offset, true);
  }

  /** A view (not a copy) of [offset, offset+length). */
  slice(offset: number, length: number, what: string): Uint8Array {
    this.require(offset, length, what);
    return this.bytes.subarray(offset, offset + length);
  }
}

/** Little-endian writes into a buffer the loader builds itself (sizes are fixed by the loader). */
export class ByteWriter {
  readonly bytes: Uint8Array;
  private readonly view: DataView;

  constructor(length: number) {
    this.bytes = new Uint8Array(length);
    this.view = new DataView(this.bytes.buffer);
  }

  u8(offset: number, value: number): void {
    this.view.setUint8(offset, value);
  }

  u16(offset: number, value: number): void {
    this.view.setUint16(offset, value, true);
  }

  u32(offset: number, value: number): void {
    this.view.setUint32(offset, value, true);
  }

  /** A 64-bit field from a value below 2^53 (guest addresses here are below 4 GiB). */
  u64(offset: number, value: number): void {
    this.view.setBigUint64(offset, BigInt(value), true);
  }

  set(offset: number, data: Uint8Array): void {
    this.bytes.set(data, offset);
  }
}

/** True if the bytes at `offset` equal `expected` (false past the end of the file). */
export function bytesAt(bytes: Uint8Array, offset: number, expected: readonly number[]): boolean {
  if (offset < 0 || offset + expected.length > bytes.length) return false;
  return expected.every((b, i) => bytes[offset + i] === b);
}
