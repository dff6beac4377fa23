// Multiboot v1 kernels (Multiboot Specification 0.6.96): the header search
// (§3.1.1, §3.1.2), loading by ELF program headers or by the header's address
// fields (§3.1.3), the machine state at entry (§3.2) and the boot information
// the kernel finds through EBX (§3.3).

import { ByteReader, ByteWriter, formatSize, hex } from './bytes.js';
import { EM_386, ET_EXEC, isElf, parseElf32 } from './elf32.js';
import { LoadError, type LoadPlan } from './load-plan.js';
import {
  checkedRange,
  checkPlacement,
  checkRamSize,
  findOverlappingPair,
  formatRange,
  KiB,
  MiB,
  rangeOf,
  type PhysRange,
} from './memory.js';
import { flatProtectedModeState } from './protected-mode.js';

export const MULTIBOOT_HEADER_MAGIC = 0x1badb002;
/** EAX at entry tells the kernel a multiboot loader started it (§3.2). */
export const MULTIBOOT_BOOTLOADER_MAGIC = 0x2badb002;
/** §3.1: the header lies completely within the first 8192 bytes, 32-bit aligned. */
export const MULTIBOOT_SEARCH_LIMIT = 8192;
const HEADER_ALIGN = 4;
const MAGIC_FIELDS_SIZE = 12; // magic, flags, checksum
const ADDRESS_FIELDS_END = 32; // ... header_addr, load_addr, load_end_addr, bss_end_addr, entry_addr

// Header flags (§3.1.2). Bits 0-15 are requirements the loader must meet or
// refuse the kernel; bits 16-31 are optional features it may ignore.
const FLAG_PAGE_ALIGN_MODULES = 1 << 0; // met: modules are always loaded at page boundaries
const FLAG_MEMORY_INFO = 1 << 1; // met: mem_* and mmap_* are always provided
const FLAG_VIDEO_MODE = 1 << 2; // accepted; no video information is provided
const FLAG_ADDRESS_FIELDS = 1 << 16; // the "a.out kludge"
const REQUIRED_FLAGS_MASK = 0xffff;
const SUPPORTED_REQUIRED_FLAGS = FLAG_PAGE_ALIGN_MODULES | FLAG_MEMORY_INFO | FLAG_VIDEO_MODE;

// Boot information flags (§3.3).
const INFO_MEMORY = 1 << 0;
const INFO_CMDLINE = 1 << 2;
const INFO_MODS = 1 << 3;
const INFO_MMAP = 1 << 6;
const INFO_LOADER_NAME = 1 << 9;

/*
 * Fixed low-memory layout of the structures the VMM builds, all in the
 * conventional memory between the BIOS data area (ends 0x4ff) and the
 * boot-sector address 0x7c00, below which the initial stack grows:
 *   0x0500  GDT (protected-mode.ts)
 *   0x1000  multiboot information structure
 *   0x1100  memory map
 *   0x1200  boot loader name
 *   0x1300  command line, then each module's string, then the module list, up to 0x6fff
 * Modules themselves go after the kernel, each at the next page boundary (§3.3: mods_addr),
 * as GRUB and QEMU place them.
 */
export const MULTIBOOT_INFO_ADDRESS = 0x1000;
export const MULTIBOOT_MMAP_ADDRESS = 0x1100;
export const MULTIBOOT_LOADER_NAME_ADDRESS = 0x1200;
export const MULTIBOOT_CMDLINE_ADDRESS = 0x1300;
export const MULTIBOOT_CMDLINE_END = 0x7000;
export const BOOT_LOADER_NAME = 'vmm';
/** §3.3 layout up to and including the framebuffer fields (offsets 0-115). */
const INFO_SIZE = 116;
/** §3.3: each map entry is a 20-byte body preceded by its `size` field. */
const MMAP_ENTRY_BODY = 20;
const MMAP_ENTRY_SIZE = 4 + MMAP_ENTRY_BODY;
/** §3.3: a module list entry: mod_start, mod_end, string, reserved. */
const MODULE_ENTRY_SIZE = 16;
const PAGE_SIZE = 4 * KiB;
const MMAP_AVAILABLE = 1;
const MMAP_RESERVED = 2;

/** A PC's extended BIOS data area, the top KiB of conventional memory. */
export const EBDA_START = 0x9fc00;
const LOW_MEMORY_END = 0xa0000;
const BIOS_ROM_START = 0xf0000;
const HIGH_MEMORY_START = 1 * MiB;
/**
 * mem_lower (§3.3, at most 640): the conventional memory below the EBDA, so
 * that it agrees with the memory map; a PC BIOS (INT 12h) reports the same.
 */
const MEM_LOWER_KIB = EBDA_START / KiB; // 639

export type MultibootScan =
  | { kind: 'found'; offset: number; flags: number }
  | { kind: 'bad-checksum'; offset: number; flags: number; sum: number }
  | { kind: 'beyond-limit'; offset: number }
  | { kind: 'none' };

/**
 * Looks for the multiboot header (§3.1.1): a 32-bit aligned magic whose
 * magic+flags+checksum is 0 mod 2^32 (§3.1.2), completely inside the first
 * 8192 bytes. A magic with a bad checksum, or a valid header further into the
 * file, is reported too so that the user learns why the image was refused.
 */
export function scanMultibootHeader(image: Uint8Array): MultibootScan {
  const view = new DataView(image.buffer, image.byteOffset, image.byteLength);
  const u32 = (at: number) => view.getUint32(at, true);
  let badChecksum: MultibootScan | undefined;
  // The magic's bytes are found natively (a bzImage is megabytes long), then checked for alignment.
  const bytes = Buffer.from(image.buffer, image.byteOffset, image.byteLength);
  const magic = Buffer.alloc(4);
  magic.writeUInt32LE(MULTIBOOT_HEADER_MAGIC);
  for (let offset = bytes.indexOf(magic); offset >= 0 && offset + MAGIC_FIELDS_SIZE <= image.length; offset = bytes.indexOf(magic, offset + 1)) {
    if (offset % HEADER_ALIGN !== 0) continue;
    const flags = u32(offset + 4);
    const sum = (MULTIBOOT_HEADER_MAGIC + flags + u32(offset + 8)) >>> 0;
    const withinLimit = offset + MAGIC_FIELDS_SIZE <= MULTIBOOT_SEARCH_LIMIT;
    if (sum !== 0) {
      if (withinLimit) badChecksum ??= { kind: 'bad-checksum', offset, flags, sum };
      continue;
    }
    if (withinLimit) return { kind: 'found', offset, flags };
    return badChecksum ?? { kind: 'beyond-limit', offset };
  }
  return badChecksum ?? { kind: 'none' };
}

/**
 * Whether the image carries a valid multiboot header where §3.1.1 wants it (the first 8192
 * bytes): all that choosing the format needs, without scanning a megabytes-long bzImage.
 */
export function hasMultibootHeader(image: Uint8Array): boolean {
  return scanMultibootHeader(image.subarray(0, MULTIBOOT_SEARCH_LIMIT)).kind === 'found';
}

function describeScanFailure(scan: Exclude<MultibootScan, { kind: 'found' }>): LoadError {
  switch (scan.kind) {
    case 'bad-checksum':
      return new LoadError(
        'bad-header',
        `multiboot header at ${hex(scan.offset)} has a bad checksum: magic+flags+checksum = ${hex(scan.sum)}, not 0`,
      );
    case 'beyond-limit':
      return new LoadError(
        'bad-header',
        `multiboot header found at ${hex(scan.offset)}, but it must lie within the first ${MULTIBOOT_SEARCH_LIMIT} bytes`,
      );
    case 'none':
      return new LoadError(
        'unknown-format',
        `no multiboot header (magic 0x1badb002, 4-byte aligned) in the first ${MULTIBOOT_SEARCH_LIMIT} bytes`,
      );
  }
}

/** Flag bits as "bits 3, 7", for messages. */
function listBits(mask: number): string {
  const bits: number[] = [];
  for (let bit = 0; bit < 32; bit++) if (mask & (1 << bit)) bits.push(bit);
  return `${bits.length === 1 ? 'bit' : 'bits'} ${bits.join(', ')}`;
}

/** The kernel image in guest memory: what to copy, what to zero, where to start. */
interface KernelLayout {
  kind: string;
  chunks: { guestPhys: number; bytes: Uint8Array }[];
  zeroRanges: { guestPhys: number; length: number }[];
  /** Everything the kernel occupies, for the placement checks. */
  ranges: PhysRange[];
  entry: number;
  /** ELF notes (PT_NOTE), for whoever runs the kernel (the paravirt engine's hypercall page). */
  notes?: { name: string; type: number; desc: Uint8Array }[];
}

/** §3.1.3: load by header_addr/load_addr/load_end_addr/bss_end_addr/entry_addr. */
function layoutFromAddressFields(image: Uint8Array, headerOffset: number): KernelLayout {
  const fieldsEnd = headerOffset + ADDRESS_FIELDS_END;
  if (fieldsEnd > MULTIBOOT_SEARCH_LIMIT) {
    throw new LoadError(
      'bad-header',
      `multiboot header at ${hex(headerOffset)} ends at ${hex(fieldsEnd)}, past the first ${MULTIBOOT_SEARCH_LIMIT} bytes`,
    );
  }
  const header = new ByteReader(image, 'multiboot header');
  const what = 'address fields (flags bit 16)';
  header.require(headerOffset, ADDRESS_FIELDS_END, what);
  const headerAddr = header.u32(headerOffset + 12, what);
  const loadAddr = header.u32(headerOffset + 16, what);
  const loadEndAddr = header.u32(headerOffset + 20, what);
  const bssEndAddr = header.u32(headerOffset + 24, what);
  const entryAddr = header.u32(headerOffset + 28, what);

  if (loadAddr > headerAddr) {
    throw new LoadError('bad-header', `multiboot load_addr ${hex(loadAddr)} is above header_addr ${hex(headerAddr)}`);
  }
  // The header's file offset corresponds to header_addr, which fixes where in
  // the file load_addr is.
  const fileStart = headerOffset - (headerAddr - loadAddr);
  if (fileStart < 0) {
    throw new LoadError(
      'bad-header',
      `multiboot load_addr ${hex(loadAddr)} is ${hex(headerAddr - loadAddr)} bytes below header_addr ` +
        `${hex(headerAddr)}, but the header is only ${hex(headerOffset)} bytes into the file`,
    );
  }
  if (loadEndAddr !== 0 && loadEndAddr <= loadAddr) {
    throw new LoadError(
      'bad-header',
      `multiboot load_end_addr ${hex(loadEndAddr)} is not above load_addr ${hex(loadAddr)}`,
    );
  }
  // load_end_addr 0: text and data run to the end of the file.
  const loadLength = loadEndAddr === 0 ? image.length - fileStart : loadEndAddr - loadAddr;
  const bytes = new ByteReader(image, 'multiboot kernel').slice(fileStart, loadLength, 'text and data');
  const loaded = checkedRange(loadAddr, loadLength, 'text and data');

  const ranges: PhysRange[] = [loaded];
  const zeroRanges: { guestPhys: number; length: number }[] = [];
  // bss_end_addr 0: no bss.
  if (bssEndAddr !== 0) {
    if (bssEndAddr < loaded.end) {
      throw new LoadError(
        'bad-header',
        `multiboot bss_end_addr ${hex(bssEndAddr)} is below the end of text and data at ${hex(loaded.end)}`,
      );
    }
    if (bssEndAddr > loaded.end) {
      ranges.push({ start: loaded.end, end: bssEndAddr, what: 'bss' });
      zeroRanges.push({ guestPhys: loaded.end, length: bssEndAddr - loaded.end });
    }
  }
  if (entryAddr < loaded.start || entryAddr >= loaded.end) {
    throw new LoadError(
      'bad-header',
      `multiboot entry_addr ${hex(entryAddr)} is outside the loaded text and data at ${formatRange(loaded)}`,
    );
  }
  return {
    kind: 'a.out-kludge',
    chunks: [{ guestPhys: loadAddr, bytes }],
    zeroRanges,
    ranges,
    entry: entryAddr,
  };
}

/** An i386 ELF executable, loaded by its PT_LOAD program headers at p_paddr. */
function layoutFromElf(image: Uint8Array): KernelLayout {
  const elf = parseElf32(image);
  const { type, machine, entry } = elf.header;
  if (type !== ET_EXEC) {
    throw new LoadError('unsupported', `ELF type ${type} is not ET_EXEC (2): link the kernel as a static executable`);
  }
  if (machine !== EM_386) {
    throw new LoadError('unsupported', `ELF machine ${machine} is not i386 (EM_386 = 3)`);
  }
  const segments = elf.loadSegments().filter((ph) => ph.memsz > 0);
  if (segments.length === 0) throw new LoadError('bad-header', 'ELF file has no loadable segments');

  const chunks: KernelLayout['chunks'] = [];
  const zeroRanges: KernelLayout['zeroRanges'] = [];
  const ranges: PhysRange[] = [];
  for (const ph of segments) {
    const name = `ELF segment ${ph.index}`;
    if (ph.filesz > ph.memsz) {
      throw new LoadError(
        'bad-header',
        `${name} has p_filesz ${hex(ph.filesz)} larger than p_memsz ${hex(ph.memsz)}`,
      );
    }
    const range = checkedRange(ph.paddr, ph.memsz, name);
    const bytes = elf.segmentData(ph);
    ranges.push(range);
    if (ph.filesz > 0) chunks.push({ guestPhys: ph.paddr, bytes });
    // The part of p_memsz beyond p_filesz is zero-filled (bss).
    if (ph.memsz > ph.filesz) zeroRanges.push({ guestPhys: ph.paddr + ph.filesz, length: ph.memsz - ph.filesz });
  }
  const clash = findOverlappingPair(ranges);
  if (clash) {
    throw new LoadError(
      'bad-header',
      `${clash[0].what} at ${formatRange(clash[0])} overlaps ${clash[1].what} at ${formatRange(clash[1])}`,
    );
  }
  // Paging is off at entry (§3.2), so e_entry, a virtual address, is
  // translated to the physical address its segment is loaded at.
  const home = segments.find((ph) => entry >= ph.vaddr && entry - ph.vaddr < ph.memsz);
  if (!home) throw new LoadError('bad-header', `ELF entry point ${hex(entry)} is not inside any loadable segment`);
  return { kind: 'ELF', chunks, zeroRanges, ranges, entry: entry - home.vaddr + home.paddr, notes: elf.notes() };
}

/** The §3.3 memory map: usable RAM below the EBDA and from 1 MiB up. */
export function multibootMemoryMap(ramSize: number): { base: number; length: number; type: number }[] {
  return [
    { base: 0, length: EBDA_START, type: MMAP_AVAILABLE },
    { base: EBDA_START, length: LOW_MEMORY_END - EBDA_START, type: MMAP_RESERVED },
    { base: BIOS_ROM_START, length: HIGH_MEMORY_START - BIOS_ROM_START, type: MMAP_RESERVED },
    { base: HIGH_MEMORY_START, length: ramSize - HIGH_MEMORY_START, type: MMAP_AVAILABLE },
  ];
}

/** `text` as UTF-8 with a terminating NUL; a NUL inside it would cut it short. */
export function cString(text: string, what: string): Uint8Array {
  const encoded = new TextEncoder().encode(text);
  if (encoded.includes(0)) throw new LoadError('unsupported', `the ${what} contains a NUL character`);
  const bytes = new Uint8Array(encoded.length + 1);
  bytes.set(encoded);
  return bytes;
}

interface BootInformation {
  chunks: { guestPhys: number; bytes: Uint8Array }[];
  reserved: { guestPhys: number; length: number; what: string }[];
}

/** A boot module (§3.3) as the kernel finds it: its bytes and its string (its command line). */
export interface BootModule {
  bytes: Uint8Array;
  cmdline: string;
}

/** Where each module goes: page-aligned, one after the other, from `start`. */
function placeModules(modules: readonly BootModule[], start: number): { guestPhys: number; module: BootModule }[] {
  let at = start;
  return modules.map((module) => {
    at = Math.ceil(at / PAGE_SIZE) * PAGE_SIZE;
    const placed = { guestPhys: at, module };
    at += module.bytes.length;
    return placed;
  });
}

/**
 * §3.3: the information structure, memory map, boot loader name, command line and, with
 * modules, their strings and list.
 */
function buildBootInformation(
  ramSize: number,
  cmdline: string,
  modules: readonly { guestPhys: number; module: BootModule }[],
): BootInformation {
  // The command line, each module's string and the module list share the room up to 0x7000.
  const cmdlineBytes = cString(cmdline, 'command line');
  const strings = modules.map(({ module }, i) => cString(module.cmdline, `string of module ${i + 1}`));
  let at = MULTIBOOT_CMDLINE_ADDRESS + cmdlineBytes.length;
  const stringAddresses = strings.map((bytes) => {
    const address = at;
    at += bytes.length;
    return address;
  });
  // (Flag 3 is set with no modules too, mods_count 0, as QEMU does.)
  const listAddress = Math.ceil(at / 4) * 4;
  const end = modules.length > 0 ? listAddress + modules.length * MODULE_ENTRY_SIZE : at;
  const room = MULTIBOOT_CMDLINE_END - MULTIBOOT_CMDLINE_ADDRESS;
  if (end > MULTIBOOT_CMDLINE_END) {
    const what = modules.length > 0 ? 'command line, module strings and module list are' : 'command line is';
    const used = modules.length > 0 ? end - MULTIBOOT_CMDLINE_ADDRESS : cmdlineBytes.length - 1;
    throw new LoadError('too-large', `${what} ${used} bytes but at most ${modules.length > 0 ? room : room - 1} fit`);
  }
  const list = new ByteWriter(modules.length * MODULE_ENTRY_SIZE);
  modules.forEach(({ guestPhys, module }, i) => {
    list.u32(i * MODULE_ENTRY_SIZE, guestPhys); // mod_start
    list.u32(i * MODULE_ENTRY_SIZE + 4, guestPhys + module.bytes.length); // mod_end, one past the last byte (as GRUB)
    list.u32(i * MODULE_ENTRY_SIZE + 8, stringAddresses[i]!); // string
  });
  const nameBytes = cString(BOOT_LOADER_NAME, 'boot loader name');

  const map = multibootMemoryMap(ramSize);
  const mmap = new ByteWriter(map.length * MMAP_ENTRY_SIZE);
  map.forEach((entry, i) => {
    const at = i * MMAP_ENTRY_SIZE;
    mmap.u32(at, MMAP_ENTRY_BODY); // size, which precedes the entry it measures
    mmap.u64(at + 4, entry.base);
    mmap.u64(at + 12, entry.length);
    mmap.u32(at + 20, entry.type);
  });

  const info = new ByteWriter(INFO_SIZE);
  info.u32(0, INFO_MEMORY | INFO_CMDLINE | INFO_MODS | INFO_MMAP | INFO_LOADER_NAME);
  info.u32(4, MEM_LOWER_KIB);
  info.u32(8, (ramSize - HIGH_MEMORY_START) / KiB); // mem_upper: from 1 MiB to the first hole, the end of RAM
  info.u32(16, MULTIBOOT_CMDLINE_ADDRESS);
  info.u32(20, modules.length); // mods_count
  info.u32(24, listAddress); // mods_addr
  info.u32(44, mmap.bytes.length); // mmap_length
  info.u32(48, MULTIBOOT_MMAP_ADDRESS); // mmap_addr
  info.u32(64, MULTIBOOT_LOADER_NAME_ADDRESS);

  const parts: [number, Uint8Array, string][] = [
    [MULTIBOOT_INFO_ADDRESS, info.bytes, 'multiboot information'],
    [MULTIBOOT_MMAP_ADDRESS, mmap.bytes, 'multiboot memory map'],
    [MULTIBOOT_LOADER_NAME_ADDRESS, nameBytes, 'boot loader name'],
    [MULTIBOOT_CMDLINE_ADDRESS, cmdlineBytes, 'command line'],
    ...strings.map((bytes, i): [number, Uint8Array, string] => [stringAddresses[i]!, bytes, `string of module ${i + 1}`]),
    ...(modules.length > 0 ? [[listAddress, list.bytes, 'module list'] as [number, Uint8Array, string]] : []),
  ];
  return {
    chunks: parts.map(([guestPhys, bytes]) => ({ guestPhys, bytes })),
    reserved: parts.map(([guestPhys, bytes, what]) => ({ guestPhys, length: bytes.length, what })),
  };
}

export interface MultibootOptions {
  ramSize: number;
  /** Passed to the kernel as the NUL-terminated `cmdline` (§3.3), after kernelName. */
  cmdline?: string;
  /**
   * The kernel's name as the user gave it: the command line's first word, as GRUB and QEMU
   * pass it (a kernel that parses argv expects it there). Absent: the arguments alone.
   */
  kernelName?: string;
  /** Boot modules (§3.3), in order. */
  modules?: readonly BootModule[];
}

/** The command line a multiboot kernel gets: its name, then the arguments (QEMU's "%s %s"). */
export function multibootCommandLine(kernelName: string | undefined, args: string | undefined): string {
  if (kernelName === undefined) return args ?? '';
  return args ? `${kernelName} ${args}` : kernelName;
}

export function planMultiboot(image: Uint8Array, opts: MultibootOptions): LoadPlan {
  const { ramSize } = opts;
  checkRamSize(ramSize);
  if (image.length === 0) throw new LoadError('empty', 'image is empty');
  const scan = scanMultibootHeader(image);
  if (scan.kind !== 'found') throw describeScanFailure(scan);

  const unsupported = scan.flags & REQUIRED_FLAGS_MASK & ~SUPPORTED_REQUIRED_FLAGS;
  if (unsupported !== 0) {
    throw new LoadError(
      'unsupported',
      `multiboot header requires features this loader lacks: flags ${listBits(unsupported)} (only bits 0-2 are supported)`,
    );
  }
  if (ramSize <= HIGH_MEMORY_START) {
    throw new LoadError(
      'too-large',
      `multiboot kernels need guest RAM above 1 MiB but the guest has ${formatSize(ramSize)}`,
    );
  }

  let kernel: KernelLayout;
  if (scan.flags & FLAG_ADDRESS_FIELDS) {
    kernel = layoutFromAddressFields(image, scan.offset);
  } else if (isElf(image)) {
    kernel = layoutFromElf(image);
  } else {
    throw new LoadError(
      'bad-header',
      'multiboot kernel is not an ELF file and its header has no address fields (flags bit 16)',
    );
  }

  const pm = flatProtectedModeState(kernel.entry);
  const kernelEnd = Math.max(HIGH_MEMORY_START, ...kernel.ranges.map((r) => r.end));
  const modules = placeModules(opts.modules ?? [], kernelEnd);
  const info = buildBootInformation(ramSize, multibootCommandLine(opts.kernelName, opts.cmdline), modules);
  const reserved = [pm.gdtReserved, ...info.reserved];
  // Everything from the EBDA to 1 MiB is outside the usable RAM the memory map
  // advertises: the reserved EBDA and BIOS entries and the unlisted VGA/ROM gap.
  const holes = [{ start: EBDA_START, end: HIGH_MEMORY_START, what: 'the EBDA, VGA and BIOS area' }];
  checkPlacement({ ramSize, subject: 'kernel', payload: kernel.ranges, reserved: reserved.map(rangeOf), holes });
  modules.forEach(({ guestPhys, module }, i) => {
    const range = checkedRange(guestPhys, Math.max(module.bytes.length, 1), `module ${i + 1}`);
    if (range.end > ramSize) {
      throw new LoadError(
        'too-large',
        `module ${i + 1} (${formatSize(module.bytes.length)}) would end at ${hex(range.end)}, past the end of guest RAM at ${hex(ramSize)}`,
      );
    }
  });
  const moduleWords = modules.length === 0 ? '' : `, ${modules.length} module${modules.length === 1 ? '' : 's'}`;

  return {
    format: 'multiboot',
    description: `multiboot ${kernel.kind} kernel, entry ${hex(kernel.entry)}${moduleWords}`,
    cpuMode: pm.cpuMode,
    chunks: [...kernel.chunks, ...modules.map(({ guestPhys, module }) => ({ guestPhys, bytes: module.bytes })), pm.gdtChunk, ...info.chunks],
    zeroRanges: kernel.zeroRanges,
    entry: pm.entry,
    registers: { ...pm.registers, eax: MULTIBOOT_BOOTLOADER_MAGIC, ebx: MULTIBOOT_INFO_ADDRESS },
    segments: pm.segments,
    gdt: pm.gdt,
    reserved,
    ...(kernel.notes && kernel.notes.length > 0 ? { notes: kernel.notes } : {}),
  };
}
