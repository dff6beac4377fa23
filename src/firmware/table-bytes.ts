// A firmware table being laid out in bytes: the loaders' little-endian writer, with ASCII strings
// and the checksum byte that makes a range sum to zero, as both the ACPI and the MP tables use.
import { ByteWriter } from '../boot/bytes.js';

export class TableBytes extends ByteWriter {
  ascii(at: number, text: string): void {
    for (let i = 0; i < text.length; i++) this.bytes[at + i] = text.charCodeAt(i);
  }

  /** Sets byte `at` so that bytes [from, from + length) sum to zero. */
  checksum(at: number, length = this.bytes.length, from = 0): void {
    this.bytes[at] = 0;
    let sum = 0;
    for (let i = from; i < from + length; i++) sum += this.bytes[i];
    this.bytes[at] = (256 - (sum & 0xff)) & 0xff;
  }
}

/** A 32-bit value as four little-endian bytes. */
export function le32(value: number): number[] {
  return [value & 0xff, (value >>> 8) & 0xff, (value >>> 16) & 0xff, (value >>> 24) & 0xff];
}
