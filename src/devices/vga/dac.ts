// The VGA's palette DAC (IBM VGA Technical Reference, "Video Digital-to-Analog Converter"): 256
// colors of three 6-bit components. Writing an index to 0x3C8 starts a write of three components
// at 0x3C9, red, green, blue, after which the index moves on to the next color; writing an index
// to 0x3C7 starts reads the same way. One component counter serves both (QEMU's and Bochs's
// dac_sub_index), and a color is stored once its third component is written. 0x3C7 reads the
// DAC state (0: writing, 3: reading), 0x3C8 the write index, 0x3C6 the pel mask, kept and read
// back. The 8-bit DAC of VBE is not offered, so components keep 6 bits.

const COMPONENT_MASK = 0x3f;
const STATE_WRITE = 0;
const STATE_READ = 3;

export interface DacState {
  readIndex: number;
  writeIndex: number;
  component: number;
  state: number;
  pending: number[];
  pelMask: number;
  palette: number[];
}

export class Dac {
  private readIndex = 0;
  private writeIndex = 0;
  private component = 0;
  private state = STATE_WRITE;
  /** The components of the color being written, stored when the third comes. */
  private readonly pending = new Uint8Array(3);
  pelMask = 0xff;
  readonly palette = new Uint8Array(256 * 3);

  startRead(index: number): void {
    this.readIndex = index & 0xff;
    this.component = 0;
    this.state = STATE_READ;
  }

  startWrite(index: number): void {
    this.writeIndex = index & 0xff;
    this.component = 0;
    this.state = STATE_WRITE;
  }

  get status(): number {
    return this.state;
  }

  get writeAddress(): number {
    return this.writeIndex;
  }

  writeData(value: number): void {
    this.pending[this.component] = value & COMPONENT_MASK;
    if (++this.component < 3) return;
    this.palette.set(this.pending, this.writeIndex * 3);
    this.component = 0;
    this.writeIndex = (this.writeIndex + 1) & 0xff;
  }

  readData(): number {
    const value = this.palette[this.readIndex * 3 + this.component];
    if (++this.component === 3) {
      this.component = 0;
      this.readIndex = (this.readIndex + 1) & 0xff;
    }
    return value;
  }

  save(): DacState {
    return {
      readIndex: this.readIndex, writeIndex: this.writeIndex, component: this.component, state: this.state,
      pending: Array.from(this.pending), pelMask: this.pelMask, palette: Array.from(this.palette),
    };
  }

  load(s: DacState): void {
    this.readIndex = s.readIndex;
    this.writeIndex = s.writeIndex;
    this.component = s.component;
    this.state = s.state;
    this.pending.set(s.pending);
    this.pelMask = s.pelMask;
    this.palette.set(s.palette);
  }
}
