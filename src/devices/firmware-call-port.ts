// The firmware call port: the BIOS service stubs a firmware-less boot leaves in the IVT
// (src/firmware/bios-state.ts) write the vector the guest called here. Nothing in the machine
// provides the service, so the handler ends the run with a message naming it.
import { writeBytes } from './byte-io.js';
import { checkSnapshotVersion, type Device, type DeviceSnapshot } from './device.js';

const SNAPSHOT_VERSION = 1;

export class FirmwareCallPort implements Device {
  readonly name = 'firmware-call';

  constructor(private readonly onCall: (vector: number) => void) {}

  read(): number {
    return 0xff;
  }

  write(offset: number, size: number, value: number): void {
    writeBytes(offset, size, value, 1, (_, vector) => this.onCall(vector));
  }

  snapshot(): DeviceSnapshot {
    return { version: SNAPSHOT_VERSION };
  }

  restore(s: DeviceSnapshot): void {
    checkSnapshotVersion(this.name, SNAPSHOT_VERSION, s);
  }
}
