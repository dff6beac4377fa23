// The paravirt engine's page-table rules (native/src/page-table-guard.cc), through the trap core
// in paravirtual mode: tables are read-only to the kernel, every mapping stays inside guest RAM,
// and updates reach only tables the kernel loaded.
import { afterEach, describe, expect, it } from 'vitest';
import { Errno, HYPERCALL_VECTOR } from '../../src/engines/paravirt/abi.js';
import { nativeCore, type NativeVcpu } from '../../src/vmm/native.js';

const MIB = 1 << 20;
const P = 1, W = 2, LARGE = 0x80;
const ok = 0;
const refused = (errno: number) => errno;

let vcpu: NativeVcpu | undefined;
afterEach(() => {
  vcpu?.close();
  vcpu = undefined;
});

function machine(ramBytes = 8 * MIB) {
  vcpu = new (nativeCore().Vcpu)(ramBytes, undefined, true);
  const trap = vcpu.trap!;
  trap.paravirtualize(HYPERCALL_VECTOR, 0xffffffff, 0xffffffff);
  const view = new DataView(vcpu.ram);
  const set = (address: number, value: number) => view.setUint32(address, value >>> 0, true);
  const get = (address: number) => view.getUint32(address, true);
  const guard = {
    pinDirectory: (physical: number) => trap.pinPageDirectory(physical),
    update: (pointer: number, value: number) => trap.updatePageTable(pointer, value >>> 0),
  };
  return { guard, set, get };
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

describe('the page-table rules of the paravirt engine', () => {
  it('pins a directory whose tables are mapped read-only, and takes updates to them', () => {
    const m = machine();
    const { pd, pt } = identity(m);
    expect(m.guard.pinDirectory(pd)).toBe(ok);
    // Its table is a table now: no writable mapping of it is let through.
    expect(m.guard.update(pt + 4 * 700, pt | P | W)).toBe(refused(Errno.EPERM));
    expect(m.guard.update(pt + 4 * 600, 0x300000 | P | W)).toBe(ok);
    expect(m.get(pt + 4 * 600)).toBe(0x300000 | P | W);
  });

  it('refuses a directory that maps its own table writable, and one mapped writable itself', () => {
    const m = machine();
    const { pd, pt } = identity(m);
    m.set(pt + 4 * (pt / 4096), pt | P | W);
    expect(m.guard.pinDirectory(pd)).toBe(refused(Errno.EPERM));
    m.set(pt + 4 * (pt / 4096), pt | P);
    m.set(pt + 4 * (pd / 4096), pd | P | W);
    expect(m.guard.pinDirectory(pd)).toBe(refused(Errno.EPERM));
    // Nothing was kept of the refused attempts: the table may still be written as a page.
    m.set(pt + 4 * (pd / 4096), pd | P);
    expect(m.guard.pinDirectory(pd)).toBe(ok);
  });

  it('refuses mappings outside guest RAM, 4 MiB pages, writable mappings of tables, and entries that are in no table', () => {
    const m = machine();
    const { pd, pt } = identity(m);
    expect(m.guard.pinDirectory(pd)).toBe(ok);
    expect(m.guard.update(pt + 4 * 5, 8 * MIB | P)).toBe(refused(Errno.EINVAL));
    expect(m.guard.update(pt + 4 * 5, 0xfee00000 | P | W)).toBe(refused(Errno.EINVAL));
    expect(m.guard.update(pd + 4 * 1, 0x400000 | LARGE | P | W)).toBe(refused(Errno.EINVAL));
    expect(m.guard.update(pt + 4 * 5, pd | P | W)).toBe(refused(Errno.EPERM));
    expect(m.guard.update(pt + 4 * 5, pt | P | W)).toBe(refused(Errno.EPERM));
    expect(m.guard.update(0x200000, 0)).toBe(refused(Errno.EINVAL));
    expect(m.guard.update(pt + 2, 0)).toBe(refused(Errno.EINVAL));
    // Nothing refused was written; read-only mappings of tables are fine.
    expect(m.get(pt + 4 * 5)).toBe(0x5000 | P | W);
    expect(m.guard.update(pt + 4 * 5, pd | P)).toBe(ok);
  });

  it('makes a table of a frame only while no validated table maps it writable, and frees it when its last entry goes', () => {
    const m = machine();
    const { pd, pt } = identity(m);
    expect(m.guard.pinDirectory(pd)).toBe(ok);
    const table = 0x200000;
    // Mapped writable by the identity table: it cannot become a table.
    expect(m.guard.update(pd + 4 * 1, table | P | W)).toBe(refused(Errno.EPERM));
    expect(m.guard.update(pt + 4 * (table / 4096), table | P)).toBe(ok);
    expect(m.guard.update(pd + 4 * 1, table | P | W)).toBe(ok);
    expect(m.guard.update(pt + 4 * (table / 4096), table | P | W)).toBe(refused(Errno.EPERM));
    expect(m.guard.update(pd + 4 * 1, 0)).toBe(ok);
    expect(m.guard.update(pt + 4 * (table / 4096), table | P | W)).toBe(ok);
  });
});
