// The VGA sequencer's registers, ports 0x3C4 (index) and 0x3C5 (data) (IBM VGA Technical
// Reference, "Sequencer Registers"): reset, clocking mode, map mask, character map select and
// memory mode. The index register keeps 3 bits; the bits each register keeps are the ones the
// part defines (QEMU's sr_mask agrees). Indices 5 to 7 name no register.
import { IndexedRegisters } from './indexed-registers.js';

export const SequencerRegister = {
  RESET: 0x00,
  CLOCKING_MODE: 0x01,
  MAP_MASK: 0x02,
  CHARACTER_MAP_SELECT: 0x03,
  MEMORY_MODE: 0x04,
} as const;

/** Clocking mode bit 5: screen off (the display is blanked, memory stays accessible). */
export const CLOCKING_MODE_SCREEN_OFF = 0x20;

const MASKS = [0x03, 0x3d, 0x0f, 0x3f, 0x0e, 0x00, 0x00, 0x00];

export function newSequencer(): IndexedRegisters {
  return new IndexedRegisters(MASKS, 0x07);
}
