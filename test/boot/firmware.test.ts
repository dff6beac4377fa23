import { describe, expect, it } from 'vitest';
import { flashBase, planFirmware } from '../../src/boot/firmware.js';
import { parseBootOrder } from '../../src/firmware/boot-order.js';
import { CmosRtc } from '../../src/devices/cmos-rtc.js';
import { FirmwareLog } from '../../src/devices/firmware-log.js';
import { FirmwareFlash } from '../../src/devices/firmware-flash.js';
import { noIrq } from '../../src/devices/device.js';
import { LoadError } from '../../src/boot/load-plan.js';

function flash(bytes: number): Uint8Array {
  const image = new Uint8Array(bytes);
  image.forEach((_, i) => (image[i] = i & 0xff));
  return image;
}

describe('a firmware image', () => {
  it('starts at the reset vector, its last 256 KiB at most ending at 1 MiB', () => {
    const small = planFirmware(flash(128 * 1024), 'bios.bin');
    expect(small.entry).toEqual({ cs: 0xf000, eip: 0xfff0 });
    expect(small.cpuMode).toBe('real16');
    expect(small.chunks.map((c) => [c.guestPhys, c.bytes.length])).toEqual([[0xe0000, 0x20000]]);
    const big = planFirmware(flash(1024 * 1024), 'big.bin');
    expect(big.chunks.map((c) => [c.guestPhys, c.bytes.length])).toEqual([[0xc0000, 0x40000]]);
    expect(big.chunks[0].bytes[0]).toBe(0); // the image's byte 0xC0000 (its last 256 KiB start there)
    expect(flashBase(256 * 1024)).toBe(0xfffc0000);
  });

  it('is refused when it cannot be one', () => {
    expect(() => planFirmware(new Uint8Array(0), 'e')).toThrow(LoadError);
    expect(() => planFirmware(new Uint8Array(1000), 'odd')).toThrow(/whole number of 64 KiB blocks/);
    expect(() => planFirmware(new Uint8Array(65536).fill(0xff), 'erased')).toThrow(/nothing at its reset vector/);
  });

  it('reads from its flash and ignores writes', () => {
    const device = new FirmwareFlash(flash(65536));
    expect(device.read(0x10, 4)).toBe(0x13121110);
    device.write();
    expect(device.read(0x10, 1)).toBe(0x10);
  });
});

describe('the boot order', () => {
  it("takes QEMU's letters and goes into the CMOS where SeaBIOS reads it", () => {
    expect(parseBootOrder('cad')).toEqual(['disk', 'floppy', 'cdrom']);
    const clock = { nowNs: () => 0 };
    const rtc = new CmosRtc(clock as never, noIrq, { startTime: 0, ramBytes: 64 << 20, bootOrder: parseBootOrder('dc') });
    const cmos = (index: number) => {
      rtc.write(0, 1, index);
      return rtc.read(1, 1);
    };
    expect(cmos(0x3d)).toBe(0x23); // CD-ROM first (3), then the hard disk (2)
    expect(cmos(0x38)).toBe(0x00);
  });
});

describe('the firmware log port', () => {
  it('hands on lines and answers as a debug console', () => {
    const lines: string[] = [];
    const log = new FirmwareLog((line) => lines.push(line));
    for (const byte of new TextEncoder().encode('Booting from Hard Disk...\r\nNo boot')) log.write(0, 1, byte);
    expect(lines).toEqual(['Booting from Hard Disk...']);
    expect(log.read()).toBe(0xe9);
    const copy = new FirmwareLog((line) => lines.push(line));
    copy.restore(log.snapshot());
    copy.write(0, 1, 0x0a);
    expect(lines).toEqual(['Booting from Hard Disk...', 'No boot']);
  });
});
