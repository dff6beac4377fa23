// The BIOS data area at 0x400 (IBM PC/AT Technical Reference; the layout SeaBIOS's biosvar.h
// keeps): the fields a BIOS fills at power-on and that boot loaders and kernels read, such as
// Linux's reserve_bios_regions() (base memory size and EBDA segment) and its MP table scan.

export const BDA_BASE = 0x400;

const COM_PORTS = 0x00; // four words
const EBDA_SEGMENT = 0x0e;
const EQUIPMENT = 0x10;
const BASE_MEMORY_KIB = 0x13;
const TIMER_TICKS = 0x6c;
const TIMER_ROLLOVER = 0x70;
// The video fields (SeaBIOS's struct bios_data_area_s, video_mode to dcc_index).
const VIDEO_MODE = 0x49;
const VIDEO_COLUMNS = 0x4a;
const VIDEO_PAGE_BYTES = 0x4c;
const VIDEO_PAGE_START = 0x4e;
const CURSOR_POSITIONS = 0x50; // eight words, one per page
const CURSOR_TYPE = 0x60;
const VIDEO_PAGE = 0x62;
const CRTC_ADDRESS = 0x63;
const VIDEO_MSR = 0x65;
const VIDEO_PALETTE = 0x66;
const VIDEO_ROWS = 0x84; // rows - 1
const CHAR_HEIGHT = 0x85;
const VIDEO_CTL = 0x87;
const VIDEO_SWITCHES = 0x88;
const MODESET_CTL = 0x89;
const DCC_INDEX = 0x8a;
/** Equipment word bits 4-5: the initial video mode; 10b is 80x25 color. */
const EQUIPMENT_VIDEO_MASK = 0x30;
const EQUIPMENT_VIDEO_80X25_COLOR = 0x20;

/** Equipment word: bits 9-11 the number of serial ports, bit 1 an x87 FPU. */
const EQUIPMENT_ONE_SERIAL_PORT = 1 << 9;
const EQUIPMENT_FPU = 1 << 1;

/** The PIT's 18.2 Hz ticks in a day (1,573,040: 24 h at 1,193,182 / 65,536 Hz), as the BIOS counts them. */
export const TICKS_PER_DAY = 0x1800b0;
const MS_PER_DAY = 86_400_000;

export interface BiosDataAreaFields {
  baseMemoryKiB: number;
  ebdaSegment: number;
  com1Port: number;
  /** Wall-clock time at power-on (ms since the epoch): the tick count starts at its time of day, UTC as the RTC keeps it. */
  startTime: number;
}

/** A text mode as the BIOS data area describes it. */
export interface BdaTextMode {
  mode: number;
  columns: number;
  rows: number;
  charHeight: number;
  /** The CRT controller's index port (0x3D4 or 0x3B4). */
  crtcPort: number;
}

export class BiosDataArea {
  private readonly view: DataView;

  /** `bytes`: the 256 bytes at BDA_BASE. */
  constructor(bytes: Uint8Array) {
    this.view = new DataView(bytes.buffer, bytes.byteOffset, 0x100);
  }

  fill(fields: BiosDataAreaFields): void {
    for (let i = 0; i < 4; i++) this.view.setUint16(COM_PORTS + i * 2, i === 0 ? fields.com1Port : 0, true);
    this.view.setUint16(EBDA_SEGMENT, fields.ebdaSegment, true);
    this.view.setUint16(EQUIPMENT, EQUIPMENT_ONE_SERIAL_PORT | EQUIPMENT_FPU, true);
    this.view.setUint16(BASE_MEMORY_KIB, fields.baseMemoryKiB, true);
    const msToday = ((fields.startTime % MS_PER_DAY) + MS_PER_DAY) % MS_PER_DAY;
    this.view.setUint32(TIMER_TICKS, Math.floor((msToday * TICKS_PER_DAY) / MS_PER_DAY), true);
    this.view.setUint8(TIMER_ROLLOVER, 0);
  }

  /**
   * The video fields a VGA BIOS leaves after setting a text mode: what SeaVGABIOS's
   * init_bios_area and vga_set_mode store (80x25 color in the equipment word, the mode, its
   * geometry, the cursor on page 0 at 0,0 with the CGA-style shape 0x0607, the CRT controller's
   * port, and its fixed option bytes).
   */
  fillTextMode(mode: BdaTextMode): void {
    const v = this.view;
    v.setUint16(EQUIPMENT, (v.getUint16(EQUIPMENT, true) & ~EQUIPMENT_VIDEO_MASK) | EQUIPMENT_VIDEO_80X25_COLOR, true);
    v.setUint8(VIDEO_MODE, mode.mode);
    v.setUint16(VIDEO_COLUMNS, mode.columns, true);
    // One page of cells, rounded up to 2 KiB (calc_page_size).
    v.setUint16(VIDEO_PAGE_BYTES, Math.ceil((mode.columns * mode.rows * 2) / 2048) * 2048, true);
    v.setUint16(VIDEO_PAGE_START, 0, true);
    for (let page = 0; page < 8; page++) v.setUint16(CURSOR_POSITIONS + page * 2, 0, true);
    v.setUint16(CURSOR_TYPE, 0x0607, true);
    v.setUint8(VIDEO_PAGE, 0);
    v.setUint16(CRTC_ADDRESS, mode.crtcPort, true);
    v.setUint8(VIDEO_MSR, 0);
    v.setUint8(VIDEO_PALETTE, 0);
    v.setUint8(VIDEO_ROWS, mode.rows - 1);
    v.setUint16(CHAR_HEIGHT, mode.charHeight, true);
    v.setUint8(VIDEO_CTL, 0x60); // 256 KiB of video memory, the VGA active, cursor emulation on
    v.setUint8(VIDEO_SWITCHES, 0xf9);
    v.setUint8(MODESET_CTL, 0x51); // VGA active, 400 scan lines, display switching enabled
    v.setUint8(DCC_INDEX, 0x08); // the display combination code table's index (Ralf Brown's list, 0040:008A)
  }

  get ticks(): number {
    return this.view.getUint32(TIMER_TICKS, true);
  }
}
