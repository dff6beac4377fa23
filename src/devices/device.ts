// What every device is: registers reached at an offset into its own range, and a state that can
// be saved and restored. A device never imports the VMM; its wiring (interrupt line, output sink)
// is handed to it.
export interface Device {
  /** Stable id, used as the key of its snapshot. */
  readonly name: string;
  read(offset: number, size: number): number;
  write(offset: number, size: number, value: number): void;
  snapshot(): DeviceSnapshot;
  restore(snapshot: DeviceSnapshot): void;
}

/** What a machine's state is gathered from: a device, or a part of the board with state of its own. */
export type StatefulPart = Pick<Device, 'name' | 'snapshot' | 'restore'>;

export interface DeviceSnapshot {
  readonly version: number;
  readonly [field: string]: unknown;
}

/** An interrupt line: the device raises or lowers it; the interrupt controller listens. */
export interface IrqLine {
  set(level: boolean): void;
}

export const noIrq: IrqLine = { set() {} };

/**
 * Guest-physical memory as a bus master reaches it (a DMA engine): RAM only. Writes through the
 * bytes it hands out must be followed by written(), so that the CPU forgets code translated from
 * what was there.
 */
export interface GuestMemory {
  /** `length` bytes at guest-physical `address`, or undefined if any of them is not RAM. */
  range(address: number, length: number): Uint8Array | undefined;
  /** The device has written [address, address + length). */
  written(address: number, length: number): void;
}

export class SnapshotVersionMismatch extends Error {
  constructor(device: string, expected: number, got: number) {
    super(`${device}: snapshot version ${got} is not the supported version ${expected}`);
  }
}

export function checkSnapshotVersion(device: string, expected: number, snapshot: DeviceSnapshot): void {
  if (snapshot.version !== expected) throw new SnapshotVersionMismatch(device, expected, snapshot.version);
}
