// The POST diagnostic port 0x80. BIOSes write progress codes here and Linux writes to it as an
// I/O delay (outb_p). Writes are kept (last value) and otherwise ignored; reads return the last
// value written, as on many chipsets that latch it for a POST card.
import { readBytes, writeBytes } from './byte-io.js';
import { checkSnapshotVersion, type Device, type DeviceSnapshot } from './device.js';

const SNAPSHOT_VERSION = 1;

export class Port80 implements Device {
  readonly name = 'port80';
  private last = 0;
  /** Writes seen: a cheap measure of how often a guest uses the port as a delay. */
  writes = 0;

  get lastValue(): number {
    return this.last;
  }

  read(offset: number, size: number): number {
    return readBytes(offset, size, 1, () => this.last);
  }

  write(offset: number, size: number, value: number): void {
    writeBytes(offset, size, value, 1, (_, v) => {
      this.last = v;
      this.writes++;
    });
  }

  snapshot(): DeviceSnapshot {
    return { version: SNAPSHOT_VERSION, last: this.last };
  }

  restore(s: DeviceSnapshot): void {
    checkSnapshotVersion(this.name, SNAPSHOT_VERSION, s);
    this.last = s.last as number;
  }
}
