import { describe, expect, it } from 'vitest';
import { PciHost } from '../../src/devices/pci-host.js';
import { PciConfigSpace, PCI_COMMAND_IO, PCI_COMMAND_MASTER, PCI_COMMAND_MEMORY, type PciDevice } from '../../src/devices/pci/pci-function.js';
import { Piix3IsaBridge } from '../../src/devices/pci/piix3-isa-bridge.js';
import { PortBus } from '../../src/vmm/io-bus.js';
import type { Device } from '../../src/devices/device.js';
import { ports } from './helpers.js';

const select = (devfn: number, register: number) => (0x80000000 | (devfn << 8) | register) >>> 0;

describe('a PCI function on the host bridge', () => {
  const plugged = () => {
    const host = new PciHost();
    const config = new PciConfigSpace({ vendor: 0x8086, device: 0x7010, classCode: 0x010180 }, [
      undefined, undefined, undefined, undefined, { space: 'io', bytes: 16 }, { space: 'memory', bytes: 0x1000 },
    ]);
    config.allowCommand(PCI_COMMAND_MASTER);
    const writes: number[] = [];
    config.onWrite = (offset) => writes.push(offset);
    const device: PciDevice = { name: 'ide', config };
    host.plug(1, 1, device);
    host.plug(1, 0, new Piix3IsaBridge());
    return { io: ports([0xcf8, 8, host]), config, writes, host };
  };

  it('is found at its slot and function, with its class; function 0 says it has more', () => {
    const { io } = plugged();
    io.outl(0xcf8, select(0x09, 0x00));
    expect(io.inl(0xcfc)).toBe(0x70108086);
    io.outl(0xcf8, select(0x09, 0x08));
    expect(io.inl(0xcfc) >>> 8).toBe(0x010180);
    io.outl(0xcf8, select(0x08, 0x0c));
    expect(io.inb(0xcfe)).toBe(0x80);
    io.outl(0xcf8, select(0x08, 0x60));
    expect(io.inl(0xcfc)).toBe(0x80808080); // PIRQ routing disabled at reset
  });

  it('sizes its BARs the standard way and decodes only when enabled', () => {
    const { io, config, writes } = plugged();
    io.outl(0xcf8, select(0x09, 0x20));
    io.outl(0xcfc, 0xffffffff);
    expect(io.inl(0xcfc)).toBe(0xfffffff1); // 16 bytes of I/O space
    io.outl(0xcf8, select(0x09, 0x24));
    io.outl(0xcfc, 0xffffffff);
    expect(io.inl(0xcfc)).toBe(0xfffff000); // 4 KiB of 32-bit memory
    io.outl(0xcf8, select(0x09, 0x10));
    io.outl(0xcfc, 0xffffffff);
    expect(io.inl(0xcfc)).toBe(0); // no BAR 0
    io.outl(0xcf8, select(0x09, 0x20));
    io.outl(0xcfc, 0xc040);
    expect(config.barBase(4)).toBeUndefined(); // I/O decoding is off
    io.outl(0xcf8, select(0x09, 0x04));
    io.outw(0xcfc, 0xffff);
    expect(io.inw(0xcfc)).toBe(PCI_COMMAND_IO | PCI_COMMAND_MEMORY | PCI_COMMAND_MASTER);
    expect(config.barBase(4)).toBe(0xc040);
    expect(config.busMaster).toBe(true);
    expect(writes).toContain(0x04);
  });

  it('refuses two functions in one place', () => {
    const { host } = plugged();
    expect(() => host.plug(1, 1, new Piix3IsaBridge())).toThrow(/00:01.1 holds ide/);
  });

  it('restores every function and tells each', () => {
    const { io, host, writes } = plugged();
    io.outl(0xcf8, select(0x09, 0x3c));
    io.outb(0xcfc, 14);
    const other = plugged();
    other.host.restore(JSON.parse(JSON.stringify(host.snapshot())));
    expect(other.config.bytes[0x3c]).toBe(14);
    expect(other.writes.length).toBe(1);
    expect(writes.length).toBe(1);
  });
});

describe('a port bus range that moves', () => {
  it('is gone from its old ports after detach and answers at the new ones', () => {
    const bus = new PortBus();
    const device: Device = { name: 'bm', read: (offset) => offset + 1, write() {}, snapshot: () => ({ version: 1 }), restore() {} };
    bus.attach(0xc000, 16, device);
    expect(bus.read(0xc002, 1)).toBe(3);
    bus.detach(device);
    expect(bus.read(0xc002, 1)).toBe(0xff);
    bus.attach(0xc040, 16, device);
    expect(bus.read(0xc041, 1)).toBe(2);
    expect(bus.devices()).toEqual([device]);
  });
});
