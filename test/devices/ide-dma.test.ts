// Bus master DMA on an IDE channel: PRD tables in guest RAM, data between the image and RAM.
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { BM_BASE, imageFile, lba28, lba48, media, P, patternSector, rig, SECTOR, type Rig } from './ide-helpers.js';

const BM_COMMAND = BM_BASE;
const BM_STATUS = BM_BASE + 2;
const BM_PRD = BM_BASE + 4;
const START = 0x01;
const TO_MEMORY = 0x08;
const ACTIVE = 0x01;
const ERROR = 0x02;
const INTERRUPT = 0x04;
const PRD_TABLE = 0x1000;

/** What Linux's ata_bmdma_setup and ata_bmdma_start do: table, direction, command, Start. */
function dma(r: Rig, command: number, lba: number, count: number, toMemory: boolean, ext = false): void {
  r.io.outl(BM_PRD, PRD_TABLE);
  r.io.outb(BM_COMMAND, toMemory ? TO_MEMORY : 0);
  r.io.outb(BM_STATUS, ERROR | INTERRUPT);
  (ext ? lba48 : lba28)(r.io, command, lba, count);
  r.io.outb(BM_COMMAND, (toMemory ? TO_MEMORY : 0) | START);
}

describe('bus master DMA', () => {
  it('reads sectors into RAM through a PRD table of two entries, then interrupts', () => {
    const r = rig([media(imageFile(64))]);
    r.ram.putPrd(PRD_TABLE, [[0x10000, 512, false], [0x20000, 1024, true]]);
    r.ram.bytes.fill(0xcc, 0x20000 + 1024, 0x20000 + 1100);
    dma(r, 0xc8, 12, 3, true);
    expect(r.ram.bytes.subarray(0x10000, 0x10000 + SECTOR)).toEqual(patternSector(12));
    expect(r.ram.bytes.subarray(0x20000, 0x20000 + SECTOR)).toEqual(patternSector(13));
    expect(r.ram.bytes.subarray(0x20000 + SECTOR, 0x20000 + 2 * SECTOR)).toEqual(patternSector(14));
    expect(r.ram.bytes[0x20000 + 1024]).toBe(0xcc);
    expect(r.ram.writes).toEqual([[0x10000, 512], [0x20000, 1024]]);
    expect(r.irq.level).toBe(true);
    expect(r.io.inb(BM_STATUS)).toBe(INTERRUPT); // the table was exactly the transfer: Active is clear
    r.io.outb(BM_COMMAND, TO_MEMORY);
    expect(r.io.inb(P.status)).toBe(0x50);
    expect(r.irq.level).toBe(false);
    r.io.outb(BM_STATUS, INTERRUPT);
    expect(r.io.inb(BM_STATUS)).toBe(0);
  });

  it('writes RAM onto the image with WRITE DMA EXT', () => {
    const path = imageFile(64);
    const r = rig([media(path)]);
    r.ram.putPrd(PRD_TABLE, [[0x30000, 1024, false], [0x40000, 512, true]]);
    r.ram.bytes.fill(0x31, 0x30000, 0x30000 + 1024);
    r.ram.bytes.fill(0x32, 0x40000, 0x40000 + 512);
    dma(r, 0x35, 20, 3, false, true);
    expect(r.io.inb(BM_STATUS)).toBe(INTERRUPT);
    expect(r.io.inb(P.status)).toBe(0x50);
    const file = readFileSync(path);
    expect(file.subarray(20 * SECTOR, 22 * SECTOR).every((b) => b === 0x31)).toBe(true);
    expect(file.subarray(22 * SECTOR, 23 * SECTOR).every((b) => b === 0x32)).toBe(true);
    expect(file.subarray(23 * SECTOR, 24 * SECTOR)).toEqual(Buffer.from(patternSector(23)));
    expect(r.ram.writes).toEqual([]);
  });

  it('waits for Start when the command comes first, and runs at once when Start came first', () => {
    const r = rig([media(imageFile(64))]);
    r.ram.putPrd(PRD_TABLE, [[0x10000, 512, true]]);
    r.io.outl(BM_PRD, PRD_TABLE);
    lba28(r.io, 0xc8, 1, 1);
    expect(r.io.inb(0x3f6)).toBe(0x58); // DRQ: waiting for the bus master
    expect(r.irq.level).toBe(false);
    r.io.outb(BM_COMMAND, TO_MEMORY | START);
    expect(r.irq.level).toBe(true);
    expect(r.ram.bytes.subarray(0x10000, 0x10000 + SECTOR)).toEqual(patternSector(1));
    r.io.inb(P.status);
    lba28(r.io, 0xc8, 2, 1); // Start is still set, Active is not: a new start is needed
    expect(r.irq.level).toBe(false);
    r.io.outb(BM_COMMAND, TO_MEMORY);
    r.io.outb(BM_COMMAND, TO_MEMORY | START);
    expect(r.ram.bytes.subarray(0x10000, 0x10000 + SECTOR)).toEqual(patternSector(2));
  });

  it('keeps Active set when the table describes more than the transfer', () => {
    const r = rig([media(imageFile(64))]);
    r.ram.putPrd(PRD_TABLE, [[0x10000, 0, true]]); // a count of 0 is 64 KiB
    dma(r, 0xc8, 0, 2, true);
    expect(r.io.inb(BM_STATUS)).toBe(ACTIVE | INTERRUPT);
    expect(r.ram.writes).toEqual([[0x10000, 1024]]);
  });

  it('stops without an interrupt when the table ends before the transfer; the drive still waits', () => {
    const r = rig([media(imageFile(64))]);
    r.ram.putPrd(PRD_TABLE, [[0x10000, 512, true]]);
    dma(r, 0xc8, 0, 2, true);
    expect(r.io.inb(BM_STATUS)).toBe(0);
    expect(r.irq.level).toBe(false);
    expect(r.io.inb(0x3f6)).toBe(0x58);
    // Another table and a new start move the rest.
    r.ram.putPrd(PRD_TABLE, [[0x20000, 512, true]]);
    r.io.outb(BM_COMMAND, TO_MEMORY);
    r.io.outb(BM_COMMAND, TO_MEMORY | START);
    expect(r.io.inb(BM_STATUS)).toBe(INTERRUPT);
    expect(r.ram.bytes.subarray(0x20000, 0x20000 + SECTOR)).toEqual(patternSector(1));
  });

  it('ends with the error bit and an aborted command when a region is outside RAM', () => {
    const r = rig([media(imageFile(64))], 1 << 20);
    r.ram.putPrd(PRD_TABLE, [[0x10000, 512, false], [0xfff00, 1024, true]]); // crosses the end of RAM
    dma(r, 0xc8, 0, 3, true);
    expect(r.io.inb(BM_STATUS)).toBe(ERROR | INTERRUPT);
    expect(r.io.inb(P.status)).toBe(0x41);
    expect(r.io.inb(P.error)).toBe(0x04);
    expect(r.ram.bytes.subarray(0x10000, 0x10000 + SECTOR)).toEqual(patternSector(0));
    expect(r.ram.bytes.subarray(0xfff00).every((b) => b === 0)).toBe(true);
  });

  it('ends with the error bit when the table itself is outside RAM', () => {
    const r = rig([media(imageFile(64))], 1 << 20);
    r.io.outl(BM_PRD, 0xfee00000);
    lba28(r.io, 0xca, 0, 1);
    r.io.outb(BM_COMMAND, START);
    expect(r.io.inb(BM_STATUS)).toBe(ERROR | INTERRUPT);
    expect(r.io.inb(P.status)).toBe(0x41);
  });

  it('moves nothing while the function may not master the bus', () => {
    const r = rig([media(imageFile(64))]);
    r.master.enabled = false;
    r.ram.putPrd(PRD_TABLE, [[0x10000, 512, true]]);
    dma(r, 0xc8, 5, 1, true);
    expect(r.ram.writes).toEqual([]);
    expect(r.io.inb(BM_STATUS)).toBe(ACTIVE);
    expect(r.irq.level).toBe(false);
  });

  it('refuses WRITE DMA on a read-only drive before any data moves', () => {
    const path = imageFile(64);
    const before = readFileSync(path);
    const r = rig([media(path, true)]);
    r.ram.putPrd(PRD_TABLE, [[0x10000, 512, true]]);
    r.ram.bytes.fill(0x77, 0x10000, 0x10200);
    dma(r, 0xca, 5, 1, false);
    expect(r.io.inb(P.status)).toBe(0x41);
    expect(r.io.inb(P.error)).toBe(0x04);
    expect(r.io.inb(BM_STATUS) & ERROR).toBe(0);
    expect(readFileSync(path)).toEqual(before);
  });

  it('keeps its registers: direction, the drives\' DMA capable bits, a dword-aligned table pointer', () => {
    const r = rig([media(imageFile(64))]);
    r.io.outb(BM_COMMAND, 0xff);
    expect(r.io.inb(BM_COMMAND)).toBe(TO_MEMORY | START);
    r.io.outb(BM_COMMAND, 0);
    r.io.outb(BM_STATUS, 0xff);
    expect(r.io.inb(BM_STATUS)).toBe(0x60);
    r.io.outl(BM_PRD, 0x12345677);
    expect(r.io.inl(BM_PRD)).toBe(0x12345674);
    expect(r.io.inw(BM_PRD + 2)).toBe(0x1234);
    const saved = JSON.parse(JSON.stringify(r.channel.snapshot()));
    const other = rig([media(imageFile(64))]);
    other.channel.restore(saved);
    expect(other.io.inl(BM_PRD)).toBe(0x12345674);
    expect(other.io.inb(BM_STATUS)).toBe(0x60);
  });
});
