// Port 0x92, "system control port A" of the PS/2 and every PC chipset since (the PIIX's Port 92
// register): bit 0, a fast CPU reset on its rising edge; bit 1, the A20 gate. A20 is always on
// in this machine (RAM above 1 MiB never wraps), so bit 1 holds what is written and starts set,
// as firmware leaves it.
import { readBytes, writeBytes } from './byte-io.js';
import { checkSnapshotVersion, type Device, type DeviceSnapshot } from './device.js';

const SNAPSHOT_VERSION = 1;
const FAST_RESET = 1 << 0;
const A20_GATE = 1 << 1;

export class SystemControlPortA implements Device {
  readonly name = 'system-control-port-a';
  private value = A20_GATE;

  constructor(private readonly onReset: () => void) {}

  read(offset: number, size: number): number {
    return readBytes(offset, size, 1, () => this.value);
  }

  write(offset: number, size: number, value: number): void {
    writeBytes(offset, size, value, 1, (_, byte) => {
      const rising = (byte & FAST_RESET) !== 0 && (this.value & FAST_RESET) === 0;
      this.value = byte & (FAST_RESET | A20_GATE);
      if (rising) this.onReset();
    });
  }

  snapshot(): DeviceSnapshot {
    return { version: SNAPSHOT_VERSION, value: this.value };
  }

  restore(s: DeviceSnapshot): void {
    checkSnapshotVersion(this.name, SNAPSHOT_VERSION, s);
    this.value = s.value as number;
  }
}
