// The loader script run as SeaBIOS runs it (src/fw/romfile_loader.c): files placed, pointers
// moved by their targets' addresses, checksums fixed; then the tables must be whole at their place.
import { describe, expect, it } from 'vitest';
import { acpiTableFiles, TABLE_LOADER_FILE } from '../../src/firmware/acpi-table-loader.js';

const platform = {
  localApic: 0xfee00000, ioApic: 0xfec00000, hpet: 0xfed00000, sciIrq: 9, pmBase: 0x600, resetPort: 0xcf9, resetValue: 6, ps2Keyboard: true,
};

function runLoader(files: Map<string, Uint8Array>, places: Record<string, number>): void {
  const script = files.get(TABLE_LOADER_FILE)!;
  const view = new DataView(script.buffer, script.byteOffset);
  const name = (at: number) => new TextDecoder().decode(script.subarray(at, at + 56)).replace(/\0.*$/s, '');
  for (let at = 0; at < script.length; at += 128) {
    const command = view.getUint32(at, true);
    if (command === 2) {
      const dest = files.get(name(at + 4))!;
      const src = name(at + 60);
      const offset = view.getUint32(at + 116, true);
      const size = script[at + 120];
      const d = new DataView(dest.buffer, dest.byteOffset);
      if (size === 4) d.setUint32(offset, (d.getUint32(offset, true) + places[src]) >>> 0, true);
      else d.setBigUint64(offset, d.getBigUint64(offset, true) + BigInt(places[src]), true);
    } else if (command === 3) {
      const file = files.get(name(at + 4))!;
      const offset = view.getUint32(at + 60, true);
      const start = view.getUint32(at + 64, true);
      const length = view.getUint32(at + 68, true);
      let sum = 0;
      for (let i = start; i < start + length; i++) sum += file[i];
      file[offset] = (file[offset] - sum) & 0xff;
    } else {
      expect(command).toBe(1);
    }
  }
}

const sum = (bytes: Uint8Array) => bytes.reduce((a, b) => a + b, 0) & 0xff;

describe('ACPI tables through the firmware loader', () => {
  it('come out whole wherever the firmware places them', () => {
    const files = new Map(acpiTableFiles(platform).map(([name, bytes]) => [name, bytes.slice()]));
    const places = { 'etc/acpi/rsdp': 0xf5a00, 'etc/acpi/tables': 0x3fff0000 };
    runLoader(files, places);
    const rsdp = files.get('etc/acpi/rsdp')!;
    const tables = files.get('etc/acpi/tables')!;
    expect(new TextDecoder().decode(rsdp.subarray(0, 8))).toBe('RSD PTR ');
    expect(sum(rsdp)).toBe(0);
    const at = (address: number) => address - places['etc/acpi/tables'];
    const u32 = (bytes: Uint8Array, offset: number) => new DataView(bytes.buffer, bytes.byteOffset).getUint32(offset, true);
    const rsdt = at(u32(rsdp, 16));
    const table = (offset: number) => tables.subarray(offset, offset + u32(tables, offset + 4));
    expect(new TextDecoder().decode(tables.subarray(rsdt, rsdt + 4))).toBe('RSDT');
    const signatures = [0, 1, 2].map((i) => {
      const t = at(u32(tables, rsdt + 36 + 4 * i));
      expect(sum(table(t))).toBe(0);
      return new TextDecoder().decode(tables.subarray(t, t + 4));
    });
    expect(signatures).toEqual(['FACP', 'APIC', 'HPET']);
    const fadt = at(u32(tables, rsdt + 36));
    const dsdt = at(u32(tables, fadt + 40));
    expect(new TextDecoder().decode(tables.subarray(dsdt, dsdt + 4))).toBe('DSDT');
    expect(sum(table(dsdt))).toBe(0);
    expect(Array.from(table(dsdt))).toEqual(expect.arrayContaining([0x41, 0xd0, 0x03, 0x03])); // EisaId("PNP0303")
    expect(new TextDecoder().decode(tables.subarray(at(u32(tables, fadt + 36)), at(u32(tables, fadt + 36)) + 4))).toBe('FACS');
    expect(sum(table(rsdt))).toBe(0);
  });
});
