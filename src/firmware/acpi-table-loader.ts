// The ACPI tables handed to firmware the way QEMU hands them to SeaBIOS: as fw_cfg files with a
// script of loader commands, "etc/table-loader" (QEMU hw/acpi/bios-linker-loader.c; SeaBIOS
// src/fw/romfile_loader.c). The firmware allocates each file in memory (the RSDP in the F
// segment, where an OS scans for it; the rest high), adds each file's address to the fields that
// point into it, and fixes the checksums that changed. The tables are this machine's own
// (acpi-tables.ts), laid out from address 0 so that every pointer is an offset into its file.
import { layoutAcpiTables, type AcpiPlatform } from './acpi-tables.js';

export const TABLE_LOADER_FILE = 'etc/table-loader';
const RSDP_FILE = 'etc/acpi/rsdp';
const TABLES_FILE = 'etc/acpi/tables';

/** Loader commands: 128 bytes each, a command number and its fields (bios-linker-loader.c). */
const ENTRY_BYTES = 128;
const FILE_NAME_BYTES = 56;
const COMMAND_ALLOCATE = 1;
const COMMAND_ADD_POINTER = 2;
const COMMAND_ADD_CHECKSUM = 3;
const ZONE_HIGH = 1;
const ZONE_FSEG = 2;
/** The RSDP is found on a 16-byte boundary (ACPI 6.5 §5.2.5.1); the FACS needs 64. */
const RSDP_ALIGN = 16;
const TABLES_ALIGN = 64;

class LoaderScript {
  private readonly entries: Uint8Array[] = [];

  private entry(command: number): { bytes: Uint8Array; view: DataView } {
    const bytes = new Uint8Array(ENTRY_BYTES);
    const view = new DataView(bytes.buffer);
    view.setUint32(0, command, true);
    this.entries.push(bytes);
    return { bytes, view };
  }

  private static name(bytes: Uint8Array, at: number, file: string): void {
    bytes.set(new TextEncoder().encode(file).subarray(0, FILE_NAME_BYTES - 1), at);
  }

  allocate(file: string, align: number, zone: number): void {
    const { bytes, view } = this.entry(COMMAND_ALLOCATE);
    LoaderScript.name(bytes, 4, file);
    view.setUint32(4 + FILE_NAME_BYTES, align, true);
    bytes[8 + FILE_NAME_BYTES] = zone;
  }

  addPointer(destination: string, source: string, offset: number, size: number): void {
    const { bytes, view } = this.entry(COMMAND_ADD_POINTER);
    LoaderScript.name(bytes, 4, destination);
    LoaderScript.name(bytes, 4 + FILE_NAME_BYTES, source);
    view.setUint32(4 + 2 * FILE_NAME_BYTES, offset, true);
    bytes[8 + 2 * FILE_NAME_BYTES] = size;
  }

  addChecksum(file: string, checksum: number, start: number, length: number): void {
    const { bytes, view } = this.entry(COMMAND_ADD_CHECKSUM);
    LoaderScript.name(bytes, 4, file);
    view.setUint32(4 + FILE_NAME_BYTES, checksum, true);
    view.setUint32(8 + FILE_NAME_BYTES, start, true);
    view.setUint32(12 + FILE_NAME_BYTES, length, true);
  }

  bytes(): Uint8Array {
    const out = new Uint8Array(this.entries.length * ENTRY_BYTES);
    this.entries.forEach((entry, i) => out.set(entry, i * ENTRY_BYTES));
    return out;
  }
}

/** The fw_cfg files: the RSDP, the other tables, and the loader script that places them. */
export function acpiTableFiles(platform: AcpiPlatform): [string, Uint8Array][] {
  const layout = layoutAcpiTables(platform, 0);
  const rsdp = layout.bytes.slice(0, layout.rsdpBytes);
  // The tables file keeps the block's offsets; the RSDP's bytes in it are blanked, so that only
  // the copy in the F segment carries its signature.
  const tables = layout.bytes.slice();
  tables.fill(0, 0, layout.rsdpBytes);
  const script = new LoaderScript();
  script.allocate(RSDP_FILE, RSDP_ALIGN, ZONE_FSEG);
  script.allocate(TABLES_FILE, TABLES_ALIGN, ZONE_HIGH);
  for (const pointer of layout.pointers) {
    const inRsdp = pointer.at < layout.rsdpBytes;
    script.addPointer(inRsdp ? RSDP_FILE : TABLES_FILE, TABLES_FILE, pointer.at, pointer.bytes);
  }
  // A checksum byte is set to make its table sum to zero again after the pointers moved.
  for (const table of layout.checksummed) {
    const inRsdp = table.at < layout.rsdpBytes;
    script.addChecksum(inRsdp ? RSDP_FILE : TABLES_FILE, table.checksum, table.at, table.length);
  }
  return [[RSDP_FILE, rsdp], [TABLES_FILE, tables], [TABLE_LOADER_FILE, script.bytes()]];
}
