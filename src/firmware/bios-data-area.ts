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

  get ticks(): number {
    return this.view.getUint32(TIMER_TICKS, true);
  }
}
