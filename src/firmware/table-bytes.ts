// A firmware table being laid out in bytes: little-endian fields, ASCII strings, and the
// checksum byte that makes a range sum to zero, as both the ACPI tables and the MP tables use.
export class TableBytes {
  readonly bytes: Uint8Array;
  private readonly view: DataView;

  constructor(length: number) {
    this.bytes = new Uint8Array(length);
    this.view = new DataView(this.bytes.buffer);
  }

  u8(at: number, value: number): void { this.view.setUint8(at, value); }
  u16(at: number, value: number): void { this.view.setUint16(at, value, true); }
  u32(at: number, value: number): void { this.view.setUint32(at, value >>> 0, true); }
  u64(at: number, value: number): void {
    this.u32(at, value % 2 ** 32);
    this.u32(at + 4, Math.floor(value / 2 ** 32));
  }
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
