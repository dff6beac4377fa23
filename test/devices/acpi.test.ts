// The ACPI tables as an OS's table loader walks them (ACPI 6.5 ch. 5: RSDP, RSDT, checksums,
// the FADT's blocks, the MADT's entries), and the PM registers they point at.
import { describe, expect, it } from 'vitest';
import { ManualClock } from '../../src/devices/clock.js';
import { AcpiPm, PM_TIMER_HZ, SLP_TYP_S5 } from '../../src/devices/acpi-pm.js';
import { ACPI_TABLES_BASE, buildAcpiTables, type AcpiPlatform } from '../../src/firmware/acpi-tables.js';
import { buildMpTables, MP_TABLE_BASE } from '../../src/firmware/mp-table.js';
import { BIOS_HANDLERS_OFFSET, BIOS_SEGMENT } from '../../src/firmware/bios-state.js';
import { ports } from './helpers.js';

const PLATFORM: AcpiPlatform = {
  localApic: 0xfee00000, ioApic: 0xfec00000, hpet: 0xfed00000, sciIrq: 9, pmBase: 0x600, resetPort: 0xcf9, resetValue: 6,
  pciWindows: { memoryBase: 0x8000000, memoryEnd: 0xfebfffff },
};

/** Physical memory holding the tables, read as a guest would. */
class TableReader {
  private readonly view: DataView;
  constructor(private readonly bytes: Uint8Array, private readonly base: number) {
    this.view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  }
  u8 = (at: number) => this.view.getUint8(at - this.base);
  u16 = (at: number) => this.view.getUint16(at - this.base, true);
  u32 = (at: number) => this.view.getUint32(at - this.base, true);
  text = (at: number, length: number) => String.fromCharCode(...this.bytes.subarray(at - this.base, at - this.base + length));
  sum = (at: number, length: number) => this.bytes.subarray(at - this.base, at - this.base + length).reduce((a, b) => (a + b) & 0xff, 0);
  /** A table by its physical address: signature, length, and a zero checksum. */
  table(at: number): { signature: string; length: number } {
    const length = this.u32(at + 4);
    expect(this.sum(at, length), `${this.text(at, 4)} checksum`).toBe(0);
    return { signature: this.text(at, 4), length };
  }
}

describe('ACPI tables', () => {
  const tables = new TableReader(buildAcpiTables(PLATFORM), ACPI_TABLES_BASE);

  it('starts with an RSDP on a 16-byte boundary in the BIOS area, pointing at a valid RSDT', () => {
    expect(ACPI_TABLES_BASE % 16).toBe(0);
    expect(ACPI_TABLES_BASE).toBeGreaterThanOrEqual(0xe0000);
    expect(tables.text(ACPI_TABLES_BASE, 8)).toBe('RSD PTR ');
    expect(tables.sum(ACPI_TABLES_BASE, 20)).toBe(0);
    const rsdt = tables.u32(ACPI_TABLES_BASE + 16);
    const { signature, length } = tables.table(rsdt);
    expect(signature).toBe('RSDT');
    const entries = Array.from({ length: (length - 36) / 4 }, (_, i) => tables.table(tables.u32(rsdt + 36 + 4 * i)).signature);
    expect(entries).toEqual(['FACP', 'APIC', 'HPET']);
  });

  const find = (signature: string): number => {
    const rsdt = tables.u32(ACPI_TABLES_BASE + 16);
    for (let at = rsdt + 36; at < rsdt + tables.u32(rsdt + 4); at += 4) {
      if (tables.text(tables.u32(at), 4) === signature) return tables.u32(at);
    }
    throw new Error(`no ${signature}`);
  };

  it('has a FADT naming the PM blocks, the SCI, the reset register and a DSDT with \\_S5', () => {
    const fadt = find('FACP');
    expect(tables.u16(fadt + 46)).toBe(9);
    expect(tables.u32(fadt + 56)).toBe(0x600);
    expect(tables.u32(fadt + 64)).toBe(0x604);
    expect(tables.u32(fadt + 76)).toBe(0x608);
    expect(tables.u32(fadt + 112) & (1 << 10)).toBeTruthy(); // RESET_REG_SUP
    expect(tables.u8(fadt + 116)).toBe(1); // I/O space
    expect(tables.u32(fadt + 120)).toBe(0xcf9);
    expect(tables.u8(fadt + 128)).toBe(6);
    const facs = tables.u32(fadt + 36);
    expect(facs % 64).toBe(0);
    expect(tables.text(facs, 4)).toBe('FACS');
    const dsdt = tables.u32(fadt + 40);
    const { signature, length } = tables.table(dsdt);
    expect(signature).toBe('DSDT');
    const aml = tables.text(dsdt + 36, length - 36);
    expect(aml).toContain('_S5_');
    expect(aml).toContain('PCI0');
    // The root bridge's _CRS: bus numbers, I/O windows around the configuration ports, the VGA
    // window and the memory between RAM and the I/O APIC.
    expect(aml).toContain('_CRS');
    const hex = Array.from({ length: length - 36 }, (_, i) => tables.u8(dsdt + 36 + i).toString(16).padStart(2, '0')).join('');
    const wordRange = (type: string, flags: string, min: string, max: string, length: string) => `880d00${type}0c${flags}0000${min}${max}0000${length}`;
    expect(hex).toContain(wordRange('02', '00', '0000', 'ff00', '0001'));
    expect(hex).toContain('4701f80cf80c0108');
    expect(hex).toContain(wordRange('01', '03', '0000', 'f70c', 'f80c'));
    expect(hex).toContain(wordRange('01', '03', '000d', 'ffff', '00f3'));
    const dwordMemory = (min: string, max: string, length: string) => `871700000c0300000000${min}${max}00000000${length}`;
    expect(hex).toContain(dwordMemory('00000a00', 'ffff0b00', '00000200'));
    expect(hex).toContain(dwordMemory('00000008', 'ffffbffe', '0000c0f6'));
    expect(hex).toMatch(/7900$/);
  });

  it('has a MADT with one enabled local APIC, the I/O APIC, IRQ 0 on pin 2 and LINT1 as NMI', () => {
    const madt = find('APIC');
    expect(tables.u32(madt + 36)).toBe(0xfee00000);
    const entries: number[][] = [];
    for (let at = madt + 44; at < madt + tables.u32(madt + 4); at += tables.u8(at + 1)) {
      entries.push(Array.from({ length: tables.u8(at + 1) }, (_, i) => tables.u8(at + i)));
    }
    expect(entries.map((e) => e[0])).toEqual([0, 1, 2, 2, 4]);
    expect(entries[0]).toEqual([0, 8, 0, 0, 1, 0, 0, 0]);
    expect(entries[1].slice(4, 8)).toEqual([0x00, 0x00, 0xc0, 0xfe]);
    expect(entries[2]).toEqual([2, 10, 0, 0, 2, 0, 0, 0, 0, 0]);
    expect(entries[4]).toEqual([4, 6, 0xff, 0, 0, 1]);
  });

  it('has an HPET table with the block ID and the base address', () => {
    const hpet = find('HPET');
    expect(tables.u32(hpet + 36)).toBe(0x8086a201);
    expect(tables.u32(hpet + 44)).toBe(0xfed00000);
  });
});

describe('ACPI PM registers', () => {
  it('counts the PM timer at 3.579545 MHz and powers off on SLP_EN with the S5 type', () => {
    const clock = new ManualClock();
    const sleeps: number[] = [];
    const io = ports([0x600, 12, new AcpiPm(clock, (type) => sleeps.push(type))]);
    clock.advance(1e9);
    expect(io.inl(0x608)).toBe(PM_TIMER_HZ);
    expect(io.inw(0x604) & 1).toBe(1); // SCI_EN: ACPI mode from the start
    io.outw(0x604, (SLP_TYP_S5 << 10) | 1);
    expect(sleeps).toEqual([]);
    io.outw(0x604, (SLP_TYP_S5 << 10) | (1 << 13) | 1);
    expect(sleeps).toEqual([SLP_TYP_S5]);
    expect(io.inw(0x604) & (1 << 13)).toBe(0); // SLP_EN reads as 0
  });
});

describe('the BIOS area', () => {
  it('holds the ACPI tables, then the MP tables (floating pointer and configuration table, checksums zero), then the BIOS handlers, without overlap', () => {
    expect(ACPI_TABLES_BASE + buildAcpiTables(PLATFORM).length).toBeLessThanOrEqual(MP_TABLE_BASE);
    const mp = buildMpTables({
      localApic: 0xfee00000, localApicVersion: 0x14, ioApic: 0xfec00000, ioApicId: 0, ioApicVersion: 0x11,
      cpuSignature: 0x663, cpuFeatures: 0x0789f3f9, sciIrq: 9,
    });
    const tables = new TableReader(mp, MP_TABLE_BASE);
    expect(MP_TABLE_BASE % 16).toBe(0);
    expect(tables.text(MP_TABLE_BASE, 4)).toBe('_MP_');
    expect(tables.sum(MP_TABLE_BASE, 16)).toBe(0);
    const table = tables.u32(MP_TABLE_BASE + 4);
    expect(tables.text(table, 4)).toBe('PCMP');
    expect(tables.sum(table, tables.u16(table + 4))).toBe(0);
    // One processor, the ISA bus, the I/O APIC, ExtINT and 15 ISA IRQs on its pins, LINT0 and LINT1.
    expect(tables.u16(table + 34)).toBe(1 + 1 + 1 + 1 + 15 + 2);
    expect(MP_TABLE_BASE + mp.length).toBeLessThanOrEqual(BIOS_SEGMENT * 16 + BIOS_HANDLERS_OFFSET);
  });
});
