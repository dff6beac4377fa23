// The PIIX3's IDE function on the PCI bus, and the machine that plugs it in.
import { spawnSync } from 'node:child_process';
import { chmodSync, closeSync, openSync } from 'node:fs';
import { afterEach, describe, expect, it } from 'vitest';
import { PiixIde } from '../../src/devices/ide/piix-ide.js';
import { Machine, type DriveConfig } from '../../src/vmm/machine.js';
import { FakeRam, imageFile, media, patternSector, SECTOR } from './ide-helpers.js';
import { RecordingIrq } from './helpers.js';

/** An image this process cannot open for writing (as root: immutable, where chattr works), or undefined. */
function unwritableImage(sectors: number): string | undefined {
  const path = imageFile(sectors);
  chmodSync(path, 0o444);
  if (process.getuid?.() === 0) spawnSync('chattr', ['+i', path]);
  try {
    closeSync(openSync(path, 'r+'));
  } catch {
    return path;
  }
  return undefined;
}

function makeWritable(path: string): void {
  if (process.getuid?.() === 0) spawnSync('chattr', ['-i', path]);
  chmodSync(path, 0o644);
}

const select = (devfn: number, register: number) => (0x80000000 | (devfn << 8) | register) >>> 0;
const IDE_DEVFN = (1 << 3) | 1;

describe('the PIIX3 IDE function', () => {
  const ide = () => new PiixIde([media(imageFile(64))], { primaryIrq: new RecordingIrq(), secondaryIrq: new RecordingIrq(), memory: new FakeRam(4096) });

  it('is 8086:7010, an IDE controller in compatibility mode with bus mastering, its BAR 4 16 bytes of I/O', () => {
    const { config } = ide();
    expect(config.read(0x00, 4)).toBe(0x70108086);
    expect(config.read(0x08, 4) >>> 8).toBe(0x010180);
    expect(config.read(0x06, 2)).toBe(0x0280);
    config.write(0x20, 4, 0xffffffff);
    expect(config.read(0x20, 4)).toBe(0xfffffff1);
    for (const bar of [0x10, 0x14, 0x18, 0x1c, 0x24]) {
      config.write(bar, 4, 0xffffffff);
      expect(config.read(bar, 4)).toBe(0);
    }
    config.write(0x04, 2, 0xffff);
    expect(config.read(0x04, 2)).toBe(0x0005); // I/O space and bus master
    expect(config.read(0x3d, 1)).toBe(0); // no INTx#: the channels use IRQ 14 and 15
  });

  it('keeps its timing registers', () => {
    const { config } = ide();
    config.write(0x40, 4, 0xa307e307);
    config.write(0x44, 1, 0x0b);
    expect(config.read(0x40, 4)).toBe(0xa307e307);
    expect(config.read(0x44, 1)).toBe(0x0b);
    config.write(0x48, 1, 0xff); // the PIIX4's Ultra DMA control is not on the PIIX3
    expect(config.read(0x48, 1)).toBe(0);
  });
});

describe('a machine with drives', () => {
  const machines: Machine[] = [];
  afterEach(() => {
    while (machines.length > 0) machines.pop()!.close();
  });
  const machine = (drives?: DriveConfig[]) => {
    const m = new Machine({ ramBytes: 16 << 20, consoleOutput: () => {}, drives });
    machines.push(m);
    return m;
  };
  const config = (m: Machine, devfn: number, register: number, size: 1 | 2 | 4, value?: number) => {
    m.ports.write(0xcf8, 4, select(devfn, register & ~3));
    const port = 0xcfc + (register & 3);
    if (value === undefined) return m.ports.read(port, size);
    m.ports.write(port, size, value);
    return value;
  };

  it('has no PIIX3 functions and no IDE ports without drives', () => {
    const m = machine();
    expect(config(m, 1 << 3, 0, 2)).toBe(0xffff);
    expect(config(m, IDE_DEVFN, 0, 2)).toBe(0xffff);
    expect(m.ports.read(0x1f7, 1)).toBe(0xff);
    expect(m.description.drives).toBeUndefined();
    expect([...m.stateParts().keys()].some((id) => id.startsWith('ide'))).toBe(false);
  });

  it('has the ISA bridge and the IDE controller at 00:01.0 and 00:01.1 with an empty drive list', () => {
    const m = machine([]);
    expect(config(m, 1 << 3, 0, 4)).toBe(0x70008086);
    expect(config(m, IDE_DEVFN, 0, 4)).toBe(0x70108086);
    expect(config(m, IDE_DEVFN, 0x40, 4)).toBe(0x80008000); // both channels' decode enabled, as firmware leaves them
    expect(m.ports.read(0x1f7, 1)).toBe(0xff); // no drive: the bus floats
    expect(m.description.drives).toEqual([]);
  });

  it('serves its drives at the legacy ports, and DMA into guest RAM where BAR 4 is mapped', () => {
    const path = imageFile(64);
    const m = machine([{ path, index: 2, readOnly: false }]);
    expect(m.description.drives).toEqual([{ path, index: 2, readOnly: false }]);
    expect(m.ports.read(0x1f7, 1)).toBe(0xff); // the primary channel is empty
    m.ports.write(0x176, 1, 0xa0);
    expect(m.ports.read(0x177, 1)).toBe(0x50);

    config(m, IDE_DEVFN, 0x20, 4, 0xc000);
    expect(m.ports.read(0xc00a, 1)).toBe(0xff); // I/O decoding is off
    config(m, IDE_DEVFN, 0x04, 2, 0x0005);
    m.ram.fill(0, 0x8000, 0x8010);
    new DataView(m.ram.buffer).setUint32(0x8000, 0x9000, true);
    new DataView(m.ram.buffer).setUint32(0x8004, 0x80000000 | SECTOR, true);
    m.ports.write(0xc00c, 4, 0x8000); // the secondary channel's table
    m.ports.write(0x172, 1, 1);
    m.ports.write(0x173, 1, 33);
    m.ports.write(0x174, 1, 0);
    m.ports.write(0x175, 1, 0);
    m.ports.write(0x176, 1, 0xe0);
    m.ports.write(0x177, 1, 0xc8); // READ DMA
    m.ports.write(0xc008, 1, 0x09);
    expect(m.ram.subarray(0x9000, 0x9000 + SECTOR)).toEqual(patternSector(33));
    expect(m.ports.read(0xc00a, 1)).toBe(0x04);
    expect(m.ports.read(0x177, 1)).toBe(0x50);

    config(m, IDE_DEVFN, 0x20, 4, 0xd000); // the BAR moves
    expect(m.ports.read(0xc00c, 4)).toBe(0xffffffff);
    expect(m.ports.read(0xd00c, 4)).toBe(0x8000);
    config(m, IDE_DEVFN, 0x20, 4, 0x01f0); // onto the IDE ports: decodes nothing, the drive is still there
    expect(m.ports.read(0xd00c, 4)).toBe(0xffffffff);
    expect(m.ports.read(0x177, 1)).toBe(0x50);
    config(m, IDE_DEVFN, 0x20, 4, 0xd000);
    config(m, IDE_DEVFN, 0x04, 2, 0x0000);
    expect(m.ports.read(0xd00c, 4)).toBe(0xffffffff);
  });

  it('does no DMA until the guest enables bus mastering', () => {
    const m = machine([{ path: imageFile(64), index: 0, readOnly: false }]);
    config(m, IDE_DEVFN, 0x20, 4, 0xc000);
    config(m, IDE_DEVFN, 0x04, 2, 0x0001);
    new DataView(m.ram.buffer).setUint32(0x8000, 0x9000, true);
    new DataView(m.ram.buffer).setUint32(0x8004, 0x80000000 | SECTOR, true);
    m.ports.write(0xc004, 4, 0x8000);
    m.ports.write(0x1f6, 1, 0xe0);
    m.ports.write(0x1f2, 1, 1);
    m.ports.write(0x1f3, 1, 5);
    m.ports.write(0x1f7, 1, 0xc8);
    m.ports.write(0xc000, 1, 0x09);
    expect(m.ram[0x9000]).toBe(0);
    expect(m.ports.read(0x1f7, 1)).toBe(0x58);
  });

  it('opens a file it may not write read-only, and says so in its description', (context) => {
    const path = unwritableImage(8);
    if (path === undefined) return context.skip();
    try {
      const m = machine([{ path, index: 0, readOnly: false }]);
      expect(m.description.drives![0].readOnly).toBe(true);
    } finally {
      makeWritable(path);
    }
  });

  it('refuses drives that cannot be placed', () => {
    const path = imageFile(8);
    expect(() => machine([{ path, index: 4, readOnly: false }])).toThrow(/not a place/);
    expect(() => machine([{ path, index: 1, readOnly: false }, { path, index: 1, readOnly: true }])).toThrow(/two drives have index 1/);
  });

  it('saves the controller with the machine and maps BAR 4 again on restore', () => {
    const path = imageFile(64);
    const drives = [{ path, index: 0, readOnly: false }, { path: imageFile(64), index: 1, readOnly: true }];
    const a = machine(drives);
    const parts = [...a.stateParts().keys()];
    expect(parts).toEqual(expect.arrayContaining(['ide0', 'ide0-control', 'ide1', 'ide1-control', 'pci-host']));
    config(a, IDE_DEVFN, 0x20, 4, 0xc000);
    config(a, IDE_DEVFN, 0x04, 2, 0x0005);
    expect([...a.stateParts().keys()].some((id) => id.includes('bus-master'))).toBe(false);
    a.ports.write(0xc004, 4, 0x12340);
    a.ports.write(0x1f6, 1, 0xe0);
    a.ports.write(0x1f2, 1, 2);
    a.ports.write(0x1f3, 1, 9);
    a.ports.write(0x1f7, 1, 0x20);
    for (let i = 0; i < 64; i++) a.ports.read(0x1f0, 4);
    const state = JSON.parse(JSON.stringify(Object.fromEntries([...a.stateParts()].map(([id, part]) => [id, part.snapshot()]))));

    const b = machine(drives);
    for (const [id, part] of b.stateParts()) part.restore(state[id]);
    expect(b.ports.read(0xc004, 4)).toBe(0x12340);
    const rest = new Uint8Array(SECTOR - 256);
    const view = new DataView(rest.buffer);
    for (let i = 0; i < rest.length; i += 4) view.setUint32(i, b.ports.read(0x1f0, 4), true);
    expect(rest).toEqual(patternSector(9).subarray(256));
  });
});
