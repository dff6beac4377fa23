// The VGA's CRT controller registers 0x00-0x18, at ports 0x3D4/0x3D5 or 0x3B4/0x3B5 as the
// miscellaneous output register's I/O address select says (IBM VGA Technical Reference, "CRT
// Controller Registers"). All are readable on the VGA (the cursor location and start address
// included, unlike the 6845's). The index register keeps all 8 bits, as QEMU's and Bochs's do;
// an index past 0x18 reads 0 and takes no writes. Bit 7 of the vertical retrace end register
// (0x11) protects registers 0 to 7 from writes, except bit 4 of the overflow register (7), the
// line compare's bit 8.
import { IndexedRegisters } from './indexed-registers.js';

export const CrtcRegister = {
  HORIZONTAL_DISPLAY_END: 0x01,
  OVERFLOW: 0x07,
  MAXIMUM_SCAN_LINE: 0x09,
  CURSOR_START: 0x0a,
  CURSOR_END: 0x0b,
  START_ADDRESS_HIGH: 0x0c,
  START_ADDRESS_LOW: 0x0d,
  CURSOR_LOCATION_HIGH: 0x0e,
  CURSOR_LOCATION_LOW: 0x0f,
  VERTICAL_RETRACE_END: 0x11,
  VERTICAL_DISPLAY_END: 0x12,
  OFFSET: 0x13,
} as const;

export const CRTC_REGISTER_COUNT = 0x19;
/** Vertical retrace end bit 7: registers 0-7 are write-protected. */
const PROTECT = 0x80;
/** Overflow bit 4 (line compare bit 8) stays writable under the protection. */
const OVERFLOW_LINE_COMPARE_8 = 0x10;

export class Crtc extends IndexedRegisters {
  constructor() {
    super(new Array<number>(CRTC_REGISTER_COUNT).fill(0xff), 0xff);
  }

  override write(value: number): void {
    const index = this.index;
    if (index <= CrtcRegister.OVERFLOW && this.values[CrtcRegister.VERTICAL_RETRACE_END] & PROTECT) {
      if (index === CrtcRegister.OVERFLOW) {
        this.values[index] = (this.values[index] & ~OVERFLOW_LINE_COMPARE_8) | (value & OVERFLOW_LINE_COMPARE_8);
      }
      return;
    }
    super.write(value);
  }
}
