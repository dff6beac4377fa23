// The paravirt engine's page-table rules: tables are read-only to the kernel, every mapping stays
// inside guest RAM, and updates reach only tables the kernel loaded.
import { describe, expect, it } from 'vitest';
import { Errno } from '../../../src/engines/paravirt/abi.js';
import { PageTableGuard } from '../../../src/engines/paravirt/page-table-guard.js';

const MIB = 1 << 20;
const P = 1, W = 2, LARGE = 0x80;

function machine(ramBytes = 8 * MIB) {
  const ram = new Uint8Array(ramBytes);
  const view = new DataView(ram.buffer);
  const written: number[] = [];
  const guard = new PageTableGuard(ram, (frame) => written.push(frame));
  const set = (address: number, value: number) => view.setUint32(address, value >>> 0, true);
  const get = (address: number) => view.getUint32(address, true);
  return { ram, guard, written, set, get };
}

// A directory at 1 MiB whose first entry names a table at 1 MiB + 4 KiB mapping 0-4 MiB, with
// both table frames read-only in it.
function identity(m: ReturnType<typeof machine>) {
  const pd = MIB, pt = MIB + 4096;
  m.set(pd, pt | P | W);
  for (let i = 0; i < 1024; i++) {
    const frame = i * 4096;
    m.set(pt + 4 * i, frame | P | (frame === pd || frame === pt ? 0 : W));
  }
  return { pd, pt };
}

describe('PageTableGuard', () => {
  it('pins a directory whose tables are mapped read-only, and takes updates to them', () => {
    const m = machine();
    const { pd, pt } = identity(m);
    expect(m.guard.pinDirectory(pd)).toEqual({ ok: true });
    expect(m.guard.isDirectory(pd / 4096)).toBe(true);
    expect(m.guard.isTable(pt / 4096)).toBe(true);
    expect(m.guard.update(pt + 4 * 600, 0x300000 | P | W)).toEqual({ ok: true });
    expect(m.get(pt + 4 * 600)).toBe(0x300000 | P | W);
    expect(m.written).toEqual([pt / 4096]);
  });

  it('refuses a directory that maps its own table writable, and one mapped writable itself', () => {
    const m = machine();
    const { pd, pt } = identity(m);
    m.set(pt + 4 * (pt / 4096), pt | P | W);
    expect(m.guard.pinDirectory(pd)).toMatchObject({ ok: false, errno: Errno.EPERM });
    m.set(pt + 4 * (pt / 4096), pt | P);
    m.set(pt + 4 * (pd / 4096), pd | P | W);
    expect(m.guard.pinDirectory(pd)).toMatchObject({ ok: false, errno: Errno.EPERM });
    expect(m.guard.isTable(pt / 4096)).toBe(false);
  });

  it('refuses mappings outside guest RAM, 4 MiB pages, writable mappings of tables, and entries that are in no table', () => {
    const m = machine();
    const { pd, pt } = identity(m);
    expect(m.guard.pinDirectory(pd).ok).toBe(true);
    expect(m.guard.update(pt + 4 * 5, 8 * MIB | P)).toMatchObject({ ok: false, errno: Errno.EINVAL });
    expect(m.guard.update(pt + 4 * 5, 0xfee00000 | P | W)).toMatchObject({ ok: false, errno: Errno.EINVAL });
    expect(m.guard.update(pd + 4 * 1, 0x400000 | LARGE | P | W)).toMatchObject({ ok: false, errno: Errno.EINVAL });
    expect(m.guard.update(pt + 4 * 5, pd | P | W)).toMatchObject({ ok: false, errno: Errno.EPERM });
    expect(m.guard.update(pt + 4 * 5, pt | P | W)).toMatchObject({ ok: false, errno: Errno.EPERM });
    expect(m.guard.update(0x200000, 0)).toMatchObject({ ok: false, errno: Errno.EINVAL });
    expect(m.guard.update(pt + 2, 0)).toMatchObject({ ok: false, errno: Errno.EINVAL });
    // Nothing refused was written; read-only mappings of tables are fine.
    expect(m.get(pt + 4 * 5)).toBe(0x5000 | P | W);
    expect(m.guard.update(pt + 4 * 5, pd | P)).toEqual({ ok: true });
  });

  it('makes a table of a frame only while no validated table maps it writable, and frees it when its last entry goes', () => {
    const m = machine();
    const { pd, pt } = identity(m);
    expect(m.guard.pinDirectory(pd).ok).toBe(true);
    const table = 0x200000;
    // Mapped writable by the identity table: it cannot become a table.
    expect(m.guard.update(pd + 4 * 1, table | P | W)).toMatchObject({ ok: false, errno: Errno.EPERM });
    expect(m.guard.update(pt + 4 * (table / 4096), table | P)).toEqual({ ok: true });
    expect(m.guard.update(pd + 4 * 1, table | P | W)).toEqual({ ok: true });
    expect(m.guard.isTable(table / 4096)).toBe(true);
    expect(m.guard.update(pt + 4 * (table / 4096), table | P | W)).toMatchObject({ ok: false, errno: Errno.EPERM });
    expect(m.guard.update(pd + 4 * 1, 0)).toEqual({ ok: true });
    expect(m.guard.isTable(table / 4096)).toBe(false);
    expect(m.guard.update(pt + 4 * (table / 4096), table | P | W)).toEqual({ ok: true });
  });
});
