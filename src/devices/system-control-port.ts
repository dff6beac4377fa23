// Port 0x61, "system control port B" of the PC/AT (IBM 5170 Technical Reference; the PIIX's
// NMI Status and Control register keeps the layout). Read: bit 0 timer 2 gate, bit 1 speaker
// data, bits 2-3 as written, bit 4 refresh toggle, bit 5 timer 2 output, bits 6-7 (IOCHK and
// parity error) always clear. Write: bits 0-3; the upper bits are status only.
import { readBytes, writeBytes } from './byte-io.js';
import { checkSnapshotVersion, type Device, type DeviceSnapshot } from './device.js';

/** What port 0x61 needs of the 8254: counter 2's GATE input and OUT pin. */
export interface Timer2Pins {
  setGate(channel: number, level: boolean): void;
  out(channel: number): boolean;
}

const GATE2 = 0x01;
const WRITABLE = 0x0f;
const REFRESH = 0x10;
const OUT2 = 0x20;
const SNAPSHOT_VERSION = 1;

export class SystemControlPort implements Device {
  readonly name = 'system-control-port';
  private control = 0;
  /**
   * Hardware toggles this every 15.085 us with DRAM refresh (counter 1). It flips on each read
   * here, so code that waits for it to change (Linux's and BIOSes' delay loops) always progresses
   * whatever the resolution of the guest clock.
   */
  private refresh = false;

  constructor(private readonly pit: Timer2Pins) {}

  /** Bit 1 and timer 2's output together drive the speaker; exposed for a future beeper. */
  get speakerData(): boolean {
    return (this.control & 0x02) !== 0;
  }

  read(offset: number, size: number): number {
    return readBytes(offset, size, 1, () => {
      const value = this.control | (this.refresh ? REFRESH : 0) | (this.pit.out(2) ? OUT2 : 0);
      this.refresh = !this.refresh;
      return value;
    });
  }

  write(offset: number, size: number, value: number): void {
    writeBytes(offset, size, value, 1, (_, v) => {
      this.control = v & WRITABLE;
      this.pit.setGate(2, (v & GATE2) !== 0);
    });
  }

  snapshot(): DeviceSnapshot {
    return { version: SNAPSHOT_VERSION, control: this.control, refresh: this.refresh };
  }

  /** Timer 2's GATE level is part of the PIT's snapshot, so nothing is driven here. */
  restore(s: DeviceSnapshot): void {
    checkSnapshotVersion(this.name, SNAPSHOT_VERSION, s);
    this.control = s.control as number;
    this.refresh = s.refresh as boolean;
  }
}
