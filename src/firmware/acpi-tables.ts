// The ACPI tables a PC's firmware leaves in memory (ACPI specification 6.5, ch. 5), built for this
// machine: the RSDP (revision 0, found by scanning 0xE0000-0xFFFFF, §5.2.5.1), the RSDT, a FADT
// (revision 3) with the PM1a event and control blocks, the PM timer and the reset register, the
// FACS, a DSDT with \_S5 (the sleep type that powers off) and the PCI root bridge with its resources, the MADT (one local
// APIC, the I/O APIC, the ISA interrupt overrides of a PC, LINT1 as NMI) and the HPET table.
// Everything sits in the BIOS area, which the memory map reserves.
import { HPET_CAPABILITIES_LOW } from '../devices/hpet.js';
import { AcpiPmPort, SLP_TYP_S5 } from '../devices/acpi-pm.js';
import { le32, TableBytes } from './table-bytes.js';

/** Where the tables go: the start of the BIOS ROM area, reserved in every memory map we give. */
export const ACPI_TABLES_BASE = 0xf0000;

export interface AcpiPlatform {
  localApic: number;
  ioApic: number;
  hpet: number;
  /** The ACPI SCI's ISA IRQ. */
  sciIrq: number;
  /** The PM register block's first port (PM1a event block; control at +4, timer at +8). */
  pmBase: number;
  /** The reset register's port and value (the PIIX's 0xCF9, 0x06: a hard reset). */
  resetPort: number;
  resetValue: number;
  /** PCI configuration mechanism #1's ports (0xCF8, 8), which the root bridge keeps for itself. */
  pciConfigPort: number;
  pciConfigPorts: number;
}

const OEM_ID = 'VMM   ';
const OEM_TABLE_ID = 'VMMPC   ';
const CREATOR_ID = 'VMM ';
const HEADER_BYTES = 36;

class TableWriter extends TableBytes {
  /** A Generic Address Structure (§5.2.3.2). */
  gas(at: number, space: number, bitWidth: number, accessSize: number, address: number): void {
    this.u8(at, space);
    this.u8(at + 1, bitWidth);
    this.u8(at + 2, 0);
    this.u8(at + 3, accessSize);
    this.u64(at + 4, address);
  }

  /** The system description table header (§5.2.6); the checksum is set last, by `checksum`. */
  header(signature: string, revision: number): void {
    this.ascii(0, signature);
    this.u32(4, this.bytes.length);
    this.u8(8, revision);
    this.ascii(10, OEM_ID);
    this.ascii(16, OEM_TABLE_ID);
    this.u32(24, 1);
    this.ascii(28, CREATOR_ID);
    this.u32(32, 1);
  }
}

const GAS_SYSTEM_MEMORY = 0;
const GAS_SYSTEM_IO = 1;

/** An AML NameString segment or path, as bytes. */
function amlName(text: string): number[] {
  return text.split('').map((c) => c.charCodeAt(0));
}

/** EisaId("PNP0A03") (ACPI 6.5 §19.6.35): three letters in 5 bits each, then four hex digits, big-endian. */
function eisaId(id: string): number[] {
  const letter = (i: number) => id.charCodeAt(i) - 0x40;
  const high = (letter(0) << 10) | (letter(1) << 5) | letter(2);
  const low = parseInt(id.slice(3), 16);
  return [high >>> 8, high & 0xff, low >>> 8, low & 0xff];
}

/**
 * An AML package length (§20.2.4), which counts its own bytes: one byte below 64, else two (the
 * low nibble with 01b in bits 7-6, then the next eight bits).
 */
function pkgLength(bodyBytes: number): number[] {
  if (bodyBytes + 1 < 64) return [bodyBytes + 1];
  const total = bodyBytes + 2;
  if (total >= 4096) throw new RangeError('AML package too long for a two-byte PkgLength');
  return [0x40 | (total & 0x0f), total >> 4];
}

/**
 * A Word Address Space Descriptor (§6.4.3.5.3) for a range the root bridge passes on to its bus
 * (a producer), fixed at both ends: `resourceType` 1 for I/O, 2 for bus numbers.
 */
function wordAddressSpace(resourceType: number, typeFlags: number, min: number, max: number): number[] {
  const word = (value: number) => [value & 0xff, value >>> 8];
  const PRODUCER_MIN_MAX_FIXED = 0x0c;
  return [0x88, 0x0d, 0x00, resourceType, PRODUCER_MIN_MAX_FIXED, typeFlags, ...word(0), ...word(min), ...word(max), ...word(0), ...word(max - min + 1)];
}

/**
 * The root bridge's resources (_CRS, a ResourceTemplate): bus numbers 0-255, the configuration
 * ports it decodes itself, and every other I/O port as a window for its bus, as QEMU's pc says.
 * An ACPI kernel places and claims PCI I/O BARs (the IDE controller's bus master registers,
 * its legacy ports) only inside such windows. No memory window: no function has a memory BAR.
 */
function rootBridgeResources(pciConfigPort: number, pciConfigPorts: number): number[] {
  const IO_ENTIRE_RANGE = 0x03;
  const word = (value: number) => [value & 0xff, value >>> 8];
  const DECODE_16 = 0x01;
  return [
    ...wordAddressSpace(2, 0, 0x00, 0xff),
    // An I/O Port Descriptor (§6.4.2.5): the configuration mechanism's own ports.
    0x47, DECODE_16, ...word(pciConfigPort), ...word(pciConfigPort), 0x01, pciConfigPorts,
    ...wordAddressSpace(1, IO_ENTIRE_RANGE, 0x0000, pciConfigPort - 1),
    ...wordAddressSpace(1, IO_ENTIRE_RANGE, pciConfigPort + pciConfigPorts, 0xffff),
    0x79, 0x00, // End Tag (§6.4.2.9), checksum 0: not checked
  ];
}

function dsdt(platform: AcpiPlatform): Uint8Array {
  // AML (§20), two objects:
  //   Name (_S5, Package (4) { SLP_TYP_S5, SLP_TYP_S5, 0, 0 }): the sleeping type of soft off;
  //   Device (\_SB.PCI0) { Name (_HID, EisaId ("PNP0A03")) Name (_UID, 0) Name (_CRS, ...) }: the
  //   PCI root bridge, so that an ACPI kernel enumerates bus 0 through it, and its resources.
  const NAME_OP = 0x08, PACKAGE_OP = 0x12, BUFFER_OP = 0x11, BYTE_PREFIX = 0x0a, DWORD_PREFIX = 0x0c, ZERO_OP = 0x00;
  const EXT_OP = 0x5b, DEVICE_OP = 0x82, ROOT = 0x5c, DUAL_NAME = 0x2e;
  const s5Elements = [0x04, BYTE_PREFIX, SLP_TYP_S5, BYTE_PREFIX, SLP_TYP_S5, ZERO_OP, ZERO_OP];
  const s5 = [NAME_OP, ...amlName('_S5_'), PACKAGE_OP, ...pkgLength(s5Elements.length), ...s5Elements];
  const resources = rootBridgeResources(platform.pciConfigPort, platform.pciConfigPorts);
  const crsBuffer = [BYTE_PREFIX, resources.length, ...resources];
  const bridgeBody = [
    ROOT, DUAL_NAME, ...amlName('_SB_'), ...amlName('PCI0'),
    NAME_OP, ...amlName('_HID'), DWORD_PREFIX, ...eisaId('PNP0A03'),
    NAME_OP, ...amlName('_UID'), ZERO_OP,
    NAME_OP, ...amlName('_CRS'), BUFFER_OP, ...pkgLength(crsBuffer.length), ...crsBuffer,
  ];
  const bridge = [EXT_OP, DEVICE_OP, ...pkgLength(bridgeBody.length), ...bridgeBody];
  const aml = [...s5, ...bridge];
  const t = new TableWriter(HEADER_BYTES + aml.length);
  t.header('DSDT', 1);
  t.bytes.set(aml, HEADER_BYTES);
  t.checksum(9);
  return t.bytes;
}

/** The FACS (§5.2.10): no checksum, 64-byte aligned, nothing to say but its length. */
function facs(): Uint8Array {
  const t = new TableWriter(64);
  t.ascii(0, 'FACS');
  t.u32(4, 64);
  t.u8(32, 1); // version
  return t.bytes;
}

/** FADT flags (§5.2.9, Table 5.10). */
const FADT_WBINVD = 1 << 0;
const FADT_PROC_C1 = 1 << 2;
const FADT_PWR_BUTTON = 1 << 4; // no fixed power button
const FADT_SLP_BUTTON = 1 << 5; // no fixed sleep button
const FADT_TMR_VAL_EXT = 1 << 8; // a 32-bit PM timer
const FADT_RESET_REG_SUP = 1 << 10;
/** IA-PC boot architecture flags: legacy devices on the ISA bus, an 8042. */
const IAPC_LEGACY_DEVICES = 1 << 0;
const IAPC_8042 = 1 << 1;
/** CMOS index of the century, for the RTC (as QEMU's FADT says). */
const CMOS_CENTURY = 0x32;

function fadt(platform: AcpiPlatform, facsAt: number, dsdtAt: number): Uint8Array {
  const t = new TableWriter(244);
  t.header('FACP', 3);
  t.u32(36, facsAt);
  t.u32(40, dsdtAt);
  t.u16(46, platform.sciIrq);
  t.u32(48, 0); // SMI_CMD 0: ACPI is always enabled, there is no SMM to hand over from
  t.u32(56, platform.pmBase + AcpiPmPort.PM1_STATUS);
  t.u32(64, platform.pmBase + AcpiPmPort.PM1_CONTROL);
  t.u32(76, platform.pmBase + AcpiPmPort.PM_TIMER);
  t.u8(88, 4); // PM1_EVT_LEN
  t.u8(89, 2); // PM1_CNT_LEN
  t.u8(91, 4); // PM_TMR_LEN
  t.u16(96, 0xfff); // P_LVL2_LAT > 100: no C2
  t.u16(98, 0xffff); // P_LVL3_LAT > 1000: no C3
  t.u8(108, CMOS_CENTURY);
  t.u16(109, IAPC_LEGACY_DEVICES | IAPC_8042);
  t.u32(112, FADT_WBINVD | FADT_PROC_C1 | FADT_PWR_BUTTON | FADT_SLP_BUTTON | FADT_TMR_VAL_EXT | FADT_RESET_REG_SUP);
  t.gas(116, GAS_SYSTEM_IO, 8, 1, platform.resetPort);
  t.u8(128, platform.resetValue);
  // X_FIRMWARE_CTRL stays 0: FIRMWARE_CTRL says where the FACS is, and the two must not both be set.
  t.u64(140, dsdtAt);
  t.gas(148, GAS_SYSTEM_IO, 32, 0, platform.pmBase + AcpiPmPort.PM1_STATUS);
  t.gas(172, GAS_SYSTEM_IO, 16, 0, platform.pmBase + AcpiPmPort.PM1_CONTROL);
  t.gas(208, GAS_SYSTEM_IO, 32, 0, platform.pmBase + AcpiPmPort.PM_TIMER);
  t.checksum(9);
  return t.bytes;
}

/** MADT (§5.2.12): interrupt source override flags, and the entries' types. */
const MADT_PCAT_COMPAT = 1;
const MADT_LOCAL_APIC = 0;
const MADT_IO_APIC = 1;
const MADT_SOURCE_OVERRIDE = 2;
const MADT_LOCAL_APIC_NMI = 4;
const MPS_ACTIVE_HIGH = 1;
const MPS_LEVEL = 3 << 2;

function madt(platform: AcpiPlatform): Uint8Array {
  const entries: number[][] = [
    [MADT_LOCAL_APIC, 8, 0, 0, 1, 0, 0, 0], // processor UID 0, APIC ID 0, enabled
    [MADT_IO_APIC, 12, 0, 0, ...le32(platform.ioApic), ...le32(0)], // I/O APIC ID 0, GSI base 0
    // ISA IRQ 0 arrives on pin 2; the SCI is level triggered, active high (as QEMU's PC has it).
    [MADT_SOURCE_OVERRIDE, 10, 0, 0, ...le32(2), 0, 0],
    [MADT_SOURCE_OVERRIDE, 10, 0, platform.sciIrq, ...le32(platform.sciIrq), MPS_ACTIVE_HIGH | MPS_LEVEL, 0],
    [MADT_LOCAL_APIC_NMI, 6, 0xff, 0, 0, 1], // every processor: LINT1 is NMI
  ];
  const body = entries.flat();
  const t = new TableWriter(HEADER_BYTES + 8 + body.length);
  t.header('APIC', 1);
  t.u32(36, platform.localApic);
  t.u32(40, MADT_PCAT_COMPAT);
  t.bytes.set(body, HEADER_BYTES + 8);
  t.checksum(9);
  return t.bytes;
}

/** The HPET description table (IA-PC HPET specification 1.0a §3.2.4). */
function hpetTable(platform: AcpiPlatform): Uint8Array {
  const t = new TableWriter(56);
  t.header('HPET', 1);
  t.u32(36, HPET_CAPABILITIES_LOW);
  t.gas(40, GAS_SYSTEM_MEMORY, 64, 0, platform.hpet);
  t.u8(52, 0); // HPET number
  t.u16(53, 0x80); // minimum periodic tick
  t.u8(55, 0); // no page protection
  t.checksum(9);
  return t.bytes;
}

/** Every table, laid out from `base` (16-byte aligned, the FACS 64): one block of bytes. */
export function buildAcpiTables(platform: AcpiPlatform, base = ACPI_TABLES_BASE): Uint8Array {
  const align = (at: number, to: number) => Math.ceil(at / to) * to;
  const rsdpAt = base;
  const facsAt = align(rsdpAt + 20, 64);
  const dsdtAt = align(facsAt + 64, 16);
  const dsdtBytes = dsdt(platform);
  const fadtAt = align(dsdtAt + dsdtBytes.length, 16);
  const fadtBytes = fadt(platform, facsAt, dsdtAt);
  const madtAt = align(fadtAt + fadtBytes.length, 16);
  const madtBytes = madt(platform);
  const hpetAt = align(madtAt + madtBytes.length, 16);
  const hpetBytes = hpetTable(platform);
  const rsdtAt = align(hpetAt + hpetBytes.length, 16);
  const rsdt = new TableWriter(HEADER_BYTES + 3 * 4);
  rsdt.header('RSDT', 1);
  [fadtAt, madtAt, hpetAt].forEach((at, i) => rsdt.u32(HEADER_BYTES + 4 * i, at));
  rsdt.checksum(9);

  const rsdp = new TableWriter(20);
  rsdp.ascii(0, 'RSD PTR ');
  rsdp.ascii(9, OEM_ID);
  rsdp.u8(15, 0); // revision 0: ACPI 1.0, an RSDT
  rsdp.u32(16, rsdtAt);
  rsdp.checksum(8, 20);

  const out = new Uint8Array(rsdtAt + rsdt.bytes.length - base);
  out.set(rsdp.bytes, rsdpAt - base);
  out.set(facs(), facsAt - base);
  out.set(dsdtBytes, dsdtAt - base);
  out.set(fadtBytes, fadtAt - base);
  out.set(madtBytes, madtAt - base);
  out.set(hpetBytes, hpetAt - base);
  out.set(rsdt.bytes, rsdtAt - base);
  return out;
}
