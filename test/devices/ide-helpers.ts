// Test plumbing for the IDE controller: image files with a known pattern, a fake guest RAM, and
// a channel on the primary ports driven as a driver drives it.
import { mkdtempSync, openSync, closeSync, ftruncateSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { readBytes, writeBytes } from '../../src/devices/byte-io.js';
import type { GuestMemory } from '../../src/devices/device.js';
import { DiskImage } from '../../src/devices/ide/disk-image.js';
import { IdeChannel, type DriveMedia } from '../../src/devices/ide/ide-channel.js';
import { ports, RecordingIrq, type Ports } from './helpers.js';

export const SECTOR = 512;
const dir = mkdtempSync(join(tmpdir(), 'vmm-ide-'));
let files = 0;

/** The byte at `offset` of sector `lba` in a patterned image: the LBA's low bytes, then a sequence. */
export function patternByte(lba: number, offset: number): number {
  if (offset < 4) return Math.floor(lba / 256 ** offset) & 0xff;
  return (lba * 7 + offset) & 0xff;
}

export function patternSector(lba: number): Uint8Array {
  const bytes = new Uint8Array(SECTOR);
  for (let i = 0; i < SECTOR; i++) bytes[i] = patternByte(lba, i);
  return bytes;
}

/** A new image file of `sectors` patterned sectors (plus `extraBytes` of a partial sector). */
export function imageFile(sectors: number, extraBytes = 0): string {
  const path = join(dir, `disk-${files++}.img`);
  const fd = openSync(path, 'w');
  const chunk = 2048;
  for (let first = 0; first < sectors; first += chunk) {
    const count = Math.min(chunk, sectors - first);
    const bytes = new Uint8Array(count * SECTOR);
    for (let s = 0; s < count; s++) bytes.set(patternSector(first + s), s * SECTOR);
    writeSync(fd, bytes, 0, bytes.length, first * SECTOR);
  }
  if (extraBytes > 0) writeSync(fd, new Uint8Array(extraBytes).fill(0xee), 0, extraBytes, sectors * SECTOR);
  closeSync(fd);
  return path;
}

/** A sparse image of `sectors` sectors, with patterned sectors only at `patterned`. */
export function sparseImageFile(sectors: number, patterned: number[]): string {
  const path = join(dir, `sparse-${files++}.img`);
  const fd = openSync(path, 'w');
  ftruncateSync(fd, sectors * SECTOR);
  for (const lba of patterned) writeSync(fd, patternSector(lba), 0, SECTOR, lba * SECTOR);
  closeSync(fd);
  return path;
}

export const identity = (n: number) => ({ model: 'VMM HARDDISK', serial: `VM0000${n}`, firmware: '0.1.0' });

export function media(path: string, readOnly = false, n = 1): DriveMedia {
  return { image: DiskImage.open(path, readOnly), identity: identity(n) };
}

/** Guest RAM of `bytes` from physical 0, recording what a bus master wrote. */
export class FakeRam implements GuestMemory {
  readonly bytes: Uint8Array;
  readonly writes: [number, number][] = [];

  constructor(size: number) {
    this.bytes = new Uint8Array(size);
  }

  range(address: number, length: number): Uint8Array | undefined {
    if (address + length > this.bytes.length) return undefined;
    return this.bytes.subarray(address, address + length);
  }

  written(address: number, length: number): void {
    this.writes.push([address, length]);
  }

  putPrd(at: number, entries: [address: number, bytes: number, last: boolean][]): void {
    const view = new DataView(this.bytes.buffer);
    entries.forEach(([address, bytes, last], i) => {
      view.setUint32(at + 8 * i, address, true);
      view.setUint32(at + 8 * i + 4, (bytes & 0xffff) | (last ? 0x80000000 : 0), true);
    });
  }
}

export const BM_BASE = 0xc000;

export interface Rig {
  io: Ports;
  irq: RecordingIrq;
  channel: IdeChannel;
  ram: FakeRam;
  master: { enabled: boolean };
}

/** A primary channel at 0x1F0/0x3F6 with its bus master registers at BM_BASE. */
export function rig(drives: (DriveMedia | undefined)[], ramBytes = 1 << 20): Rig {
  const irq = new RecordingIrq();
  const ram = new FakeRam(ramBytes);
  const master = { enabled: true };
  const channel = new IdeChannel('ide0', drives, irq, { memory: ram, mayMaster: () => master.enabled });
  const busMaster = {
    name: 'bm', snapshot: () => ({ version: 1 }), restore() {},
    read: (offset: number, size: number) => readBytes(offset, size, 8, (at) => channel.busMaster.readRegister(at)),
    write: (offset: number, size: number, value: number) => writeBytes(offset, size, value, 8, (at, byte) => channel.busMaster.writeRegister(at, byte)),
  };
  const io = ports([0x1f0, 8, channel], [0x3f6, 1, channel.controlBlock], [BM_BASE, 8, busMaster]);
  return { io, irq, channel, ram, master };
}

/** Task file ports of the primary channel. */
export const P = { data: 0x1f0, error: 0x1f1, count: 0x1f2, lbaLow: 0x1f3, lbaMid: 0x1f4, lbaHigh: 0x1f5, device: 0x1f6, status: 0x1f7, control: 0x3f6 };

/** Issues an LBA28 command to the master. */
export function lba28(io: Ports, command: number, lba: number, count: number): void {
  io.outb(P.device, 0xe0 | ((lba >>> 24) & 0x0f));
  io.outb(P.count, count & 0xff);
  io.outb(P.lbaLow, lba & 0xff);
  io.outb(P.lbaMid, (lba >>> 8) & 0xff);
  io.outb(P.lbaHigh, (lba >>> 16) & 0xff);
  io.outb(P.status, command);
}

/** Issues an LBA48 command to the master: high bytes first, as the HOB registers take them. */
export function lba48(io: Ports, command: number, lba: number, count: number): void {
  io.outb(P.device, 0x40);
  io.outb(P.count, (count >>> 8) & 0xff);
  io.outb(P.lbaLow, Math.floor(lba / 2 ** 24) & 0xff);
  io.outb(P.lbaMid, Math.floor(lba / 2 ** 32) & 0xff);
  io.outb(P.lbaHigh, Math.floor(lba / 2 ** 40) & 0xff);
  io.outb(P.count, count & 0xff);
  io.outb(P.lbaLow, lba & 0xff);
  io.outb(P.lbaMid, (lba >>> 8) & 0xff);
  io.outb(P.lbaHigh, (lba >>> 16) & 0xff);
  io.outb(P.status, command);
}

/** Reads one 512-byte DRQ block through 16-bit data port reads. */
export function readBlock(io: Ports, sectors = 1): Uint8Array {
  const bytes = new Uint8Array(sectors * SECTOR);
  for (let i = 0; i < bytes.length; i += 2) {
    const word = io.inw(P.data);
    bytes[i] = word & 0xff;
    bytes[i + 1] = word >> 8;
  }
  return bytes;
}

export function writeBlock(io: Ports, bytes: Uint8Array): void {
  for (let i = 0; i < bytes.length; i += 2) io.outw(P.data, bytes[i] | (bytes[i + 1] << 8));
}

/** IDENTIFY data as words. */
export function identifyWords(io: Ports): Uint16Array {
  io.outb(P.status, 0xec);
  const bytes = readBlock(io);
  return new Uint16Array(bytes.buffer);
}

/** An ATA string from IDENTIFY words: each word's high byte first. */
export function ataString(words: Uint16Array, first: number, count: number): string {
  let text = '';
  for (let i = first; i < first + count; i++) text += String.fromCharCode(words[i] >> 8, words[i] & 0xff);
  return text;
}
