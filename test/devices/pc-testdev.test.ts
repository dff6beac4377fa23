// QEMU's pc-testdev as KVM's unit tests use it: the scratch port at 0xE0 at every width, the
// flush port, the IRQ lines and the MMIO scratch memory.
import { describe, expect, it } from 'vitest';
import { PcTestdev, PcTestdevIrqLines, PcTestdevMemory } from '../../src/devices/pc-testdev.js';
import { ports, RecordingIrq } from './helpers.js';

describe('pc-testdev', () => {
  it('keeps a 32-bit scratch value at 0xE0 that reads back at any width and offset', () => {
    const io = ports([0xe0, 8, new PcTestdev()]);
    io.outl(0xe0, 0x11223344);
    expect(io.inl(0xe0)).toBe(0x11223344);
    expect(io.inb(0xe3)).toBe(0x11);
    io.outb(0xe1, 0xaa);
    expect(io.inw(0xe0)).toBe(0xaa44);
    io.outl(0xe4, 0x1000); // a flush request changes nothing that reads back
    expect(io.inl(0xe0)).toBe(0x1122aa44);
  });

  it('drives ISA IRQ n from port 0x2000 + n', () => {
    const lines = new Map<number, RecordingIrq>();
    const line = (n: number) => (lines.has(n) ? lines.get(n)! : (lines.set(n, new RecordingIrq()), lines.get(n)!));
    const io = ports([0x2000, 24, new PcTestdevIrqLines(line)]);
    io.outb(0x2000 + 10, 1);
    expect(line(10).level).toBe(true);
    io.outb(0x2000 + 10, 0);
    expect(line(10).level).toBe(false);
    expect(line(10).rises).toBe(1);
  });

  it('has 64 KiB of memory behind MMIO', () => {
    const mem = new PcTestdevMemory();
    mem.write(0x10, 4, 0xdeadbeef);
    mem.write(0x14, 2, 0x1234);
    expect(mem.read(0x10, 4)).toBe(0xdeadbeef);
    expect(mem.read(0x12, 4)).toBe(0x1234dead);
    expect(mem.read(0xfffe, 2)).toBe(0);
  });
});
