import { describe, expect, it } from 'vitest';
import { planImage } from '../../src/boot/detect.js';
import type { LoadPlan } from '../../src/boot/load-plan.js';
import { planMultiboot, scanMultibootHeader } from '../../src/boot/multiboot.js';
import { expectLoadError } from './expect-load-error.js';
import {
  aoutKludge,
  applyPlan,
  buildElf32,
  concat,
  cStringAt,
  MB_AOUT,
  multibootElf,
  multibootHeader,
  pattern,
  u32At,
  u64At,
} from './image-builder.js';

const ramSize = 32 << 20;

/** Kernel-owned guest ranges of a plan: its chunks that are not VMM structures, and its bss. */
function kernelRanges(plan: LoadPlan): { start: number; end: number }[] {
  const reservedStarts = new Set(plan.reserved.map((r) => r.guestPhys));
  return [
    ...plan.chunks.filter((c) => !reservedStarts.has(c.guestPhys)).map((c) => ({ start: c.guestPhys, end: c.guestPhys + c.bytes.length })),
    ...plan.zeroRanges.map((z) => ({ start: z.guestPhys, end: z.guestPhys + z.length })),
  ];
}

function readMmap(ram: Uint8Array): { size: number; base: number; length: number; type: number }[] {
  const addr = u32At(ram, 0x1000 + 48);
  const end = addr + u32At(ram, 0x1000 + 44);
  const entries = [];
  // §3.3: `size` precedes each entry and does not count itself.
  for (let at = addr; at < end; at += u32At(ram, at) + 4) {
    entries.push({ size: u32At(ram, at), base: u64At(ram, at + 4), length: u64At(ram, at + 12), type: u32At(ram, at + 20) });
  }
  return entries;
}

describe('multiboot ELF kernels', () => {
  it('enters flat protected mode as §3.2 requires', () => {
    const image = multibootElf();
    const plan = planMultiboot(image, { ramSize, cmdline: 'console=ttyS0' });
    expect(plan.format).toBe('multiboot');
    expect(plan.description).toBe('multiboot ELF kernel, entry 0x10000c');
    expect(plan.cpuMode).toBe('protected32');
    expect(plan.entry).toEqual({ cs: 0x08, eip: 0x10000c });
    expect(plan.registers).toEqual({ eax: 0x2badb002, ebx: 0x1000, esp: 0x7c00, eflags: 0x2 });
    expect(plan.segments).toEqual({ ds: 0x10, es: 0x10, ss: 0x10, fs: 0x10, gs: 0x10 });
    expect(plan.gdt).toEqual({ base: 0x500, limit: 23 });
    const ram = applyPlan(plan, ramSize);
    expect([...ram.subarray(0x500, 0x518)]).toEqual([
      0, 0, 0, 0, 0, 0, 0, 0,
      0xff, 0xff, 0, 0, 0, 0x9a, 0xcf, 0, // 0x08: code, base 0, limit 4 GiB, G=1 D=1
      0xff, 0xff, 0, 0, 0, 0x92, 0xcf, 0, // 0x10: data
    ]);
    expect(ram.subarray(0x100000, 0x100000 + 76)).toEqual(image.subarray(0x60, 0x60 + 76));
  });

  it('keeps every VMM structure in 0x500-0x7bff, apart from each other and from the kernel', () => {
    const plan = planMultiboot(multibootElf(), { ramSize, cmdline: 'a b c' });
    expect(plan.reserved).toEqual([
      { guestPhys: 0x500, length: 24, what: 'GDT' },
      { guestPhys: 0x1000, length: 116, what: 'multiboot information' },
      { guestPhys: 0x1100, length: 96, what: 'multiboot memory map' },
      { guestPhys: 0x1200, length: 4, what: 'boot loader name' },
      { guestPhys: 0x1300, length: 6, what: 'command line' },
    ]);
    const all = [...plan.reserved.map((r) => ({ start: r.guestPhys, end: r.guestPhys + r.length })), ...kernelRanges(plan)];
    for (const r of plan.reserved) {
      expect(r.guestPhys).toBeGreaterThanOrEqual(0x500);
      expect(r.guestPhys + r.length).toBeLessThanOrEqual(0x7c00);
    }
    for (let i = 0; i < all.length; i++) {
      for (let j = i + 1; j < all.length; j++) {
        expect(all[i].start < all[j].end && all[j].start < all[i].end, `${i} and ${j} overlap`).toBe(false);
      }
    }
    // Every reserved structure is exactly one chunk.
    for (const r of plan.reserved) {
      expect(plan.chunks.filter((c) => c.guestPhys === r.guestPhys).map((c) => c.bytes.length)).toEqual([r.length]);
    }
  });

  it('fills in the boot information (§3.3): flags 0, 2, 3, 6, 9', () => {
    const plan = planMultiboot(multibootElf(), { ramSize, cmdline: 'exit=21 hello' });
    const ram = applyPlan(plan, ramSize);
    const info = 0x1000;
    expect(u32At(ram, info)).toBe(0x24d);
    // No modules: flag 3 with mods_count 0, as QEMU passes it.
    expect(u32At(ram, info + 20)).toBe(0);
    expect(u32At(ram, info + 24)).toBe(0x1300 + 'exit=21 hello'.length + 1 + 2);
    expect(u32At(ram, info + 4)).toBe(639); // mem_lower, KiB below the EBDA
    expect(u32At(ram, info + 8)).toBe(31744); // mem_upper = (32 MiB - 1 MiB) / 1 KiB
    expect(u32At(ram, info + 16)).toBe(0x1300);
    expect(cStringAt(ram, 0x1300)).toBe('exit=21 hello');
    expect(u32At(ram, info + 44)).toBe(96);
    expect(u32At(ram, info + 48)).toBe(0x1100);
    expect(u32At(ram, info + 64)).toBe(0x1200);
    expect(cStringAt(ram, 0x1200)).toBe('vmm');
    // Fields whose flags are clear are zero: boot_device, syms, drives, config, apm, vbe, framebuffer.
    for (const offset of [12, 28, 32, 36, 40, 52, 56, 60, 68, 72, 76, 80, 84, 88, 112]) {
      expect(u32At(ram, info + offset), `offset ${offset}`).toBe(0);
    }
  });

  it('puts the kernel\'s name first on the command line when given, as GRUB and QEMU do', () => {
    const named = applyPlan(planMultiboot(multibootElf(), { ramSize, cmdline: 'exit=21 hello', kernelName: 'boot/kernel.elf' }), ramSize);
    expect(cStringAt(named, 0x1300)).toBe('boot/kernel.elf exit=21 hello');
    const alone = applyPlan(planMultiboot(multibootElf(), { ramSize, kernelName: 'boot/kernel.elf' }), ramSize);
    expect(cStringAt(alone, 0x1300)).toBe('boot/kernel.elf');
  });

  it('loads boot modules page-aligned after the kernel and lists them with their strings (§3.3, flag 3)', () => {
    const first = pattern(13, 1);
    const second = pattern(5000, 2);
    const plan = planMultiboot(multibootElf(), {
      ramSize,
      cmdline: 'x',
      kernelName: 'k',
      modules: [
        { bytes: first, cmdline: '/m/one a=1' },
        { bytes: second, cmdline: '/m/two' },
      ],
    });
    expect(plan.description).toMatch(/, 2 modules$/);
    const ram = applyPlan(plan, ramSize);
    const info = 0x1000;
    expect(u32At(ram, info) & 0x8).toBe(0x8);
    expect(u32At(ram, info + 20)).toBe(2); // mods_count
    const list = u32At(ram, info + 24); // mods_addr
    expect(list % 4).toBe(0);
    const kernelEnd = Math.max(...kernelRanges(planMultiboot(multibootElf(), { ramSize })).map((r) => r.end));
    const starts = [u32At(ram, list), u32At(ram, list + 16)];
    expect(starts[0]).toBe(Math.ceil(kernelEnd / 4096) * 4096);
    expect(starts[1]).toBe(Math.ceil((starts[0] + 13) / 4096) * 4096);
    expect([u32At(ram, list + 4), u32At(ram, list + 20)]).toEqual([starts[0] + 13, starts[1] + 5000]);
    expect(ram.subarray(starts[0], starts[0] + 13)).toEqual(first);
    expect(ram.subarray(starts[1], starts[1] + 5000)).toEqual(second);
    expect([cStringAt(ram, u32At(ram, list + 8)), cStringAt(ram, u32At(ram, list + 24))]).toEqual(['/m/one a=1', '/m/two']);
    expect(cStringAt(ram, 0x1300)).toBe('k x');
    // The strings and the list are VMM structures of their own, below 0x7000.
    expect(plan.reserved.map((r) => r.what)).toEqual(expect.arrayContaining(['string of module 1', 'string of module 2', 'module list']));
    for (const r of plan.reserved) expect(r.guestPhys + r.length).toBeLessThanOrEqual(0x7000);
  });

  it('refuses modules that do not fit in RAM or whose strings overflow the room below 0x7000', () => {
    expectLoadError(
      () => planMultiboot(multibootElf(), { ramSize: 2 << 20, modules: [{ bytes: new Uint8Array(2 << 20), cmdline: 'big' }] }),
      'too-large',
      'module 1 (2 MiB) would end at 0x301000, past the end of guest RAM at 0x200000',
    );
    expectLoadError(
      () => planMultiboot(multibootElf(), { ramSize, modules: [{ bytes: new Uint8Array(1), cmdline: 'y'.repeat(0x5d00) }] }),
      'too-large',
      'command line, module strings and module list are 23828 bytes but at most 23808 fit',
    );
    expectLoadError(
      () => planImage(pattern(600, 3), { ramSize, format: 'flat', flat: { loadAddress: 0x7c00, bits: 16 }, modules: [] }),
      'unsupported',
      'boot modules need a multiboot kernel',
    );
  });

  it('describes memory with a §3.3 memory map: size 20 before each entry, PC holes reserved', () => {
    const ram = applyPlan(planMultiboot(multibootElf(), { ramSize }), ramSize);
    expect(readMmap(ram)).toEqual([
      { size: 20, base: 0, length: 0x9fc00, type: 1 },
      { size: 20, base: 0x9fc00, length: 0x400, type: 2 },
      { size: 20, base: 0xf0000, length: 0x10000, type: 2 },
      { size: 20, base: 0x100000, length: 0x1f00000, type: 1 },
    ]);
    // The map's available RAM ends exactly at the end of guest RAM, and 4 GiB guests fit in 64-bit fields.
    const big = 4 * 2 ** 30;
    const plan = planMultiboot(multibootElf(), { ramSize: big });
    const mmap = plan.chunks.find((c) => c.guestPhys === 0x1100)!.bytes;
    const view = new DataView(mmap.buffer, mmap.byteOffset);
    expect(Number(view.getBigUint64(72 + 4, true) + view.getBigUint64(72 + 12, true))).toBe(big);
    const info = plan.chunks.find((c) => c.guestPhys === 0x1000)!.bytes;
    expect(new DataView(info.buffer, info.byteOffset).getUint32(8, true)).toBe((big - 0x100000) / 1024);
  });

  it('NUL-terminates the command line, empty when none is given', () => {
    const withLine = planMultiboot(multibootElf(), { ramSize, cmdline: 'hello' });
    const ram = applyPlan(withLine, ramSize, 0xcc);
    expect([...ram.subarray(0x1300, 0x1306)]).toEqual([...new TextEncoder().encode('hello'), 0]);
    const without = applyPlan(planMultiboot(multibootElf(), { ramSize }), ramSize, 0xcc);
    expect(without[0x1300]).toBe(0);
    expect(u32At(without, 0x1000) & 4).toBe(4);
  });

  it('limits the command line to the room below 0x7000 and refuses embedded NULs', () => {
    expect(() => planMultiboot(multibootElf(), { ramSize, cmdline: 'x'.repeat(0x5cff) })).not.toThrow();
    expectLoadError(
      () => planMultiboot(multibootElf(), { ramSize, cmdline: 'x'.repeat(0x5d00) }),
      'too-large',
      'command line is 23808 bytes but at most 23807 fit',
    );
    expectLoadError(
      () => planMultiboot(multibootElf(), { ramSize, cmdline: 'a\0b' }),
      'unsupported',
      'the command line contains a NUL character',
    );
  });

  it('zeroes the part of a segment beyond its file size (bss)', () => {
    const data = pattern(16, 3);
    const image = multibootElf({
      extra: [
        { paddr: 0x101000, data, memsz: 0x2000 },
        { paddr: 0x200000, data: new Uint8Array(0), memsz: 0x100 },
      ],
    });
    const plan = planMultiboot(image, { ramSize });
    expect(plan.zeroRanges).toEqual([
      { guestPhys: 0x101010, length: 0x1ff0 },
      { guestPhys: 0x200000, length: 0x100 },
    ]);
    expect(plan.chunks.some((c) => c.guestPhys === 0x200000)).toBe(false);
    const ram = applyPlan(plan, ramSize, 0xcc);
    expect(ram.subarray(0x101000, 0x101010)).toEqual(data);
    expect(ram.subarray(0x101010, 0x103000).every((b) => b === 0)).toBe(true);
    expect(ram[0x103000]).toBe(0xcc);
    expect(ram.subarray(0x200000, 0x200100).every((b) => b === 0)).toBe(true);
  });

  it('loads by p_paddr and translates a higher-half e_entry to its physical address', () => {
    const header = multibootHeader({ flags: 0 });
    const image = buildElf32({
      entry: 0xc010000c,
      segments: [{ paddr: 0x100000, vaddr: 0xc0100000, data: concat(header, pattern(32)) }],
    });
    const plan = planMultiboot(image, { ramSize });
    expect(plan.entry.eip).toBe(0x10000c);
    expect(plan.chunks[0].guestPhys).toBe(0x100000);
  });

  it('may load below 1 MiB where nothing of the VMM lives', () => {
    const plan = planMultiboot(multibootElf({ paddr: 0x8000 }), { ramSize });
    expect(plan.entry.eip).toBe(0x800c);
  });

  it('requires the entry point inside a loadable segment', () => {
    const image = buildElf32({ entry: 0x200000, segments: [{ paddr: 0x100000, data: concat(multibootHeader(), pattern(8)) }] });
    expectLoadError(() => planMultiboot(image, { ramSize }), 'bad-header', 'ELF entry point 0x200000 is not inside any loadable segment');
  });
});

describe('multiboot header search (§3.1)', () => {
  it('rejects a bad checksum, also when auto-detecting', () => {
    const image = multibootElf({ checksum: 0 });
    const message = 'multiboot header at 0x60 has a bad checksum: magic+flags+checksum = 0x1badb005, not 0';
    expectLoadError(() => planMultiboot(image, { ramSize }), 'bad-header', message);
    expectLoadError(() => planImage(image, { ramSize }), 'bad-header', message);
  });

  it('ignores a header beyond the first 8192 bytes and says where it is', () => {
    const image = new Uint8Array(0x4000);
    image.set(multibootHeader(), 0x2000);
    const message = 'multiboot header found at 0x2000, but it must lie within the first 8192 bytes';
    expectLoadError(() => planMultiboot(image, { ramSize }), 'bad-header', message);
    expectLoadError(() => planImage(image, { ramSize }), 'bad-header', message);
    // A header straddling the limit is not contained in it either.
    const straddling = new Uint8Array(0x4000);
    straddling.set(multibootHeader(), 0x1ffc);
    expect(scanMultibootHeader(straddling)).toEqual({ kind: 'beyond-limit', offset: 0x1ffc });
    // The last place it fits: found, and then refused for other reasons.
    const last = new Uint8Array(0x4000);
    last.set(multibootHeader(), 0x1ff4);
    expect(scanMultibootHeader(last)).toEqual({ kind: 'found', offset: 0x1ff4, flags: 0 });
    expectLoadError(
      () => planMultiboot(last, { ramSize }),
      'bad-header',
      'multiboot kernel is not an ELF file and its header has no address fields (flags bit 16)',
    );
  });

  it('needs the whole header, address fields included, inside the first 8192 bytes', () => {
    const image = new Uint8Array(0x4000);
    image.set(multibootHeader({ address: { headerAddr: 0x101ff0, loadAddr: 0x100000, loadEndAddr: 0, bssEndAddr: 0, entryAddr: 0x100000 } }), 0x1ff0);
    expectLoadError(
      () => planMultiboot(image, { ramSize }),
      'bad-header',
      'multiboot header at 0x1ff0 ends at 0x2010, past the first 8192 bytes',
    );
  });

  it('only looks at 4-byte aligned offsets', () => {
    const image = new Uint8Array(1024);
    image.set(multibootHeader(), 2);
    expect(scanMultibootHeader(image)).toEqual({ kind: 'none' });
    expectLoadError(
      () => planMultiboot(image, { ramSize }),
      'unknown-format',
      'no multiboot header (magic 0x1badb002, 4-byte aligned) in the first 8192 bytes',
    );
  });

  it('takes the first valid header after a bad one', () => {
    const image = concat(new Uint8Array(64), multibootHeader({ checksum: 1 }), multibootHeader({ flags: 2 }));
    expect(scanMultibootHeader(image)).toEqual({ kind: 'found', offset: 76, flags: 2 });
  });
});

describe('multiboot header flags (§3.1.2)', () => {
  it('accepts required bits 0-2 and ignores optional bits other than 16', () => {
    expect(planMultiboot(multibootElf({ flags: 0x7 }), { ramSize }).format).toBe('multiboot');
    expect(planMultiboot(multibootElf({ flags: 0x3 | (1 << 17) | (1 << 31) }), { ramSize }).format).toBe('multiboot');
  });

  it('refuses a required bit it does not understand', () => {
    expectLoadError(
      () => planMultiboot(multibootElf({ flags: 0x8 | 0x3 }), { ramSize }),
      'unsupported',
      'multiboot header requires features this loader lacks: flags bit 3 (only bits 0-2 are supported)',
    );
    expectLoadError(
      () => planMultiboot(multibootElf({ flags: 0x8008 }), { ramSize }),
      'unsupported',
      'multiboot header requires features this loader lacks: flags bits 3, 15 (only bits 0-2 are supported)',
    );
  });
});

describe('multiboot placement', () => {
  it('refuses kernel segments over the boot structures', () => {
    expectLoadError(
      () => planMultiboot(multibootElf({ paddr: 0x1000 }), { ramSize }),
      'unsupported',
      "ELF segment 0 at 0x1000-0x104b overlaps the VMM's multiboot information at 0x1000-0x1073",
    );
    expectLoadError(
      () => planMultiboot(multibootElf({ paddr: 0x4f0 }), { ramSize }),
      'unsupported',
      "ELF segment 0 at 0x4f0-0x53b overlaps the VMM's GDT at 0x500-0x517",
    );
  });

  it('refuses a bss over the boot structures', () => {
    const image = aoutKludge({ fileLength: 0x100, loadAddr: 0x800, bssEndAddr: 0x1100 });
    expectLoadError(
      () => planMultiboot(image, { ramSize }),
      'unsupported',
      "bss at 0x900-0x10ff overlaps the VMM's multiboot information at 0x1000-0x1073",
    );
  });

  it('refuses the EBDA, VGA and BIOS area', () => {
    expectLoadError(
      () => planMultiboot(multibootElf({ paddr: 0xb8000 }), { ramSize }),
      'unsupported',
      'ELF segment 0 at 0xb8000-0xb804b lies in the EBDA, VGA and BIOS area at 0x9fc00-0xfffff, which is not usable RAM',
    );
  });

  it('needs the kernel, bss included, inside RAM', () => {
    const image = multibootElf({ extra: [{ paddr: 0x1000000, data: pattern(16), memsz: 0x1000000 }] });
    expectLoadError(
      () => planMultiboot(image, { ramSize: 16 << 20 }),
      'too-large',
      'image needs 0x2000000 bytes of RAM (kernel ends at 0x1ffffff) but the guest has 16 MiB',
    );
    expect(planMultiboot(image, { ramSize: 32 << 20 }).format).toBe('multiboot');
  });

  it('needs RAM above 1 MiB', () => {
    expectLoadError(
      () => planMultiboot(multibootElf({ paddr: 0x8000 }), { ramSize: 1 << 20 }),
      'too-large',
      'multiboot kernels need guest RAM above 1 MiB but the guest has 1 MiB',
    );
  });
});

describe('multiboot ELF checks', () => {
  it('refuses a segment that wraps past 4 GiB', () => {
    const image = multibootElf({ extra: [{ paddr: 0xfffff000, data: new Uint8Array(0), memsz: 0x2000 }] });
    expectLoadError(
      () => planMultiboot(image, { ramSize }),
      'bad-header',
      'ELF segment 1 at 0xfffff000 with length 0x2000 runs past the 4 GiB physical address space',
    );
  });

  it('refuses overlapping segments', () => {
    const image = multibootElf({ extra: [{ paddr: 0x100020, data: pattern(16) }] });
    expectLoadError(
      () => planMultiboot(image, { ramSize }),
      'bad-header',
      'ELF segment 0 at 0x100000-0x10004b overlaps ELF segment 1 at 0x100020-0x10002f',
    );
  });

  it('refuses p_filesz > p_memsz', () => {
    const image = multibootElf({ extra: [{ paddr: 0x200000, data: pattern(32), memsz: 16 }] });
    expectLoadError(() => planMultiboot(image, { ramSize }), 'bad-header', 'ELF segment 1 has p_filesz 0x20 larger than p_memsz 0x10');
  });

  it('reports a cut-off program header table', () => {
    const image = buildElf32({
      entry: 0x10000c,
      segments: [
        { paddr: 0x100000, data: concat(multibootHeader(), pattern(64)) },
        { paddr: 0x200000, data: pattern(16) },
        { paddr: 0x300000, data: pattern(16) },
      ],
      phdrsLast: true,
    });
    expect(image.length).toBe(272);
    expectLoadError(
      () => planMultiboot(image.subarray(0, 252), { ramSize }),
      'truncated',
      "truncated ELF: program header 2 ends at 0x110 beyond the file's 252 bytes",
    );
  });

  it('reports cut-off segment data', () => {
    const image = multibootElf();
    expect(image.length).toBe(0xac);
    expectLoadError(
      () => planMultiboot(image.subarray(0, 150), { ramSize }),
      'truncated',
      "truncated ELF: segment 0 data ends at 0xac beyond the file's 150 bytes",
    );
  });

  it('refuses 64-bit ELF', () => {
    const image = new Uint8Array(256);
    image.set([0x7f, 0x45, 0x4c, 0x46, 2, 1, 1]);
    image.set(multibootHeader({ flags: 3 }), 64);
    const message = '64-bit ELF kernels are not supported (i386 only)';
    expectLoadError(() => planMultiboot(image, { ramSize }), 'unsupported', message);
    expectLoadError(() => planImage(image, { ramSize }), 'unsupported', message);
  });

  it('refuses ELF files that are not i386 executables', () => {
    const header = multibootHeader();
    const segments = [{ paddr: 0x100000, data: concat(header, pattern(8)) }];
    expectLoadError(
      () => planMultiboot(buildElf32({ entry: 0x10000c, segments, type: 3 }), { ramSize }),
      'unsupported',
      'ELF type 3 is not ET_EXEC (2): link the kernel as a static executable',
    );
    expectLoadError(
      () => planMultiboot(buildElf32({ entry: 0x10000c, segments, machine: 62 }), { ramSize }),
      'unsupported',
      'ELF machine 62 is not i386 (EM_386 = 3)',
    );
  });

  it('needs at least one loadable segment', () => {
    const image = buildElf32({ entry: 0x10000c, segments: [{ paddr: 0x100000, data: concat(multibootHeader(), pattern(8)), type: 4 }] });
    expectLoadError(() => planMultiboot(image, { ramSize }), 'bad-header', 'ELF file has no loadable segments');
  });
});

describe('multiboot a.out kludge (§3.1.3)', () => {
  it('loads the rest of the file when load_end_addr is 0, and zeroes the bss', () => {
    const image = aoutKludge({ fileLength: 0x400, loadAddr: 0x100000, bssEndAddr: 0x102000 });
    const plan = planMultiboot(image, { ramSize });
    expect(plan.description).toBe('multiboot a.out-kludge kernel, entry 0x100020');
    expect(plan.entry).toEqual({ cs: 8, eip: 0x100020 });
    expect(plan.chunks[0]).toEqual({ guestPhys: 0x100000, bytes: image });
    expect(plan.zeroRanges).toEqual([{ guestPhys: 0x100400, length: 0x1c00 }]);
    const ram = applyPlan(plan, ramSize, 0xcc);
    expect(ram.subarray(0x100000, 0x100400)).toEqual(image);
    expect(ram.subarray(0x100400, 0x102000).every((b) => b === 0)).toBe(true);
    expect(ram[0x102000]).toBe(0xcc);
  });

  it('loads load_end_addr - load_addr bytes starting where header_addr says', () => {
    // The file's first 0x80 bytes are not loaded: load_addr is file offset 0x80.
    const image = aoutKludge({ fileLength: 0x400, loadAddr: 0x100000, headerOffset: 0x100, fileStart: 0x80, loadEndAddr: 0x100200 });
    const plan = planMultiboot(image, { ramSize });
    expect(plan.chunks[0]).toEqual({ guestPhys: 0x100000, bytes: image.subarray(0x80, 0x280) });
    expect(plan.zeroRanges).toEqual([]);
    expect(plan.entry.eip).toBe(0x1000a0);
    // load_end_addr 0 with the same layout: up to the end of the file.
    const whole = aoutKludge({ fileLength: 0x400, loadAddr: 0x100000, headerOffset: 0x100, fileStart: 0x80 });
    expect(planMultiboot(whole, { ramSize }).chunks[0].bytes).toEqual(whole.subarray(0x80));
  });

  it('has no bss when bss_end_addr is 0 or equals the end of the load', () => {
    expect(planMultiboot(aoutKludge({ fileLength: 0x100, loadAddr: 0x100000 }), { ramSize }).zeroRanges).toEqual([]);
    expect(
      planMultiboot(aoutKludge({ fileLength: 0x100, loadAddr: 0x100000, bssEndAddr: 0x100100 }), { ramSize }).zeroRanges,
    ).toEqual([]);
  });

  it('takes the address fields over the ELF headers', () => {
    const image = aoutKludge({ fileLength: 0x200, loadAddr: 0x100000, headerOffset: 64 });
    image.set([0x7f, 0x45, 0x4c, 0x46, 2, 1, 1]); // claims to be ELF64
    const plan = planMultiboot(image, { ramSize });
    expect(plan.description).toBe('multiboot a.out-kludge kernel, entry 0x100060');
  });

  it('checks the address fields', () => {
    const base = { fileLength: 0x400, loadAddr: 0x100000 };
    expectLoadError(
      () => planMultiboot(aoutKludge({ ...base, headerAddr: 0xfffff }), { ramSize }),
      'bad-header',
      'multiboot load_addr 0x100000 is above header_addr 0xfffff',
    );
    expectLoadError(
      () => planMultiboot(aoutKludge({ ...base, headerAddr: 0x100010 }), { ramSize }),
      'bad-header',
      'multiboot load_addr 0x100000 is 0x10 bytes below header_addr 0x100010, but the header is only 0x0 bytes into the file',
    );
    expectLoadError(
      () => planMultiboot(aoutKludge({ ...base, loadEndAddr: 0x100000 }), { ramSize }),
      'bad-header',
      'multiboot load_end_addr 0x100000 is not above load_addr 0x100000',
    );
    expectLoadError(
      () => planMultiboot(aoutKludge({ ...base, loadEndAddr: 0x100800 }), { ramSize }),
      'truncated',
      "truncated multiboot kernel: text and data ends at 0x800 beyond the file's 1024 bytes",
    );
    expectLoadError(
      () => planMultiboot(aoutKludge({ ...base, loadEndAddr: 0x100400, bssEndAddr: 0x100200 }), { ramSize }),
      'bad-header',
      'multiboot bss_end_addr 0x100200 is below the end of text and data at 0x100400',
    );
    expectLoadError(
      () => planMultiboot(aoutKludge({ ...base, entryAddr: 0x100400 }), { ramSize }),
      'bad-header',
      'multiboot entry_addr 0x100400 is outside the loaded text and data at 0x100000-0x1003ff',
    );
  });

  it('reports a header cut off before its address fields', () => {
    expectLoadError(
      () => planMultiboot(aoutKludge({ fileLength: 24, loadAddr: 0x100000 }), { ramSize }),
      'truncated',
      "truncated multiboot header: address fields (flags bit 16) ends at 0x20 beyond the file's 24 bytes",
    );
  });

  it('sees flag bit 16 through the header builder', () => {
    expect(scanMultibootHeader(aoutKludge({ fileLength: 64, loadAddr: 0x100000 }))).toEqual({ kind: 'found', offset: 0, flags: MB_AOUT });
  });
});
