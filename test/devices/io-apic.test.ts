// The I/O APIC as a driver programs it through IOREGSEL/IOWIN (82093AA datasheet): version,
// redirection entries, edge and level pins, Remote IRR and the EOI that clears it.
import { beforeEach, describe, expect, it } from 'vitest';
import { IoApic } from '../../src/devices/io-apic.js';

class RecordingApic {
  id = 0;
  messages: [mode: number, vector: number, level: boolean][] = [];
  matchesDestination(destination: number, logical: boolean): boolean {
    return logical ? (destination & 1) !== 0 : destination === this.id || destination === 0xff;
  }
  deliver(mode: number, vector: number, levelTriggered: boolean): void {
    this.messages.push([mode, vector, levelTriggered]);
  }
}

describe('I/O APIC', () => {
  let apic: RecordingApic;
  let ioapic: IoApic;
  const select = (reg: number) => ioapic.write(0x00, 4, reg);
  const readReg = (reg: number) => (select(reg), ioapic.read(0x10, 4));
  const writeReg = (reg: number, value: number) => (select(reg), ioapic.write(0x10, 4, value));
  const program = (pin: number, low: number, high = 0) => {
    writeReg(0x10 + 2 * pin + 1, high);
    writeReg(0x10 + 2 * pin, low);
  };

  beforeEach(() => {
    apic = new RecordingApic();
    ioapic = new IoApic(apic);
  });

  it('reports version 0x11 with 24 entries, all masked at reset', () => {
    expect(readReg(0x01)).toBe(0x00170011);
    for (let pin = 0; pin < 24; pin++) expect(readReg(0x10 + 2 * pin)).toBe(0x10000);
    writeReg(0x00, 0x0a000000);
    expect(readReg(0x00)).toBe(0x0a000000);
  });

  it('sends an edge pin on each rising edge while unmasked', () => {
    const pin = ioapic.pin(4);
    pin.set(true);
    expect(apic.messages).toEqual([]);
    pin.set(false);
    program(4, 0x34);
    pin.set(true);
    pin.set(true);
    pin.set(false);
    pin.set(true);
    expect(apic.messages).toEqual([[0, 0x34, false], [0, 0x34, false]]);
  });

  it('holds a level pin in Remote IRR until the EOI, then sends again if still asserted', () => {
    program(9, 0x39 | (1 << 15));
    const pin = ioapic.pin(9);
    pin.set(true);
    expect(readReg(0x10 + 18) & (1 << 14)).toBeTruthy();
    pin.set(true);
    expect(apic.messages.length).toBe(1);
    ioapic.endOfInterrupt(0x39);
    expect(apic.messages.length).toBe(2);
    pin.set(false);
    ioapic.endOfInterrupt(0x39);
    expect(readReg(0x10 + 18) & (1 << 14)).toBe(0);
    expect(apic.messages).toEqual([[0, 0x39, true], [0, 0x39, true]]);
  });

  it('sends a masked level pin that is still asserted once it is unmasked', () => {
    program(10, 0x3a | (1 << 15) | (1 << 16));
    ioapic.pin(10).set(true);
    expect(apic.messages).toEqual([]);
    program(10, 0x3a | (1 << 15));
    expect(apic.messages).toEqual([[0, 0x3a, true]]);
  });

  it('honours the destination: another APIC ID gets nothing, a logical match does', () => {
    program(3, 0x33, 5 << 24);
    ioapic.pin(3).set(true);
    expect(apic.messages).toEqual([]);
    ioapic.pin(3).set(false);
    program(3, 0x33 | (1 << 11), 1 << 24);
    ioapic.pin(3).set(true);
    expect(apic.messages).toEqual([[0, 0x33, false]]);
  });

  it('keeps Remote IRR and delivery status read-only', () => {
    program(1, 0x31 | (1 << 14) | (1 << 12));
    expect(readReg(0x12)).toBe(0x31);
  });
});
