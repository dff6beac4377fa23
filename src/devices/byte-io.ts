// ISA devices decode byte-wide registers. A wider access to them is split by the bus into byte
// cycles on consecutive ports, low byte first; bytes outside the device's ports float high.

export function readBytes(offset: number, size: number, span: number, readByte: (offset: number) => number): number {
  let value = 0;
  for (let i = 0; i < size; i++) {
    const byte = offset + i < span ? readByte(offset + i) & 0xff : 0xff;
    value |= byte << (8 * i);
  }
  return value >>> 0;
}

export function writeBytes(
  offset: number,
  size: number,
  value: number,
  span: number,
  writeByte: (offset: number, byte: number) => void,
): void {
  for (let i = 0; i < size && offset + i < span; i++) writeByte(offset + i, (value >>> (8 * i)) & 0xff);
}
