// QEMU's fw_cfg as guests read it (the checks of QEMU's own tests/qtest/fw_cfg-test.c, through
// the PC's ports 0x510/0x511): select a key with a 16-bit OUT, read its bytes one IN at a time.
import { describe, expect, it } from 'vitest';
import { FwCfg, FwCfgKey } from '../../src/devices/fw-cfg.js';
import { ports, type Ports } from './helpers.js';

const RAM = 128 << 20;

function read(io: Ports, key: number, length: number): number[] {
  io.outw(0x510, key);
  return Array.from({ length }, () => io.inb(0x511));
}

/** Little-endian number of `length` bytes. */
function readLe(io: Ports, key: number, length: number): number {
  return read(io, key, length).reduceRight((v, b) => v * 256 + b, 0);
}

describe('fw_cfg (QEMU docs/specs/fw_cfg.rst, traditional interface)', () => {
  const io = ports([0x510, 2, new FwCfg({ ramBytes: RAM })]);

  it('answers the signature, the ID (no DMA), the RAM size and one CPU', () => {
    expect(String.fromCharCode(...read(io, FwCfgKey.SIGNATURE, 4))).toBe('QEMU');
    expect(readLe(io, FwCfgKey.ID, 4)).toBe(1);
    expect(read(io, FwCfgKey.UUID, 16)).toEqual(new Array(16).fill(0));
    expect(readLe(io, FwCfgKey.RAM_SIZE, 8)).toBe(RAM);
    expect(readLe(io, FwCfgKey.NOGRAPHIC, 2)).toBe(1);
    expect(readLe(io, FwCfgKey.NB_CPUS, 2)).toBe(1);
    expect(readLe(io, FwCfgKey.MAX_CPUS, 2)).toBe(1);
    expect(readLe(io, FwCfgKey.NUMA, 8)).toBe(0);
    expect(readLe(io, FwCfgKey.BOOT_MENU, 2)).toBe(0);
  });

  it('rewinds at each selection, reads 0 past an item\'s end and for keys that name nothing', () => {
    expect(read(io, FwCfgKey.SIGNATURE, 6)).toEqual([0x51, 0x45, 0x4d, 0x55, 0, 0]);
    expect(read(io, FwCfgKey.SIGNATURE, 2)).toEqual([0x51, 0x45]);
    expect(read(io, 0x1234, 4)).toEqual([0, 0, 0, 0]);
    // The data port ignores writes; the selector port reads as nothing.
    io.outw(0x510, FwCfgKey.SIGNATURE);
    io.outb(0x511, 0x99);
    expect(io.inb(0x511)).toBe(0x51);
    expect(io.inb(0x510)).toBe(0);
  });

  it('lists etc/e820 in the big-endian file directory, and serves it under its key', () => {
    const count = new DataView(Uint8Array.from(read(io, FwCfgKey.FILE_DIR, 4)).buffer).getUint32(0);
    expect(count).toBe(1);
    const entry = Uint8Array.from(read(io, FwCfgKey.FILE_DIR, 4 + 64)).subarray(4);
    const view = new DataView(entry.buffer, entry.byteOffset);
    const size = view.getUint32(0);
    const select = view.getUint16(4);
    const name = new TextDecoder().decode(entry.subarray(8, 8 + 56)).replace(/\0+$/, '');
    expect({ size, select, name }).toEqual({ size: 20, select: FwCfgKey.FILE_FIRST, name: 'etc/e820' });
    const e820 = Uint8Array.from(read(io, select, size));
    const e = new DataView(e820.buffer);
    expect([Number(e.getBigUint64(0, true)), Number(e.getBigUint64(8, true)), e.getUint32(16, true)]).toEqual([0, RAM, 1]);
  });

  it('keeps its selection and position across a snapshot', () => {
    const device = new FwCfg({ ramBytes: RAM });
    const a = ports([0x510, 2, device]);
    a.outw(0x510, FwCfgKey.SIGNATURE);
    a.inb(0x511);
    const copy = new FwCfg({ ramBytes: RAM });
    copy.restore(device.snapshot());
    expect(ports([0x510, 2, copy]).inb(0x511)).toBe(0x45);
  });

  it('lists the files the machine adds after etc/e820, each under the next key (an option ROM for the firmware)', () => {
    const rom = Uint8Array.from({ length: 1024 }, (_, i) => i & 0xff);
    const extra = new Uint8Array([1, 2, 3]);
    const withFiles = ports([0x510, 2, new FwCfg({ ramBytes: RAM, files: [['pci1234,1111.rom', rom], ['etc/extra', extra]] })]);
    const dir = Uint8Array.from(read(withFiles, FwCfgKey.FILE_DIR, 4 + 3 * 64));
    const view = new DataView(dir.buffer);
    expect(view.getUint32(0)).toBe(3);
    const entries = [0, 1, 2].map((i) => {
      const at = 4 + i * 64;
      return {
        size: view.getUint32(at),
        select: view.getUint16(at + 4),
        name: new TextDecoder().decode(dir.subarray(at + 8, at + 64)).replace(/\0+$/, ''),
      };
    });
    expect(entries).toEqual([
      { size: 20, select: 0x20, name: 'etc/e820' },
      { size: 1024, select: 0x21, name: 'pci1234,1111.rom' },
      { size: 3, select: 0x22, name: 'etc/extra' },
    ]);
    expect(read(withFiles, 0x21, 1024)).toEqual(Array.from(rom));
    expect(read(withFiles, 0x22, 4)).toEqual([1, 2, 3, 0]);
  });

  it('refuses a file name that does not fit its 56 bytes with the NUL, and a name given twice', () => {
    expect(() => new FwCfg({ ramBytes: RAM, files: [['x'.repeat(56), new Uint8Array(1)]] })).toThrow(/longer than 55 bytes/);
    expect(new FwCfg({ ramBytes: RAM, files: [['x'.repeat(55), new Uint8Array(1)]] })).toBeInstanceOf(FwCfg);
    expect(() => new FwCfg({ ramBytes: RAM, files: [['etc/e820', new Uint8Array(1)]] })).toThrow(/given twice/);
  });
});
