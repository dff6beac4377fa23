// An index register and the data registers it selects: how the VGA's sequencer, graphics
// controller and CRT controller are reached (write the index at one port, then read or write the
// selected register at the next; IBM VGA Technical Reference, "Programming Considerations").
// Each register keeps the bits the part implements and reads them back; an index past the last
// register reads 0 and takes no writes.

export class IndexedRegisters {
  /** The index register, as read back. */
  index = 0;
  readonly values: Uint8Array;

  /**
   * `masks`: for each register, the bits it keeps. `indexMask`: the bits of the index register
   * the part implements.
   */
  constructor(
    private readonly masks: readonly number[],
    private readonly indexMask: number,
  ) {
    this.values = new Uint8Array(masks.length);
  }

  writeIndex(value: number): void {
    this.index = value & this.indexMask;
  }

  read(): number {
    return this.index < this.values.length ? this.values[this.index] : 0;
  }

  write(value: number): void {
    if (this.index < this.values.length) this.values[this.index] = value & this.masks[this.index];
  }

  /** Register `index` (0 past the last one). */
  get(index: number): number {
    return index < this.values.length ? this.values[index] : 0;
  }

  restore(index: number, values: readonly number[]): void {
    this.index = index & this.indexMask;
    this.values.set(values.slice(0, this.values.length));
  }
}
