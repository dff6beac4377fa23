// An ATA disk on an IDE channel, driven through its registers as a driver drives it.
import { readFileSync, statSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { DiskImage, DiskImageError } from '../../src/devices/ide/disk-image.js';
import { IdeChannel } from '../../src/devices/ide/ide-channel.js';
import {
  ataString, identifyWords, imageFile, lba28, lba48, media, P, patternSector, readBlock, rig, SECTOR, sparseImageFile, writeBlock,
} from './ide-helpers.js';

const STATUS_IDLE = 0x50;
const STATUS_DRQ = 0x58;
const STATUS_ERROR = 0x41;
const ABRT = 0x04;
const IDNF = 0x10;

describe('IDENTIFY DEVICE', () => {
  it('names the drive, its geometry and its capacity', () => {
    const { io, irq } = rig([media(imageFile(16384))]);
    io.outb(P.device, 0xa0);
    const words = identifyWords(io);
    expect(irq.rises).toBe(1);
    expect(ataString(words, 27, 20)).toBe('VMM HARDDISK'.padEnd(40, ' '));
    expect(ataString(words, 10, 10)).toBe('VM00001'.padEnd(20, ' '));
    expect(ataString(words, 23, 4)).toBe('0.1.0   ');
    expect([words[1], words[3], words[6]]).toEqual([16, 16, 63]); // 16384 sectors: 16 whole cylinders of 16 × 63
    expect([words[54], words[55], words[56]]).toEqual([16, 16, 63]);
    expect(words[57] | (words[58] << 16)).toBe(16 * 16 * 63);
    expect(words[60] | (words[61] << 16)).toBe(16384);
    expect(words[100] | (words[101] << 16)).toBe(16384);
    expect(words[49] & 0x0300).toBe(0x0300); // LBA and DMA
    expect(words[83] & (1 << 10)).not.toBe(0); // 48-bit addresses
    expect(words[86] & (1 << 10)).not.toBe(0);
    expect(words[63] & 0xff).toBe(0x07); // multiword DMA 0-2
    expect(words[88]).toBe(0x203f); // Ultra DMA 0-5, mode 5 selected
    expect(words[47]).toBe(0x8010);
    expect(words[59]).toBe(0x0110);
    const bytes = new Uint8Array(words.buffer);
    expect(bytes[510]).toBe(0xa5);
    expect(bytes.reduce((sum, b) => (sum + b) & 0xff, 0)).toBe(0);
    expect(io.inb(P.status)).toBe(STATUS_IDLE); // the block was read: DRQ is gone
  });

  it('gives the LBA28 limit and the full 48-bit capacity of a disk beyond 128 GiB', () => {
    const sectors = 2 ** 28 + 100;
    const { io } = rig([media(sparseImageFile(sectors, []))]);
    io.outb(P.device, 0xa0);
    const words = identifyWords(io);
    expect(words[60] | (words[61] << 16)).toBe(0x0fffffff);
    expect(words[100] + words[101] * 0x10000 + words[102] * 2 ** 32).toBe(sectors);
    expect([words[1], words[3], words[6]]).toEqual([16383, 16, 63]);
  });

  it('shows the transfer mode SET FEATURES selected', () => {
    const { io } = rig([media(imageFile(64))]);
    io.outb(P.device, 0xa0);
    io.outb(P.error, 0x03);
    io.outb(P.count, 0x22); // multiword DMA mode 2
    io.outb(P.status, 0xef);
    expect(io.inb(P.status)).toBe(STATUS_IDLE);
    const words = identifyWords(io);
    expect(words[63]).toBe(0x0407);
    expect(words[88]).toBe(0x003f);
    io.outb(P.error, 0x03);
    io.outb(P.count, 0x23); // multiword DMA mode 3 does not exist
    io.outb(P.status, 0xef);
    expect(io.inb(P.status)).toBe(STATUS_ERROR);
    expect(io.inb(P.error)).toBe(ABRT);
  });

  it('gives a tiny disk a geometry that stays on it', () => {
    const { io } = rig([media(imageFile(100))]);
    io.outb(P.device, 0xa0);
    const words = identifyWords(io);
    expect(words[1] * words[3] * words[6]).toBeLessThanOrEqual(100);
    expect(words[6]).toBe(63);
  });
});

describe('PIO reads and writes', () => {
  it('reads sectors by LBA28, one interrupt per sector, none after the last', () => {
    const { io, irq } = rig([media(imageFile(64))]);
    lba28(io, 0x20, 5, 3);
    for (let s = 0; s < 3; s++) {
      expect(irq.level).toBe(true);
      expect(io.inb(P.status)).toBe(STATUS_DRQ);
      expect(irq.level).toBe(false);
      expect(readBlock(io)).toEqual(patternSector(5 + s));
    }
    expect(irq.rises).toBe(3);
    expect(io.inb(P.status)).toBe(STATUS_IDLE);
    // The registers hold the last sector read and no sectors left.
    expect([io.inb(P.lbaLow), io.inb(P.count)]).toEqual([7, 0]);
  });

  it('reads a sector count of 0 as 256 sectors, through 32-bit accesses', () => {
    const { io, irq } = rig([media(imageFile(300))]);
    lba28(io, 0x20, 10, 0);
    for (let s = 0; s < 256; s++) {
      io.inb(P.status);
      const bytes = new Uint8Array(SECTOR);
      const view = new DataView(bytes.buffer);
      for (let i = 0; i < SECTOR; i += 4) view.setUint32(i, io.inl(P.data), true);
      expect(bytes).toEqual(patternSector(10 + s));
    }
    expect(irq.rises).toBe(256);
    expect(io.inb(P.status)).toBe(STATUS_IDLE);
  });

  it('writes sectors onto the image: no interrupt for the first block, one after each', () => {
    const path = imageFile(64);
    const { io, irq } = rig([media(path)]);
    lba28(io, 0x30, 9, 2);
    expect(io.inb(P.status)).toBe(STATUS_DRQ);
    expect(irq.rises).toBe(0);
    const first = new Uint8Array(SECTOR).fill(0xa1);
    const second = new Uint8Array(SECTOR).fill(0xb2);
    writeBlock(io, first);
    expect(irq.rises).toBe(1);
    expect(io.inb(P.status)).toBe(STATUS_DRQ);
    writeBlock(io, second);
    expect(irq.rises).toBe(2);
    expect(io.inb(P.status)).toBe(STATUS_IDLE);
    const file = readFileSync(path);
    expect(file.subarray(8 * SECTOR, 9 * SECTOR)).toEqual(Buffer.from(patternSector(8)));
    expect(file.subarray(9 * SECTOR, 10 * SECTOR)).toEqual(Buffer.from(first));
    expect(file.subarray(10 * SECTOR, 11 * SECTOR)).toEqual(Buffer.from(second));
    expect(file.subarray(11 * SECTOR, 12 * SECTOR)).toEqual(Buffer.from(patternSector(11)));
  });

  it('reads and writes in blocks of the multiple count set by SET MULTIPLE MODE', () => {
    const path = imageFile(64);
    const { io, irq } = rig([media(path)]);
    io.outb(P.device, 0xe0);
    io.outb(P.count, 3);
    io.outb(P.status, 0xc6); // not a power of two
    expect(io.inb(P.status)).toBe(STATUS_ERROR);
    io.outb(P.count, 4);
    io.outb(P.status, 0xc6);
    expect(io.inb(P.status)).toBe(STATUS_IDLE);
    irq.rises = 0;
    lba28(io, 0xc4, 20, 6);
    io.inb(P.status);
    const first = readBlock(io, 4);
    for (let s = 0; s < 4; s++) expect(first.subarray(s * SECTOR, (s + 1) * SECTOR)).toEqual(patternSector(20 + s));
    io.inb(P.status);
    const rest = readBlock(io, 2);
    expect(rest.subarray(SECTOR)).toEqual(patternSector(25));
    expect(irq.rises).toBe(2);
    expect(io.inb(P.status)).toBe(STATUS_IDLE);

    irq.rises = 0;
    lba28(io, 0xc5, 40, 5);
    writeBlock(io, new Uint8Array(4 * SECTOR).fill(0x44));
    expect(io.inb(P.status)).toBe(STATUS_DRQ);
    writeBlock(io, new Uint8Array(SECTOR).fill(0x55));
    expect(irq.rises).toBe(2);
    const file = readFileSync(path);
    expect(file[40 * SECTOR]).toBe(0x44);
    expect(file[43 * SECTOR + 511]).toBe(0x44);
    expect(file[44 * SECTOR]).toBe(0x55);
    expect(file.subarray(45 * SECTOR, 46 * SECTOR)).toEqual(Buffer.from(patternSector(45)));

    io.outb(P.count, 0);
    io.outb(P.status, 0xc6); // multiple mode off: READ MULTIPLE is refused
    lba28(io, 0xc4, 0, 1);
    expect(io.inb(P.status)).toBe(STATUS_ERROR);
    expect(io.inb(P.error)).toBe(ABRT);
  });

  it('addresses beyond 2^28 sectors with the 48-bit commands', () => {
    const target = 2 ** 28 + 40;
    const path = sparseImageFile(2 ** 28 + 64, [target, target + 1]);
    const { io } = rig([media(path)]);
    lba48(io, 0x24, target, 2);
    io.inb(P.status);
    expect(readBlock(io)).toEqual(patternSector(target));
    io.inb(P.status);
    expect(readBlock(io)).toEqual(patternSector(target + 1));
    // The registers report the last sector, its high bytes behind HOB.
    expect(io.inb(P.lbaLow)).toBe((target + 1) & 0xff);
    io.outb(P.control, 0x80);
    expect(io.inb(P.lbaLow)).toBe(Math.floor((target + 1) / 2 ** 24) & 0xff);
    io.outb(P.control, 0x00);

    lba48(io, 0x34, target + 2, 1);
    writeBlock(io, new Uint8Array(SECTOR).fill(0x48));
    expect(io.inb(P.status)).toBe(STATUS_IDLE);
    const fd = DiskImage.open(path, true);
    const back = new Uint8Array(SECTOR);
    fd.read(back, (target + 2) * SECTOR);
    fd.close();
    expect(back.every((b) => b === 0x48)).toBe(true);
  });

  it('reads the previous register values with HOB set, and any register write clears HOB', () => {
    const { io } = rig([media(imageFile(64))]);
    io.outb(P.count, 0x12);
    io.outb(P.count, 0x34);
    io.outb(P.control, 0x80);
    expect(io.inb(P.count)).toBe(0x12);
    io.outb(P.lbaLow, 0x00);
    expect(io.inb(P.count)).toBe(0x34);
  });

  it('addresses by cylinder, head and sector, in the geometry INITIALIZE DEVICE PARAMETERS sets', () => {
    const { io } = rig([media(imageFile(16384))]);
    const chsRead = (cylinder: number, head: number, sector: number) => {
      io.outb(P.device, 0xa0 | head);
      io.outb(P.count, 1);
      io.outb(P.lbaLow, sector);
      io.outb(P.lbaMid, cylinder & 0xff);
      io.outb(P.lbaHigh, cylinder >> 8);
      io.outb(P.status, 0x20);
      return io.inb(P.status);
    };
    expect(chsRead(1, 2, 3)).toBe(STATUS_DRQ);
    expect(readBlock(io)).toEqual(patternSector((1 * 16 + 2) * 63 + 2));
    expect([io.inb(P.lbaHigh), io.inb(P.lbaMid), io.inb(P.device) & 0x0f, io.inb(P.lbaLow)]).toEqual([0, 1, 2, 3]);
    expect(chsRead(0, 0, 0)).toBe(STATUS_ERROR); // sector numbers start at 1
    expect(io.inb(P.error)).toBe(IDNF);
    expect(chsRead(0, 0, 64)).toBe(STATUS_ERROR);

    io.outb(P.device, 0xa0 | 3); // 4 heads
    io.outb(P.count, 17); // of 17 sectors
    io.outb(P.status, 0x91);
    expect(io.inb(P.status)).toBe(STATUS_IDLE);
    expect(chsRead(1, 2, 3)).toBe(STATUS_DRQ);
    expect(readBlock(io)).toEqual(patternSector((1 * 4 + 2) * 17 + 2));
    expect(chsRead(0, 4, 1)).toBe(STATUS_ERROR);
    io.outb(P.device, 0xa0);
    const words = identifyWords(io);
    expect([words[54], words[55], words[56]]).toEqual([Math.floor(16384 / 68), 4, 17]);
  });

  it('refuses an address off the end of the disk with IDNF', () => {
    const { io, irq } = rig([media(imageFile(64))]);
    lba28(io, 0x20, 63, 2);
    expect(irq.level).toBe(true);
    expect(io.inb(P.status)).toBe(STATUS_ERROR);
    expect(io.inb(P.error)).toBe(IDNF);
    lba28(io, 0x20, 63, 1);
    expect(io.inb(P.status)).toBe(STATUS_DRQ);
  });

  it('leaves a partial last sector off the disk', () => {
    const path = imageFile(10, 300);
    expect(statSync(path).size).toBe(10 * SECTOR + 300);
    const { io } = rig([media(path)]);
    io.outb(P.device, 0xa0);
    const words = identifyWords(io);
    expect(words[60]).toBe(10);
    lba28(io, 0x20, 10, 1);
    expect(io.inb(P.error)).toBe(IDNF);
  });

  it('verifies sectors without data, and flushes', () => {
    const { io, irq } = rig([media(imageFile(64))]);
    lba28(io, 0x40, 10, 4);
    expect(irq.level).toBe(true);
    expect(io.inb(P.status)).toBe(STATUS_IDLE);
    lba48(io, 0x42, 60, 4);
    expect(io.inb(P.status)).toBe(STATUS_IDLE);
    lba48(io, 0x42, 61, 4);
    expect(io.inb(P.status)).toBe(STATUS_ERROR);
    for (const flush of [0xe7, 0xea]) {
      io.outb(P.status, flush);
      expect(io.inb(P.status)).toBe(STATUS_IDLE);
    }
  });
});

describe('the drive and its channel', () => {
  it('raises its interrupt until Status is read; Alternate Status leaves it', () => {
    const { io, irq } = rig([media(imageFile(64))]);
    io.outb(P.device, 0xa0);
    io.outb(P.status, 0x10); // RECALIBRATE
    expect(irq.level).toBe(true);
    expect(io.inb(P.control)).toBe(STATUS_IDLE);
    expect(irq.level).toBe(true);
    expect(io.inb(P.status)).toBe(STATUS_IDLE);
    expect(irq.level).toBe(false);
  });

  it('keeps INTRQ off while nIEN is set, and drives it when nIEN clears with an interrupt pending', () => {
    const { io, irq } = rig([media(imageFile(64))]);
    io.outb(P.control, 0x02);
    io.outb(P.device, 0xa0);
    io.outb(P.status, 0x10);
    expect(irq.rises).toBe(0);
    io.outb(P.control, 0x00);
    expect(irq.level).toBe(true);
    io.inb(P.status);
    expect(irq.level).toBe(false);
  });

  it('shows the ATA signature after a software reset, with device 0 selected', () => {
    const { io, irq } = rig([media(imageFile(64)), media(imageFile(64), false, 2)]);
    io.outb(P.device, 0xb0);
    lba28(io, 0x20, 5, 2); // a transfer in progress on the master...
    expect(io.inb(P.status)).toBe(STATUS_DRQ);
    io.outb(P.control, 0x04); // ...abandoned by SRST
    expect(io.inb(P.control)).toBe(0x80);
    io.outb(P.control, 0x00);
    expect(irq.level).toBe(false);
    expect(io.inb(P.status)).toBe(STATUS_IDLE);
    expect([io.inb(P.count), io.inb(P.lbaLow), io.inb(P.lbaMid), io.inb(P.lbaHigh), io.inb(P.device)]).toEqual([1, 1, 0, 0, 0]);
    expect(io.inb(P.error)).toBe(0x01);
    io.outb(P.device, 0xb0);
    expect([io.inb(P.status), io.inb(P.count), io.inb(P.lbaMid), io.inb(P.lbaHigh)]).toEqual([STATUS_IDLE, 1, 0, 0]);
    expect(io.inw(P.data)).toBe(0); // nothing to read
  });

  it('answers EXECUTE DEVICE DIAGNOSTIC from both drives, whichever is selected', () => {
    const { io, irq } = rig([media(imageFile(64)), media(imageFile(64), false, 2)]);
    io.outb(P.device, 0xb0);
    io.outb(P.status, 0x90);
    expect(irq.level).toBe(true);
    expect([io.inb(P.status), io.inb(P.error), io.inb(P.count), io.inb(P.lbaLow), io.inb(P.device)]).toEqual([STATUS_IDLE, 1, 1, 1, 0]);
  });

  it('has no device 1 when only a master is there: Status reads 0, commands are ignored', () => {
    const { io, irq } = rig([media(imageFile(64))]);
    io.outb(P.device, 0xb0);
    expect(io.inb(P.status)).toBe(0);
    expect(io.inb(P.control)).toBe(0);
    io.outb(P.count, 0x55);
    io.outb(P.lbaLow, 0xaa);
    expect([io.inb(P.count), io.inb(P.lbaLow), io.inb(P.device)]).toEqual([0x55, 0xaa, 0xb0]); // device 0 answers
    io.outb(P.status, 0xec);
    expect(irq.rises).toBe(0);
    expect(io.inb(P.status)).toBe(0);
    expect(io.inb(P.error)).toBe(0);
    io.outb(P.device, 0xa0);
    expect(io.inb(P.status)).toBe(STATUS_IDLE);
  });

  it('floats high with no drive at all', () => {
    const { io } = rig([]);
    for (const port of [P.data, P.error, P.count, P.lbaLow, P.device, P.status, P.control]) expect(io.inb(port)).toBe(0xff);
    expect(io.inw(P.data)).toBe(0xffff);
    io.outb(P.device, 0xa0);
    io.outb(P.status, 0xec);
    expect(io.inb(P.status)).toBe(0xff);
  });

  it('serves the selected drive: master and slave have their own data', () => {
    const { io } = rig([media(imageFile(64)), media(imageFile(128), false, 2)]);
    io.outb(P.device, 0xb0);
    const slave = identifyWords(io);
    expect(slave[60]).toBe(128);
    expect(ataString(slave, 10, 10).trim()).toBe('VM00002');
    io.outb(P.device, 0xa0);
    expect(identifyWords(io)[60]).toBe(64);
  });

  it('aborts commands a disk does not have, and answers the power commands', () => {
    const { io, irq } = rig([media(imageFile(64))]);
    io.outb(P.device, 0xa0);
    for (const command of [0xa1, 0xa0, 0x08, 0xe4, 0x00]) {
      irq.rises = 0;
      io.outb(P.status, command);
      expect(irq.rises).toBe(1);
      expect(io.inb(P.status)).toBe(STATUS_ERROR);
      expect(io.inb(P.error)).toBe(ABRT);
    }
    const powerMode = () => {
      io.outb(P.status, 0xe5);
      expect(io.inb(P.status)).toBe(STATUS_IDLE);
      return io.inb(P.count);
    };
    expect(powerMode()).toBe(0xff);
    io.outb(P.status, 0xe0); // STANDBY IMMEDIATE
    expect(io.inb(P.status)).toBe(STATUS_IDLE);
    expect(powerMode()).toBe(0x00);
    io.outb(P.status, 0xe1); // IDLE IMMEDIATE
    expect(powerMode()).toBe(0xff);
    io.outb(P.count, 10);
    io.outb(P.status, 0xe2); // STANDBY with a timer
    expect(powerMode()).toBe(0x00);
    lba28(io, 0x40, 0, 1); // a media access spins it up
    expect(powerMode()).toBe(0xff);
    io.outb(P.count, 0);
    io.outb(P.status, 0xe3);
    expect(powerMode()).toBe(0xff);
    io.outb(P.error, 0x82); // SET FEATURES: write cache off
    io.outb(P.status, 0xef);
    expect(io.inb(P.status)).toBe(STATUS_IDLE);
    expect(identifyWords(io)[85] & (1 << 5)).toBe(0);
    io.outb(P.error, 0x77); // no such subcommand
    io.outb(P.status, 0xef);
    expect(io.inb(P.status)).toBe(STATUS_ERROR);
  });

  it('ignores register writes while DRQ is set', () => {
    const { io } = rig([media(imageFile(64))]);
    lba28(io, 0x20, 3, 1);
    io.outb(P.lbaLow, 0x77);
    expect(io.inb(P.lbaLow)).toBe(3);
  });

  it('refuses writes to a read-only drive and leaves the file as it was', () => {
    const path = imageFile(64);
    const before = readFileSync(path);
    const { io, irq } = rig([media(path, true)]);
    lba28(io, 0x30, 4, 1);
    expect(irq.level).toBe(true);
    expect(io.inb(P.status)).toBe(STATUS_ERROR);
    expect(io.inb(P.error)).toBe(ABRT);
    writeBlock(io, new Uint8Array(SECTOR).fill(0x99)); // data the drive does not take
    for (const command of [0x34, 0xc5, 0x39, 0xca, 0x35]) {
      if (command === 0x34 || command === 0x35 || command === 0x39) lba48(io, command, 4, 1);
      else lba28(io, command, 4, 1);
      expect(io.inb(P.status)).toBe(STATUS_ERROR);
    }
    lba28(io, 0x20, 4, 1); // reads still work
    io.inb(P.status);
    expect(readBlock(io)).toEqual(patternSector(4));
    expect(readFileSync(path)).toEqual(before);
  });

  it('carries a transfer in the middle of a sector across snapshot and restore', () => {
    const path = imageFile(64);
    const { io, channel } = rig([media(path)]);
    lba28(io, 0x20, 7, 2);
    io.inb(P.status);
    for (let i = 0; i < 100; i++) io.inw(P.data);
    const saved = JSON.parse(JSON.stringify(channel.snapshot()));
    const other = rig([media(path)]);
    other.channel.restore(saved);
    const rest = new Uint8Array(SECTOR - 200);
    for (let i = 0; i < rest.length; i += 2) {
      const word = other.io.inw(P.data);
      rest[i] = word & 0xff;
      rest[i + 1] = word >> 8;
    }
    expect(rest).toEqual(patternSector(7).subarray(200));
    expect(other.io.inb(P.status)).toBe(STATUS_DRQ);
    expect(readBlock(other.io)).toEqual(patternSector(8));
    expect(() => new IdeChannel('ide0', [], other.irq, { memory: other.ram, mayMaster: () => true }).restore(saved)).toThrow(/device 0 was present/);
  });
});

describe('drive images', () => {
  it('are refused with the reason: missing, a directory, smaller than a sector', () => {
    expect(() => DiskImage.open('/nonexistent/disk.img', false)).toThrow(DiskImageError);
    expect(() => DiskImage.open('/nonexistent/disk.img', false)).toThrow(/no such file/);
    expect(() => DiskImage.open('/tmp', false)).toThrow(/it is a directory/);
    expect(() => DiskImage.open(imageFile(0, 100), false)).toThrow(/smaller than one sector/);
  });
});
