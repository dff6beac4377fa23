// QEMU's isa-debugcon where SeaBIOS writes its debug log (CONFIG_DEBUG_IO, port 0x402; QEMU:
// `-chardev ... -device isa-debugcon,iobase=0x402`). Bytes are gathered into lines and handed on:
// the machine learns from them that the firmware gave up ("No bootable device."). A read
// returns 0xE9, as QEMU's debugcon answers, which is how SeaBIOS tells the port is there.
import { checkSnapshotVersion, type Device, type DeviceSnapshot } from './device.js';

export const FIRMWARE_LOG_PORT = 0x402;
/** A line longer than this is handed on in pieces: the log is text, not a stream to keep whole. */
const MAX_LINE = 512;
const DEBUGCON_READBACK = 0xe9;

export class FirmwareLog implements Device {
  readonly name = 'firmware-log';
  private line: number[] = [];

  constructor(private readonly onLine: (line: string) => void) {}

  read(): number {
    return DEBUGCON_READBACK;
  }

  write(_offset: number, _size: number, value: number): void {
    const byte = value & 0xff;
    if (byte === 0x0a || this.line.length >= MAX_LINE) {
      const text = String.fromCharCode(...this.line).replace(/\r$/, '');
      this.line = [];
      this.onLine(text);
      if (byte === 0x0a) return;
    }
    this.line.push(byte);
  }

  snapshot(): DeviceSnapshot {
    return { version: 1, line: [...this.line] };
  }

  restore(s: DeviceSnapshot): void {
    checkSnapshotVersion(this.name, 1, s);
    this.line = [...(s.line as number[])];
  }
}
