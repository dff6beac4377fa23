// The MultiProcessor Specification's tables (Intel MP Specification 1.4, ch. 4), for guests older
// than ACPI or booted without it (Linux with `acpi=off`): the MP floating pointer, found by
// scanning the BIOS area on 16-byte boundaries (§4.1), and the configuration table it points to,
// with the one processor, the ISA bus, the I/O APIC and how the ISA IRQs reach its pins, as the
// MADT (acpi-tables.ts) says too: IRQ 0 on pin 2, the other IRQs on their own pins, the ACPI SCI
// level-triggered and active high, the 8259s' output as ExtINT on pin 0 and on LINT0, NMI on LINT1.
import { le32, TableBytes } from './table-bytes.js';

/** Where the tables go: in the BIOS area, after the ACPI tables at 0xF0000, below the BIOS's handlers. */
export const MP_TABLE_BASE = 0xf8000;

export interface MpPlatform {
  localApic: number;
  /** The local APIC's version register, low byte. */
  localApicVersion: number;
  ioApic: number;
  ioApicId: number;
  /** The I/O APIC's version register, low byte. */
  ioApicVersion: number;
  /** CPUID leaf 1: EAX (family, model, stepping) and EDX (features), as the processor entry carries them. */
  cpuSignature: number;
  cpuFeatures: number;
  /** The ISA IRQ that is the ACPI SCI (level-triggered, active high). */
  sciIrq: number;
}

const FLOATING_POINTER_BYTES = 16;
const HEADER_BYTES = 44;
const PROCESSOR_ENTRY_BYTES = 20;
const SHORT_ENTRY_BYTES = 8;

// Entry types (§4.3) and the fields of interrupt entries (Tables 4-10 to 4-12).
const PROCESSOR = 0;
const BUS = 1;
const IO_APIC = 2;
const IO_INTERRUPT = 3;
const LOCAL_INTERRUPT = 4;
const INT = 0;
const NMI = 1;
const EXT_INT = 3;
const CONFORMS = 0; // polarity and trigger as the bus has them (ISA: high, edge)
const ACTIVE_HIGH_LEVEL = 0x1 | (0x3 << 2);
const PROCESSOR_ENABLED = 1;
const PROCESSOR_BOOTSTRAP = 2;
const ALL_LOCAL_APICS = 0xff;
const ISA_BUS = 0;
const ISA_IRQS = 16;

/** The floating pointer and the configuration table, laid out from `base` (16-byte aligned). */
export function buildMpTables(platform: MpPlatform, base = MP_TABLE_BASE): Uint8Array {
  const interrupt = (type: number, kind: number, flags: number, irq: number, apic: number, pin: number) => [
    type, kind, flags & 0xff, flags >> 8, ISA_BUS, irq, apic, pin,
  ];
  const shortEntries: number[][] = [
    [BUS, ISA_BUS, ...'ISA   '.split('').map((c) => c.charCodeAt(0))],
    [IO_APIC, platform.ioApicId, platform.ioApicVersion, 1, ...le32(platform.ioApic)],
    interrupt(IO_INTERRUPT, EXT_INT, CONFORMS, 0, platform.ioApicId, 0),
  ];
  for (let irq = 0; irq < ISA_IRQS; irq++) {
    if (irq === 2) continue; // the cascade: the slave 8259's IRQs come as 8-15
    const flags = irq === platform.sciIrq ? ACTIVE_HIGH_LEVEL : CONFORMS;
    shortEntries.push(interrupt(IO_INTERRUPT, INT, flags, irq, platform.ioApicId, irq === 0 ? 2 : irq));
  }
  shortEntries.push(interrupt(LOCAL_INTERRUPT, EXT_INT, CONFORMS, 0, ALL_LOCAL_APICS, 0));
  shortEntries.push(interrupt(LOCAL_INTERRUPT, NMI, CONFORMS, 0, ALL_LOCAL_APICS, 1));

  const tableBytes = HEADER_BYTES + PROCESSOR_ENTRY_BYTES + shortEntries.length * SHORT_ENTRY_BYTES;
  const t = new TableBytes(FLOATING_POINTER_BYTES + tableBytes);
  const table = FLOATING_POINTER_BYTES;
  // §4.1, the floating pointer: the table's address, its length in 16-byte units, revision 1.4,
  // feature bytes 0 (a configuration table is present; virtual wire mode, no IMCR).
  t.ascii(0, '_MP_');
  t.u32(4, base + table);
  t.u8(8, 1);
  t.u8(9, 4);
  t.checksum(10, FLOATING_POINTER_BYTES);
  // §4.2, the configuration table header.
  t.ascii(table, 'PCMP');
  t.u16(table + 4, tableBytes);
  t.u8(table + 6, 4);
  t.ascii(table + 8, 'VMM     ');
  t.ascii(table + 16, 'VMMPC       ');
  t.u16(table + 34, 1 + shortEntries.length);
  t.u32(table + 36, platform.localApic);
  // §4.3.1, the processor: enabled, the bootstrap processor.
  const processor = table + HEADER_BYTES;
  t.u8(processor, PROCESSOR);
  t.u8(processor + 1, 0);
  t.u8(processor + 2, platform.localApicVersion);
  t.u8(processor + 3, PROCESSOR_ENABLED | PROCESSOR_BOOTSTRAP);
  t.u32(processor + 4, platform.cpuSignature);
  t.u32(processor + 8, platform.cpuFeatures);
  t.bytes.set(shortEntries.flat(), processor + PROCESSOR_ENTRY_BYTES);
  t.checksum(table + 7, tableBytes, table);
  return t.bytes;
}
