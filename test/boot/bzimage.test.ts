import { describe, expect, it } from 'vitest';
import { parseSetupHeader, planBzImage } from '../../src/boot/bzimage.js';
import { planImage } from '../../src/boot/detect.js';
import type { LoadPlan } from '../../src/boot/load-plan.js';
import { expectLoadError } from './expect-load-error.js';
import { applyPlan, bootSector, cStringAt, multibootElf, pattern, u32At, u64At } from './image-builder.js';

const MiB = 1 << 20;
const ramSize = 64 * MiB;

/** Setup header fields of a synthetic bzImage; the defaults are those of Debian's 6.1 686 kernel. */
interface BzSpec {
  /** The raw setup_sects byte (0 means 4). */
  setupSects?: number;
  bootFlag?: number;
  magic?: string;
  version?: number;
  /** 0x202 + the byte at 0x201. */
  headerEnd?: number;
  loadflags?: number;
  code32Start?: number;
  initrdAddrMax?: number;
  kernelAlignment?: number;
  relocatable?: boolean;
  cmdlineSize?: number;
  prefAddress?: bigint;
  initSize?: number;
  /** Stored at 0x600 with kernel_version = 0x400; null for kernel_version = 0. */
  kernelVersion?: string | null;
  /** The protected-mode kernel. */
  payload?: Uint8Array;
}

/**
 * A bzImage: boot sector and setup sectors of recognisable filler with the
 * setup header written over it, then the protected-mode kernel.
 */
function bzImage(spec: BzSpec = {}): Uint8Array {
  const rawSects = spec.setupSects ?? 8;
  const setupEnd = ((rawSects || 4) + 1) * 512;
  const payload = spec.payload ?? pattern(0x3000, 3);
  const image = new Uint8Array(setupEnd + payload.length);
  image.set(pattern(setupEnd, 11));
  image.set(payload, setupEnd);
  const view = new DataView(image.buffer);
  const headerEnd = spec.headerEnd ?? 0x26c;
  view.setUint8(0x1f1, rawSects);
  view.setUint32(0x1f4, Math.ceil(payload.length / 16), true); // syssize
  view.setUint16(0x1fe, spec.bootFlag ?? 0xaa55, true);
  view.setUint8(0x200, 0xeb);
  view.setUint8(0x201, headerEnd - 0x202);
  image.set(new TextEncoder().encode(spec.magic ?? 'HdrS'), 0x202);
  view.setUint16(0x206, spec.version ?? 0x020f, true);
  const kernelVersion = spec.kernelVersion === undefined ? '6.1.0-test (builder@host) #1 SMP' : spec.kernelVersion;
  view.setUint16(0x20e, kernelVersion === null ? 0 : 0x400, true);
  if (kernelVersion !== null) image.set(new TextEncoder().encode(`${kernelVersion}\0`), 0x600);
  view.setUint8(0x210, 0);
  view.setUint8(0x211, spec.loadflags ?? 0x01);
  view.setUint32(0x214, spec.code32Start ?? 0x100000, true);
  view.setUint32(0x22c, spec.initrdAddrMax ?? 0x7fffffff, true);
  view.setUint32(0x230, spec.kernelAlignment ?? 0x1000000, true);
  view.setUint8(0x234, (spec.relocatable ?? true) ? 1 : 0);
  view.setUint32(0x238, spec.cmdlineSize ?? 2047, true);
  view.setBigUint64(0x258, spec.prefAddress ?? 0x1000000n, true);
  view.setUint32(0x260, spec.initSize ?? 0x100c000, true);
  return image;
}

/** A large initrd, cheaper to make than pattern(). */
function filled(length: number): Uint8Array {
  return new Uint8Array(length).fill(0x5a);
}

function u16At(ram: Uint8Array, at: number): number {
  return new DataView(ram.buffer, ram.byteOffset).getUint16(at, true);
}

const ZERO_PAGE = 0x10000;

function zeroPageOf(plan: LoadPlan): Uint8Array {
  const chunk = plan.chunks.find((c) => c.guestPhys === ZERO_PAGE);
  expect(chunk?.bytes.length).toBe(4096);
  return chunk!.bytes;
}

function readE820(zp: Uint8Array): { addr: number; size: number; type: number }[] {
  const entries = [];
  for (let i = 0; i < zp[0x1e8]; i++) {
    const at = 0x2d0 + 20 * i;
    entries.push({ addr: u64At(zp, at), size: u64At(zp, at + 8), type: u32At(zp, at + 16) });
  }
  return entries;
}

describe('Linux bzImage: the 32-bit boot protocol', () => {
  it('enters flat protected mode with __BOOT_CS 0x10, __BOOT_DS 0x18 and %esi at the zero page', () => {
    const plan = planBzImage(bzImage(), { ramSize });
    expect(plan.format).toBe('linux');
    expect(plan.description).toBe('Linux bzImage 6.1.0-test, boot protocol 2.15, entry 0x100000');
    expect(plan.cpuMode).toBe('protected32');
    expect(plan.entry).toEqual({ cs: 0x10, eip: 0x100000 });
    expect(plan.segments).toEqual({ ds: 0x18, es: 0x18, ss: 0x18, fs: 0x18, gs: 0x18 });
    expect(plan.registers).toEqual({ esi: 0x10000, ebp: 0, edi: 0, ebx: 0, esp: 0x7c00, eflags: 0x2 });
    expect(plan.gdt).toEqual({ base: 0x500, limit: 31 });
    const ram = applyPlan(plan, ramSize);
    expect([...ram.subarray(0x500, 0x520)]).toEqual([
      0, 0, 0, 0, 0, 0, 0, 0,
      0, 0, 0, 0, 0, 0, 0, 0, // 0x08: unused
      0xff, 0xff, 0, 0, 0, 0x9a, 0xcf, 0, // 0x10: code, base 0, limit 4 GiB, G=1 D=1
      0xff, 0xff, 0, 0, 0, 0x92, 0xcf, 0, // 0x18: data
    ]);
  });

  it('loads only the protected-mode kernel, at 0x100000', () => {
    const payload = pattern(0x3000, 3);
    const plan = planBzImage(bzImage({ payload }), { ramSize });
    const ram = applyPlan(plan, ramSize);
    expect(ram.subarray(0x100000, 0x103000)).toEqual(payload);
    expect(plan.chunks.map((c) => [c.guestPhys, c.bytes.length])).toEqual([
      [0x100000, 0x3000],
      [0x500, 32],
      [0x10000, 4096],
      [0x20000, 1],
    ]);
    expect(plan.zeroRanges).toEqual([]);
  });

  it('setup_sects 0 means 4', () => {
    const payload = pattern(0x1000, 7);
    const plan = planBzImage(bzImage({ setupSects: 0, payload }), { ramSize });
    expect(plan.chunks[0]).toEqual({ guestPhys: 0x100000, bytes: payload });
  });

  it('keeps its structures in low memory, apart from each other and from the kernel', () => {
    const plan = planBzImage(bzImage(), { ramSize, cmdline: 'console=ttyS0', initrd: pattern(5000) });
    expect(plan.reserved).toEqual([
      { guestPhys: 0x500, length: 32, what: 'GDT' },
      { guestPhys: 0x10000, length: 4096, what: 'zero page (boot_params)' },
      { guestPhys: 0x20000, length: 14, what: 'command line' },
    ]);
    for (const r of plan.reserved) {
      expect(plan.chunks.filter((c) => c.guestPhys === r.guestPhys).map((c) => c.bytes.length)).toEqual([r.length]);
    }
    const ranges = plan.chunks.map((c) => ({ start: c.guestPhys, end: c.guestPhys + c.bytes.length }));
    for (let i = 0; i < ranges.length; i++) {
      for (let j = i + 1; j < ranges.length; j++) {
        expect(ranges[i].start < ranges[j].end && ranges[j].start < ranges[i].end, `${i} and ${j} overlap`).toBe(false);
      }
    }
  });
});

describe('Linux bzImage: the zero page', () => {
  it('copies the setup header up to 0x202 + the byte at 0x201 and fills in the loader fields', () => {
    const image = bzImage();
    const zp = zeroPageOf(planBzImage(image, { ramSize, cmdline: 'quiet' }));
    const written = new Map<number, number>([
      [0x210, 0xff], // type_of_loader: undefined
      [0x211, 0x81], // loadflags: LOADED_HIGH | CAN_USE_HEAP
      [0x218, 0], [0x219, 0], [0x21a, 0], [0x21b, 0], // ramdisk_image
      [0x21c, 0], [0x21d, 0], [0x21e, 0], [0x21f, 0], // ramdisk_size
      [0x224, 0x00], [0x225, 0xde], // heap_end_ptr 0xde00
      [0x228, 0x00], [0x229, 0x00], [0x22a, 0x02], [0x22b, 0x00], // cmd_line_ptr 0x20000
    ]);
    for (let at = 0x1f1; at < 0x26c; at++) {
      expect(zp[at], `offset ${at.toString(16)}`).toBe(written.get(at) ?? image[at]);
    }
    // Nothing after the header is copied, and the sentinel at 0x1ef stays 0.
    expect(zp.subarray(0x26c, 0x2d0).every((b) => b === 0)).toBe(true);
    expect(zp[0x1ef]).toBe(0);
    expect(u16At(zp, 0x224)).toBe(0xde00);
    expect(u32At(zp, 0x228)).toBe(0x20000);
    expect(cStringAt(applyPlan(planBzImage(image, { ramSize, cmdline: 'quiet' }), ramSize), 0x20000)).toBe('quiet');
  });

  it('describes memory with an e820 table and the old ext_mem_k/alt_mem_k sizes', () => {
    const zp = zeroPageOf(planBzImage(bzImage(), { ramSize }));
    expect(readE820(zp)).toEqual([
      { addr: 0, size: 0x9fc00, type: 1 },
      { addr: 0x9fc00, size: 0x400, type: 2 },
      { addr: 0xf0000, size: 0x10000, type: 2 },
      { addr: 0x100000, size: ramSize - 0x100000, type: 1 },
    ]);
    expect(u16At(zp, 0x002)).toBe(63 * 1024);
    expect(u32At(zp, 0x1e0)).toBe(63 * 1024);
    // ext_mem_k is 16 bits wide; alt_mem_k carries the full size.
    const big = planBzImage(bzImage(), { ramSize: 256 * MiB });
    expect(u16At(zeroPageOf(big), 0x002)).toBe(0xffff);
    expect(u32At(zeroPageOf(big), 0x1e0)).toBe(255 * 1024);
    expect(readE820(zeroPageOf(big))[3]).toEqual({ addr: 0x100000, size: 255 * MiB, type: 1 });
  });

  it('passes an empty command line when none is given', () => {
    const plan = planBzImage(bzImage(), { ramSize });
    expect(plan.chunks.find((c) => c.guestPhys === 0x20000)?.bytes).toEqual(new Uint8Array([0]));
    expect(u32At(zeroPageOf(plan), 0x228)).toBe(0x20000);
  });

  it('accepts a command line of exactly cmdline_size bytes', () => {
    const cmdline = 'x'.repeat(100);
    const plan = planBzImage(bzImage({ cmdlineSize: 100 }), { ramSize, cmdline });
    expect(cStringAt(applyPlan(plan, ramSize), 0x20000)).toBe(cmdline);
  });
});

describe('Linux bzImage: the initrd', () => {
  it('goes page-aligned as high as RAM allows, with ramdisk_image and ramdisk_size set', () => {
    const initrd = pattern(10000, 5);
    const plan = planBzImage(bzImage(), { ramSize, initrd });
    const start = Math.floor((ramSize - 10000) / 4096) * 4096;
    expect(plan.description).toBe(
      `Linux bzImage 6.1.0-test, boot protocol 2.15, entry 0x100000, initrd 10000 bytes at 0x${start.toString(16)}`,
    );
    const zp = zeroPageOf(plan);
    expect(u32At(zp, 0x218)).toBe(start);
    expect(u32At(zp, 0x21c)).toBe(10000);
    expect(applyPlan(plan, ramSize).subarray(start, start + 10000)).toEqual(initrd);
  });

  it('ends at or below initrd_addr_max', () => {
    const initrd = pattern(0x1800);
    const plan = planBzImage(bzImage({ initrdAddrMax: 0x37ffffff }), { ramSize: 1024 * MiB, initrd });
    expect(u32At(zeroPageOf(plan), 0x218)).toBe(0x37ffe000);
    // An unaligned limit rounds the start down.
    const odd = planBzImage(bzImage({ initrdAddrMax: 0x3000fff }), { ramSize, initrd });
    expect(u32At(zeroPageOf(odd), 0x218)).toBe(0x2fff000);
  });

  it('may fill all the room above the kernel: init_size from the runtime start address', () => {
    // Runtime start 0x400000 (pref_address) + init_size 0x200000 = 0x600000.
    const small = bzImage({ prefAddress: 0x400000n, kernelAlignment: 0x400000, initSize: 0x200000 });
    const room = 8 * MiB - 0x600000;
    const plan = planBzImage(small, { ramSize: 8 * MiB, initrd: filled(room) });
    expect(u32At(zeroPageOf(plan), 0x218)).toBe(0x600000);
    expectLoadError(
      () => planBzImage(small, { ramSize: 8 * MiB, initrd: filled(room + 1) }),
      'too-large',
      `initrd is ${room + 1} bytes but only ${room} fit between the kernel's end at 0x600000 and 0x800000 ` +
        '(initrd_addr_max 0x7fffffff, guest RAM 8 MiB)',
    );
  });

  it('is refused when initrd_addr_max is below the kernel', () => {
    expectLoadError(
      () => planBzImage(bzImage({ initrdAddrMax: 0xffffff }), { ramSize, initrd: pattern(16) }),
      'too-large',
      "initrd is 16 bytes but only 0 fit between the kernel's end at 0x200c000 and 0x1000000 " +
        '(initrd_addr_max 0xffffff, guest RAM 64 MiB)',
    );
  });

  it('is refused when empty', () => {
    expectLoadError(() => planBzImage(bzImage(), { ramSize, initrd: new Uint8Array(0) }), 'empty', 'initrd is empty');
  });
});

describe('Linux bzImage: where the kernel runs (init_size, "Details of Header Fields")', () => {
  it('a relocatable kernel runs at its load address aligned up to kernel_alignment, at least pref_address', () => {
    expectLoadError(
      () => planBzImage(bzImage({ prefAddress: 0x100000n, kernelAlignment: 0x400000, initSize: 0x800000 }), { ramSize: 8 * MiB }),
      'too-large',
      'Linux kernel needs RAM up to 0xc00000 (12288-byte protected-mode kernel at 0x100000 and init_size 0x800000 ' +
        'from 0x400000) but the guest has 8 MiB',
    );
  });

  it('a kernel that is not relocatable runs at pref_address', () => {
    const plan = planBzImage(bzImage({ relocatable: false, prefAddress: 0x100000n, initSize: 0x10000 }), {
      ramSize: 8 * MiB,
      initrd: filled(8 * MiB - 0x110000),
    });
    expect(u32At(zeroPageOf(plan), 0x218)).toBe(0x110000);
  });

  it('before protocol 2.10 there is no init_size and only the image counts', () => {
    const plan = planBzImage(bzImage({ version: 0x0206, headerEnd: 0x23c }), {
      ramSize: 8 * MiB,
      initrd: filled(8 * MiB - 0x103000),
    });
    expect(plan.description).toMatch(/boot protocol 2\.06/);
    expect(u32At(zeroPageOf(plan), 0x218)).toBe(0x103000);
    // Only the 2.06 header is copied.
    expect(zeroPageOf(plan).subarray(0x23c, 0x290).every((b) => b === 0)).toBe(true);
  });
});

describe('Linux bzImage: refusals', () => {
  it('an empty image', () => {
    expectLoadError(() => planBzImage(new Uint8Array(0), { ramSize }), 'empty', 'image is empty');
  });

  it('a truncated header', () => {
    expectLoadError(
      () => planBzImage(bzImage().subarray(0, 0x100), { ramSize }),
      'truncated',
      "truncated bzImage: boot sector and setup header signature ends at 0x206 beyond the file's 256 bytes",
    );
    expectLoadError(
      () => planBzImage(bzImage().subarray(0, 0x250), { ramSize }),
      'truncated',
      "truncated bzImage: setup header (up to 0x26c) ends at 0x26c beyond the file's 592 bytes",
    );
  });

  it('truncated setup code, and no protected-mode kernel after it', () => {
    expectLoadError(
      () => planBzImage(bzImage({ setupSects: 4 }).subarray(0, 0x800), { ramSize }),
      'truncated',
      "truncated bzImage: real-mode setup (boot sector and 4 setup sectors) ends at 0xa00 beyond the file's 2048 bytes",
    );
    expectLoadError(
      () => planBzImage(bzImage({ setupSects: 4 }).subarray(0, 0xa00), { ramSize }),
      'truncated',
      'truncated bzImage: no protected-mode kernel after the 5 setup sectors (0xa00 bytes)',
    );
  });

  it('no "HdrS" signature', () => {
    expectLoadError(
      () => planBzImage(bzImage({ magic: 'HdrX' }), { ramSize }),
      'unknown-format',
      'not a Linux bzImage: no setup header signature "HdrS" at 0x202 (boot protocol 2.00 or later)',
    );
  });

  it('a bad boot_flag', () => {
    expectLoadError(
      () => planBzImage(bzImage({ bootFlag: 0x1234 }), { ramSize }),
      'bad-header',
      'bzImage boot_flag at 0x1fe is 0x1234, not 0xaa55',
    );
  });

  it('a boot protocol before 2.06', () => {
    expectLoadError(
      () => planBzImage(bzImage({ version: 0x0205 }), { ramSize }),
      'unsupported',
      'Linux boot protocol 2.05 is too old: this loader needs 2.06 or later (cmdline_size, relocatable kernels)',
    );
  });

  it('a zImage (no LOADED_HIGH)', () => {
    expectLoadError(
      () => planBzImage(bzImage({ loadflags: 0x80 }), { ramSize }),
      'unsupported',
      'zImage kernels (loadflags bit 0, LOADED_HIGH, clear) load below 1 MiB and are not supported: use a bzImage',
    );
  });

  it('a setup header shorter than its protocol version or longer than the zero page allows', () => {
    expectLoadError(
      () => planBzImage(bzImage({ headerEnd: 0x260 }), { ramSize }),
      'bad-header',
      'bzImage setup header ends at 0x260 (0x202 + the byte at 0x201), but protocol 2.15 has fields up to 0x264',
    );
    expectLoadError(
      () => planBzImage(bzImage({ headerEnd: 0x2a0 }), { ramSize }),
      'bad-header',
      'bzImage setup header ends at 0x2a0 (0x202 + the byte at 0x201), past its room in the zero page, which ends at 0x290',
    );
  });

  it('inconsistent relocation and entry fields', () => {
    expectLoadError(
      () => planBzImage(bzImage({ kernelAlignment: 0x3000 }), { ramSize }),
      'bad-header',
      'bzImage kernel_alignment 0x3000 is not a power of two',
    );
    expectLoadError(
      () => planBzImage(bzImage({ prefAddress: 0x100000000n }), { ramSize }),
      'unsupported',
      'bzImage pref_address is above 4 GiB',
    );
    expectLoadError(
      () => planBzImage(bzImage({ code32Start: 0x103000 }), { ramSize }),
      'bad-header',
      'bzImage code32_start 0x103000 is outside the protected-mode kernel loaded at 0x100000-0x102fff',
    );
    expectLoadError(
      () => planBzImage(bzImage({ initSize: 0xffffffff }), { ramSize }),
      'bad-header',
      'kernel runtime area (init_size) at 0x1000000 with length 0xffffffff runs past the 4 GiB physical address space',
    );
  });

  it('a kernel too large for guest RAM, with or without init_size', () => {
    expectLoadError(
      () => planBzImage(bzImage(), { ramSize: 16 * MiB }),
      'too-large',
      'Linux kernel needs RAM up to 0x200c000 (12288-byte protected-mode kernel at 0x100000 and init_size 0x100c000 ' +
        'from 0x1000000) but the guest has 16 MiB',
    );
    expectLoadError(
      () => planBzImage(bzImage({ version: 0x0209, headerEnd: 0x250, payload: filled(2 * MiB) }), { ramSize: 2 * MiB }),
      'too-large',
      'Linux kernel needs RAM up to 0x300000 (2097152-byte protected-mode kernel at 0x100000) but the guest has 2 MiB',
    );
  });

  it('a command line longer than cmdline_size, or with a NUL', () => {
    expectLoadError(
      () => planBzImage(bzImage({ cmdlineSize: 100 }), { ramSize, cmdline: 'x'.repeat(101) }),
      'too-large',
      'command line is 101 bytes but this kernel accepts at most 100 (cmdline_size)',
    );
    expectLoadError(
      () => planBzImage(bzImage({ cmdlineSize: 0xffffffff }), { ramSize, cmdline: 'x'.repeat(0x10000) }),
      'too-large',
      'command line is 65536 bytes but at most 65535 fit',
    );
    expectLoadError(
      () => planBzImage(bzImage(), { ramSize, cmdline: 'a\0b' }),
      'unsupported',
      'the command line contains a NUL character',
    );
  });

  it('a bad RAM size', () => {
    expectLoadError(
      () => planBzImage(bzImage(), { ramSize: 1000 }),
      'unsupported',
      'guest RAM size must be a positive multiple of 4 KiB (got 1000 bytes)',
    );
  });

  it('ignores an unreadable kernel_version string', () => {
    expect(planBzImage(bzImage({ kernelVersion: null }), { ramSize }).description).toBe(
      'Linux bzImage, boot protocol 2.15, entry 0x100000',
    );
    expect(planBzImage(bzImage({ kernelVersion: 'bad\x01' }), { ramSize }).description).toBe(
      'Linux bzImage, boot protocol 2.15, entry 0x100000',
    );
  });
});

describe('planImage and Linux kernels', () => {
  it('auto-detects a bzImage and passes the command line and initrd', () => {
    const initrd = pattern(4096);
    const plan = planImage(bzImage(), { ramSize, cmdline: 'console=ttyS0', initrd });
    expect(plan.format).toBe('linux');
    expect(cStringAt(applyPlan(plan, ramSize), 0x20000)).toBe('console=ttyS0');
    expect(u32At(zeroPageOf(plan), 0x21c)).toBe(4096);
  });

  it("accepts format 'linux' and uses only the Linux loader then", () => {
    expect(planImage(bzImage(), { ramSize, format: 'linux' }).format).toBe('linux');
    expectLoadError(() => planImage(new Uint8Array(0), { ramSize, format: 'linux' }), 'empty', 'image is empty');
    expectLoadError(
      () => planImage(pattern(4096), { ramSize, format: 'linux' }),
      'unknown-format',
      'not a Linux bzImage: no setup header signature "HdrS" at 0x202 (boot protocol 2.00 or later)',
    );
  });

  it('refuses an initrd for any other kernel', () => {
    const initrd = pattern(16);
    const message = 'an initrd needs a Linux bzImage kernel';
    expectLoadError(() => planImage(multibootElf(), { ramSize, initrd }), 'unsupported', message);
    expectLoadError(() => planImage(bootSector(), { ramSize, initrd }), 'unsupported', message);
    for (const format of ['multiboot', 'bootsector', 'flat'] as const) {
      expectLoadError(
        () => planImage(multibootElf(), { ramSize, format, initrd, flat: { loadAddress: 0x100000, bits: 32 } }),
        'unsupported',
        message,
      );
    }
  });

  it('reads the setup header on its own', () => {
    expect(parseSetupHeader(bzImage())).toEqual({
      setupSects: 8,
      version: 0x020f,
      loadflags: 1,
      code32Start: 0x100000,
      initrdAddrMax: 0x7fffffff,
      kernelAlignment: 0x1000000,
      relocatable: true,
      cmdlineSize: 2047,
      prefAddress: 0x1000000,
      initSize: 0x100c000,
      headerEnd: 0x26c,
      kernelVersion: '6.1.0-test',
    });
  });
});
