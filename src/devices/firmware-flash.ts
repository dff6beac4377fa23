// The firmware's flash at the top of the 4 GiB space, as MMIO: reads return the image, writes
// are dropped (a ROM; no flash programming interface). The CPU never fetches from it here (the
// reset vector runs from the copy below 1 MiB: boot/firmware.ts), but the firmware may read it,
// as SeaBIOS does to reload itself after a reboot.
import { checkSnapshotVersion, type Device, type DeviceSnapshot } from './device.js';

export class FirmwareFlash implements Device {
  readonly name = 'firmware-flash';

  constructor(private readonly image: Uint8Array) {}

  read(offset: number, size: number): number {
    let value = 0;
    for (let i = 0; i < size; i++) value |= (this.image[offset + i] ?? 0xff) << (8 * i);
    return value >>> 0;
  }

  write(): void {}

  snapshot(): DeviceSnapshot {
    return { version: 1 };
  }

  restore(s: DeviceSnapshot): void {
    checkSnapshotVersion(this.name, 1, s);
  }
}
