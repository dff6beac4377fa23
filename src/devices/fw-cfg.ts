// QEMU's firmware configuration device, fw_cfg, as its PC machine has it (QEMU
// docs/specs/fw_cfg.rst, the traditional I/O interface): writing a 16-bit key to the selector
// port (0x510) selects an item and rewinds it; each byte read from the data port (0x511) returns
// the item's next byte, and 0 past its end or for a key that names nothing. Guests written for
// QEMU (kvm-unit-tests, SeaBIOS) read the CPU count and RAM size here. Items: the signature
// "QEMU", the interface ID (traditional only: no DMA), a zero UUID, the RAM size, no graphics,
// one CPU (present and at most), no NUMA nodes, no boot menu, and the file directory with
// etc/e820 (RAM from 0, as QEMU lists it; the firmware carves the holes) and the files the
// machine adds (an option ROM for the firmware: SeaBIOS reads `pciVVVV,DDDD.rom`, `vgaroms/*`,
// `genroms/*`; its ACPI tables and their loader script).
import { checkSnapshotVersion, type Device, type DeviceSnapshot } from './device.js';

const SNAPSHOT_VERSION = 1;

/** Item keys (QEMU's include/standard-headers/linux/qemu_fw_cfg.h). */
export const FwCfgKey = {
  SIGNATURE: 0x00,
  ID: 0x01,
  UUID: 0x02,
  RAM_SIZE: 0x03,
  NOGRAPHIC: 0x04,
  NB_CPUS: 0x05,
  NUMA: 0x0d,
  BOOT_MENU: 0x0e,
  MAX_CPUS: 0x0f,
  FILE_DIR: 0x19,
  FILE_FIRST: 0x20,
} as const;

/** ID bit 0: the traditional interface (bit 1, DMA, is not offered). */
const ID_TRADITIONAL = 1;
/** Key bits that say "write" (bit 14) and "architecture-specific" (bit 15) are part of the key. */
const KEY_MASK = 0xffff;
/** A file directory entry: size (u32 BE), select (u16 BE), reserved (u16), name (56 bytes). */
const FILE_NAME_BYTES = 56;
const FILE_ENTRY_BYTES = 64;
const E820_RAM = 1;

export interface FwCfgConfig {
  ramBytes: number;
  cpus?: number;
  /** More files, listed after etc/e820 in this order, each under the next key. */
  files?: readonly (readonly [name: string, bytes: Uint8Array])[];
}

export class FwCfg implements Device {
  readonly name = 'fw-cfg';
  private readonly items = new Map<number, Uint8Array>();
  private selected = 0;
  private offset = 0;

  constructor(config: FwCfgConfig) {
    const cpus = config.cpus ?? 1;
    this.items.set(FwCfgKey.SIGNATURE, new TextEncoder().encode('QEMU'));
    this.items.set(FwCfgKey.ID, le(4, ID_TRADITIONAL));
    this.items.set(FwCfgKey.UUID, new Uint8Array(16));
    this.items.set(FwCfgKey.RAM_SIZE, le(8, config.ramBytes));
    this.items.set(FwCfgKey.NOGRAPHIC, le(2, 1));
    this.items.set(FwCfgKey.NB_CPUS, le(2, cpus));
    this.items.set(FwCfgKey.NUMA, le(8, 0));
    this.items.set(FwCfgKey.BOOT_MENU, le(2, 0));
    this.items.set(FwCfgKey.MAX_CPUS, le(2, cpus));
    // etc/e820: {u64 address, u64 length, u32 type}, little-endian (QEMU's struct e820_entry).
    const e820 = new Uint8Array(20);
    e820.set(le(8, 0), 0);
    e820.set(le(8, config.ramBytes), 8);
    e820.set(le(4, E820_RAM), 16);
    this.files([['etc/e820', e820], ...(config.files ?? [])]);
  }

  /** The file directory (big-endian, unlike the other items) and the files' own keys. */
  private files(files: readonly (readonly [string, Uint8Array])[]): void {
    const names = new Set<string>();
    for (const [name] of files) {
      // A name fills at most 55 bytes of its 56, the last one its terminating NUL.
      if (name === '' || new TextEncoder().encode(name).length >= FILE_NAME_BYTES) {
        throw new RangeError(`fw_cfg file name '${name}' is empty or longer than ${FILE_NAME_BYTES - 1} bytes`);
      }
      if (names.has(name)) throw new RangeError(`fw_cfg file '${name}' is given twice`);
      names.add(name);
    }
    const dir = new Uint8Array(4 + files.length * FILE_ENTRY_BYTES);
    const view = new DataView(dir.buffer);
    view.setUint32(0, files.length);
    files.forEach(([name, bytes], i) => {
      const key = FwCfgKey.FILE_FIRST + i;
      const at = 4 + i * FILE_ENTRY_BYTES;
      view.setUint32(at, bytes.length);
      view.setUint16(at + 4, key);
      dir.set(new TextEncoder().encode(name), at + 8);
      this.items.set(key, bytes);
    });
    this.items.set(FwCfgKey.FILE_DIR, dir);
  }

  read(offset: number, size: number): number {
    // The selector reads as nothing; the data port returns one byte per byte read.
    let value = 0;
    for (let i = 0; i < size; i++) {
      const port = offset + i;
      const byte = port === 1 ? this.nextByte() : port === 0 ? 0 : 0xff;
      value |= byte << (8 * i);
    }
    return value >>> 0;
  }

  write(offset: number, size: number, value: number): void {
    // A 16-bit write selects (a byte write sets the low byte, as the bus splits it); writes to
    // the data port are ignored, as in QEMU since 2.4 for read-only items.
    if (offset !== 0) return;
    this.selected = size === 1 ? value & 0xff : value & KEY_MASK;
    this.offset = 0;
  }

  private nextByte(): number {
    const item = this.items.get(this.selected);
    if (!item || this.offset >= item.length) return 0;
    return item[this.offset++]!;
  }

  snapshot(): DeviceSnapshot {
    return { version: SNAPSHOT_VERSION, selected: this.selected, offset: this.offset };
  }

  restore(s: DeviceSnapshot): void {
    checkSnapshotVersion(this.name, SNAPSHOT_VERSION, s);
    this.selected = s.selected as number;
    this.offset = s.offset as number;
  }
}

/** `value` as `bytes` little-endian bytes (up to 2^53). */
function le(bytes: number, value: number): Uint8Array {
  const out = new Uint8Array(bytes);
  let v = value;
  for (let i = 0; i < bytes; i++) {
    out[i] = v % 256;
    v = Math.floor(v / 256);
  }
  return out;
}
