// Shared test plumbing: the machine's real port bus, and an IRQ line that records what it saw.
import type { Device, IrqLine } from '../../src/devices/device.js';
import { PortBus } from '../../src/vmm/io-bus.js';

export class RecordingIrq implements IrqLine {
  level = false;
  rises = 0;

  set(level: boolean): void {
    if (level && !this.level) this.rises++;
    this.level = level;
  }
}

export interface Ports {
  inb(port: number): number;
  inw(port: number): number;
  inl(port: number): number;
  outb(port: number, value: number): void;
  outw(port: number, value: number): void;
  outl(port: number, value: number): void;
}

/** Devices attached as the VMM attaches them, reached through IN/OUT as the CPU would. */
export function ports(...attachments: [base: number, length: number, device: Device][]): Ports {
  const bus = new PortBus();
  for (const [base, length, device] of attachments) bus.attach(base, length, device);
  return {
    inb: (port) => bus.read(port, 1),
    inw: (port) => bus.read(port, 2),
    inl: (port) => bus.read(port, 4),
    outb: (port, value) => bus.write(port, 1, value),
    outw: (port, value) => bus.write(port, 2, value),
    outl: (port, value) => bus.write(port, 4, value),
  };
}
