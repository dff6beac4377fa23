// The VGA attribute controller (IBM VGA Technical Reference, "Attribute Controller Registers"):
// one port, 0x3C0, takes the index and the data in turn, by a flip-flop that reading input
// status 1 (0x3DA or 0x3BA) resets to "index"; the data is read at 0x3C1. The index register
// keeps the register number (bits 0-4) and the palette address source (bit 5), which enables
// the display when set. Registers: the 16 palette registers, mode control, overscan color, color
// plane enable, horizontal pel panning and color select, each keeping the bits the part defines
// (QEMU's masks agree). Reading 0x3C0 between an index and its data returns 0, as QEMU and Bochs
// do. Palette writes are kept whatever bit 5 says, as in QEMU.

export const AttributeRegister = {
  MODE_CONTROL: 0x10,
  OVERSCAN: 0x11,
  COLOR_PLANE_ENABLE: 0x12,
  HORIZONTAL_PEL_PANNING: 0x13,
  COLOR_SELECT: 0x14,
} as const;

export const ATTRIBUTE_REGISTER_COUNT = 0x15;
/** Index bit 5: palette address source; the display shows the palette only while it is set. */
export const PALETTE_ADDRESS_SOURCE = 0x20;
/** Mode control bits: graphics, monochrome attributes, attribute bit 7 blinks. */
export const MODE_CONTROL_GRAPHICS = 0x01;
export const MODE_CONTROL_MONOCHROME = 0x02;
export const MODE_CONTROL_BLINK = 0x08;

const MASKS = [...new Array<number>(16).fill(0x3f), 0xef, 0xff, 0x3f, 0x0f, 0x0f];

export class AttributeController {
  index = 0;
  /** The flip-flop: the next write to 0x3C0 is data. */
  dataNext = false;
  readonly values = new Uint8Array(ATTRIBUTE_REGISTER_COUNT);

  write(value: number): void {
    if (!this.dataNext) {
      this.index = value & 0x3f;
    } else {
      const register = this.index & 0x1f;
      if (register < ATTRIBUTE_REGISTER_COUNT) this.values[register] = value & MASKS[register];
    }
    this.dataNext = !this.dataNext;
  }

  readIndex(): number {
    return this.dataNext ? 0 : this.index;
  }

  readData(): number {
    const register = this.index & 0x1f;
    return register < ATTRIBUTE_REGISTER_COUNT ? this.values[register] : 0;
  }

  /** What reading input status 1 does. */
  resetFlipFlop(): void {
    this.dataNext = false;
  }

  get displayEnabled(): boolean {
    return (this.index & PALETTE_ADDRESS_SOURCE) !== 0;
  }
}
