// The VGA graphics controller's registers, ports 0x3CE (index) and 0x3CF (data) (IBM VGA
// Technical Reference, "Graphics Controller Registers"): set/reset, enable set/reset, color
// compare, data rotate, read map select, graphics mode, miscellaneous, color don't care and bit
// mask. They are kept and read back; what they do to the CPU's accesses to the planes is not
// emulated (docs/vga.md): guest RAM stands at 0xA0000-0xBFFFF. The index register keeps 4 bits;
// indices 9 to 15 name no register. The bits each register keeps follow QEMU's gr_mask.
import { IndexedRegisters } from './indexed-registers.js';

export const GraphicsRegister = {
  SET_RESET: 0x00,
  ENABLE_SET_RESET: 0x01,
  COLOR_COMPARE: 0x02,
  DATA_ROTATE: 0x03,
  READ_MAP_SELECT: 0x04,
  MODE: 0x05,
  MISCELLANEOUS: 0x06,
  COLOR_DONT_CARE: 0x07,
  BIT_MASK: 0x08,
} as const;

/** Miscellaneous register bit 0: graphics mode (0: alphanumeric). */
export const MISCELLANEOUS_GRAPHICS = 0x01;

const MASKS = [0x0f, 0x0f, 0x0f, 0x1f, 0x03, 0x7b, 0x0f, 0x0f, 0xff, 0, 0, 0, 0, 0, 0, 0];

export function newGraphicsController(): IndexedRegisters {
  return new IndexedRegisters(MASKS, 0x0f);
}
