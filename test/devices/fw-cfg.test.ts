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
});
