// The Bochs/QEMU debug console at port 0xE9: every byte written is printed; a read returns 0xE9
// so a guest can detect the port.
import { checkSnapshotVersion, type Device, type DeviceSnapshot } from './device.js';

export class DebugConsole implements Device {
  readonly name = 'debugcon';
  bytesWritten = 0;

  constructor(private readonly output: (byte: number) => void) {}

  read(): number {
    return 0xe9;
  }

  write(_offset: number, _size: number, value: number): void {
    this.output(value & 0xff);
    this.bytesWritten++;
  }

  snapshot(): DeviceSnapshot {
    return { version: 1 };
  }

  restore(s: DeviceSnapshot): void {
    checkSnapshotVersion(this.name, 1, s);
  }
}
