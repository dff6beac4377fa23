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

/** What a read of `size` bytes returns where nothing answers: all ones. */
export function allOnes(size: number): number {
  return size >= 4 ? 0xffffffff : (1 << (size * 8)) - 1;
}

/**
 * A read of `size` bytes at `offset` from a device whose registers are 32 bits wide: the bytes
 * of `register` from `offset & 3` up, as a narrower bus cycle sees them.
 */
export function registerBytes(register: number, offset: number, size: number): number {
  return ((register >>> ((offset & 3) * 8)) & allOnes(size)) >>> 0;
}
