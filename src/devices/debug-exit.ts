// Compatible with QEMU's isa-debug-exit: a write of value v ends the machine with exit status
// (v << 1) | 1, so a guest's test result reaches the shell and can never be mistaken for 0.
import { checkSnapshotVersion, type Device, type DeviceSnapshot } from './device.js';

export class DebugExit implements Device {
  readonly name = 'debug-exit';

  constructor(private readonly onExit: (status: number, value: number) => void) {}

  read(): number {
    return 0xff;
  }

  write(_offset: number, size: number, value: number): void {
    const masked = size >= 4 ? value >>> 0 : value & ((1 << (size * 8)) - 1);
    this.onExit(((masked << 1) | 1) & 0xff, masked);
  }

  snapshot(): DeviceSnapshot {
    return { version: 1 };
  }

  restore(s: DeviceSnapshot): void {
    checkSnapshotVersion(this.name, 1, s);
  }
}
