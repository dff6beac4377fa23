import { beforeEach, describe, expect, it } from 'vitest';
import { PciHost } from '../../src/devices/pci-host.js';
import { ports, type Ports } from './helpers.js';

const ADDRESS = 0xcf8;
const DATA = 0xcfc;
const select = (io: Ports, devfn: number, register: number, bus = 0) =>
  io.outl(ADDRESS, (0x80000000 | (bus << 16) | (devfn << 8) | register) >>> 0);

describe('PCI host bridge, configuration mechanism #1', () => {
  let host: PciHost;
  let io: Ports;
  beforeEach(() => {
    host = new PciHost();
    io = ports([0xcf8, 8, host]);
  });

  it("passes Linux's pci_check_type1", () => {
    io.outb(0xcfb, 0x01);
    const saved = io.inl(ADDRESS);
    io.outl(ADDRESS, 0x80000000);
    expect(io.inl(ADDRESS)).toBe(0x80000000);
    io.outl(ADDRESS, saved);
    expect(io.inl(ADDRESS)).toBe(saved);
  });

  it('answers only 32-bit accesses at 0xCF8; reserved bits read as zero', () => {
    io.outl(ADDRESS, 0xffffffff);
    expect(io.inl(ADDRESS)).toBe(0x80fffffc);
    expect(io.inb(ADDRESS)).toBe(0xff);
    expect(io.inw(0xcfa)).toBe(0xffff);
    io.outw(ADDRESS, 0);
    expect(io.inl(ADDRESS)).toBe(0x80fffffc);
  });

  it('reads the 82441FX identity at 8, 16 and 32 bits', () => {
    select(io, 0, 0x00);
    expect(io.inl(DATA)).toBe(0x12378086);
    expect(io.inw(DATA)).toBe(0x8086);
    expect(io.inw(DATA + 2)).toBe(0x1237);
    expect(io.inb(DATA + 1)).toBe(0x80);
    expect(io.inb(DATA + 3)).toBe(0x12);
    select(io, 0, 0x08);
    expect(io.inl(DATA)).toBe(0x06000002); // class 06/00/00, revision 2
    expect(io.inw(DATA + 2)).toBe(0x0600); // PCI_CLASS_DEVICE, what pci_sanity_check reads
    select(io, 0, 0x0c);
    expect(io.inb(DATA + 2)).toBe(0x00); // header type 0, single function
  });

  it('finds nothing else: every other function reads all ones', () => {
    const found: number[] = [];
    for (let devfn = 0; devfn < 0x100; devfn++) {
      select(io, devfn, 0x00);
      if (io.inw(DATA) !== 0xffff) found.push(devfn);
    }
    expect(found).toEqual([0]);
    select(io, 0, 0x00, 1);
    expect(io.inl(DATA)).toBe(0xffffffff);
    select(io, 0x08, 0x08);
    expect(io.inb(DATA + 3)).toBe(0xff);
  });

  it('reads all ones with the enable bit clear', () => {
    io.outl(ADDRESS, 0x00000000);
    expect(io.inl(DATA)).toBe(0xffffffff);
  });

  it('keeps its identity read-only and the writable registers writable', () => {
    select(io, 0, 0x00);
    io.outl(DATA, 0);
    expect(io.inl(DATA)).toBe(0x12378086);
    select(io, 0, 0x10);
    io.outl(DATA, 0xffffffff); // BAR sizing: no BARs
    expect(io.inl(DATA)).toBe(0);
    select(io, 0, 0x0c);
    io.outb(DATA + 1, 0x40); // latency timer
    expect(io.inb(DATA + 1)).toBe(0x40);
    select(io, 0, 0x58);
    io.outl(DATA, 0x33221100); // PAM registers: kept
    expect(io.inl(DATA)).toBe(0x33221100);
    select(io, 0, 0x04);
    io.outw(DATA, 0xffff);
    expect(io.inw(DATA)).toBe(0x0146); // only PERR# and SERR# enables are writable
  });

  it('restores a snapshot', () => {
    select(io, 0, 0x58);
    io.outl(DATA, 0x12345678);
    const other = new PciHost();
    other.restore(JSON.parse(JSON.stringify(host.snapshot())));
    expect(other.read(4, 4)).toBe(0x12345678);
    expect(other.read(0, 4)).toBe(0x80000058);
  });
});
