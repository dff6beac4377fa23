// Linux bzImage kernels entered through the 32-bit boot protocol, as QEMU's
// and Firecracker's direct kernel boot do: the real-mode setup code is never
// run; the loader fills in struct boot_params (the "zero page") itself.
// Section names refer to the kernel's Documentation/arch/x86/boot.rst, zero
// page offsets to Documentation/arch/x86/zero-page.rst.

import { ByteReader, ByteWriter, bytesAt, formatSize, hex } from './bytes.js';
import { LoadError, type LoadPlan } from './load-plan.js';
import { checkedRange, checkPlacement, checkRamSize, formatRange, KiB, MiB, rangeOf, type PhysRange } from './memory.js';
import { cString, EBDA_START, multibootMemoryMap } from './multiboot.js';
import { flatProtectedModeState, type FlatSelectors } from './protected-mode.js';

/*
 * Fixed low-memory layout of the structures the VMM builds. All of it is RAM
 * in the e820 map: the kernel copies boot_params and the command line early
 * ("32-bit BOOT PROTOCOL") and then reuses the memory.
 *   0x00500  GDT (protected-mode.ts) with __BOOT_CS 0x10 and __BOOT_DS 0x18
 *   0x07c00  top of the initial stack (protected-mode.ts), growing down
 *   0x10000  zero page (struct boot_params, 4 KiB)
 *   0x20000  command line, up to 0x2ffff
 *   0x100000 protected-mode kernel (loadflags LOADED_HIGH)
 * The initrd goes as high as initrd_addr_max and RAM allow.
 */
export const LINUX_ZERO_PAGE_ADDRESS = 0x10000;
export const LINUX_CMDLINE_ADDRESS = 0x20000;
export const LINUX_CMDLINE_END = 0x30000;
/** "Details of Header Fields", loadflags bit 0: a bzImage's protected-mode code is loaded at 0x100000. */
export const LINUX_KERNEL_ADDRESS = 0x100000;
/** "32-bit BOOT PROTOCOL": the GDT must provide __BOOT_CS (0x10) and __BOOT_DS (0x18). */
export const LINUX_BOOT_SELECTORS: FlatSelectors = { code: 0x10, data: 0x18 };
/** The oldest protocol with cmdline_size and the relocation fields ("The Real-Mode Kernel Header"). */
export const MIN_PROTOCOL_VERSION = 0x0206;

const ZERO_PAGE_SIZE = 4 * KiB;
const PAGE_SIZE = 4 * KiB;
const SECTOR_SIZE = 512;
/** syssize counts 16-byte paragraphs. */
const PARAGRAPH = 16;

// Setup header fields ("The Real-Mode Kernel Header"); struct boot_params
// holds the header at the same offsets as the file.
const SETUP_SECTS = 0x1f1;
const SYSSIZE = 0x1f4; // 2.04+: 32 bits
const BOOT_FLAG = 0x1fe;
const JUMP_OFFSET = 0x201; // the second byte of the short jump at 0x200
const HEADER_MAGIC = 0x202;
const VERSION = 0x206;
const KERNEL_VERSION = 0x20e;
const TYPE_OF_LOADER = 0x210;
const LOADFLAGS = 0x211;
const CODE32_START = 0x214;
const RAMDISK_IMAGE = 0x218;
const RAMDISK_SIZE = 0x21c;
const HEAP_END_PTR = 0x224;
const CMD_LINE_PTR = 0x228;
const INITRD_ADDR_MAX = 0x22c; // 2.03+
const KERNEL_ALIGNMENT = 0x230; // 2.05+
const RELOCATABLE_KERNEL = 0x234; // 2.05+
const CMDLINE_SIZE = 0x238; // 2.06+
const PREF_ADDRESS = 0x258; // 2.10+, 64 bits
const INIT_SIZE = 0x260; // 2.10+
/** Where the fields this loader reads end, for protocols before and from 2.10. */
const FIELDS_END_2_06 = 0x23c;
const FIELDS_END_2_10 = 0x264;
/** zero-page.rst: struct setup_header starts at 0x1f1 and the next field, edd_mbr_sig_buffer, at 0x290. */
const ZERO_PAGE_HEADER_END = 0x290;

const BOOT_FLAG_VALUE = 0xaa55;
const HDRS: readonly number[] = [0x48, 0x64, 0x72, 0x53]; // "HdrS"
/** "The Real-Mode Kernel Header": setup_sects 0 means 4, for very old kernels. */
const DEFAULT_SETUP_SECTS = 4;
const LOADED_HIGH = 1 << 0;
const CAN_USE_HEAP = 1 << 7;
/** type_of_loader 0xff: "undefined", for boot loaders without an assigned ID. */
const LOADER_UNDEFINED = 0xff;
/**
 * "Sample Boot Configuration": heap_end = 0xe000, heap_end_ptr = heap_end -
 * 0x200. Only the real-mode setup uses its heap, but kernels may check the
 * flag, so report the conventional values.
 */
const HEAP_END_PTR_VALUE = 0xe000 - 0x200;

// Zero page fields outside the setup header (zero-page.rst).
const EXT_MEM_K = 0x002; // u16, KiB above 1 MiB (INT 15h AH=88h)
const ALT_MEM_K = 0x1e0; // u32, KiB above 1 MiB (INT 15h AX=E801h)
const E820_ENTRIES = 0x1e8; // u8
const E820_TABLE = 0x2d0; // 128 entries of { u64 addr, u64 size, u32 type }
const E820_ENTRY_SIZE = 20;

/** The setup header fields the loader uses ("The Real-Mode Kernel Header"). */
export interface SetupHeader {
  /** setup_sects with 0 read as 4: the real-mode code after the boot sector, in sectors. */
  setupSects: number;
  /** e.g. 0x020f for protocol 2.15. */
  version: number;
  loadflags: number;
  code32Start: number;
  initrdAddrMax: number;
  kernelAlignment: number;
  relocatable: boolean;
  cmdlineSize: number;
  /** 2.10+ only. */
  prefAddress?: number;
  /** 2.10+ only. */
  initSize?: number;
  /** 0x202 + the byte at 0x201: the end of the header to copy into the zero page. */
  headerEnd: number;
  /** The kernel_version string up to its build details ("6.1.0-37-686"), when the image has a readable one. */
  kernelVersion?: string;
}

/** "2.15" for 0x020f. */
export function formatProtocolVersion(version: number): string {
  return `${version >>> 8}.${String(version & 0xff).padStart(2, '0')}`;
}

function isPowerOfTwo(n: number): boolean {
  return n > 0 && (n & (n - 1)) === 0;
}

function alignUp(value: number, alignment: number): number {
  return Math.ceil(value / alignment) * alignment;
}

function alignDown(value: number, alignment: number): number {
  return Math.floor(value / alignment) * alignment;
}

/**
 * kernel_version (0x20e), if nonzero, points to a NUL-terminated string, less
 * 0x200, inside the setup code. It is only informational, so an odd one is
 * ignored rather than refused.
 */
function readKernelVersion(kernel: Uint8Array, pointer: number, setupEnd: number): string | undefined {
  if (pointer === 0) return undefined;
  const start = pointer + 0x200;
  const end = kernel.indexOf(0, start);
  if (end < 0 || end > setupEnd || end - start > 256) return undefined;
  const text = kernel.subarray(start, end);
  if (text.length === 0 || !text.every((b) => b >= 0x20 && b < 0x7f)) return undefined;
  // Linux appends " (builder@host) #1 SMP ..." to the release.
  return new TextDecoder().decode(text).split(/ [(#]/)[0].trim() || undefined;
}

/**
 * Reads and checks the setup header of a bzImage ("The Real-Mode Kernel
 * Header"): boot_flag, the "HdrS" signature, protocol 2.06 or later, a
 * loaded-high (bzImage) kernel and a header and setup code inside the file.
 */
export function parseSetupHeader(kernel: Uint8Array): SetupHeader {
  const r = new ByteReader(kernel, 'bzImage');
  r.require(0, HEADER_MAGIC + HDRS.length, 'boot sector and setup header signature');
  if (!bytesAt(kernel, HEADER_MAGIC, HDRS)) {
    throw new LoadError(
      'unknown-format',
      'not a Linux bzImage: no setup header signature "HdrS" at 0x202 (boot protocol 2.00 or later)',
    );
  }
  const bootFlag = r.u16(BOOT_FLAG, 'boot_flag');
  if (bootFlag !== BOOT_FLAG_VALUE) {
    throw new LoadError('bad-header', `bzImage boot_flag at 0x1fe is ${hex(bootFlag)}, not 0xaa55`);
  }
  const version = r.u16(VERSION, 'protocol version');
  if (version < MIN_PROTOCOL_VERSION) {
    throw new LoadError(
      'unsupported',
      `Linux boot protocol ${formatProtocolVersion(version)} is too old: ` +
        'this loader needs 2.06 or later (cmdline_size, relocatable kernels)',
    );
  }
  const headerEnd = HEADER_MAGIC + r.u8(JUMP_OFFSET, 'setup header length');
  const fieldsEnd = version >= 0x020a ? FIELDS_END_2_10 : FIELDS_END_2_06;
  if (headerEnd < fieldsEnd) {
    throw new LoadError(
      'bad-header',
      `bzImage setup header ends at ${hex(headerEnd)} (0x202 + the byte at 0x201), but protocol ` +
        `${formatProtocolVersion(version)} has fields up to ${hex(fieldsEnd)}`,
    );
  }
  if (headerEnd > ZERO_PAGE_HEADER_END) {
    throw new LoadError(
      'bad-header',
      `bzImage setup header ends at ${hex(headerEnd)} (0x202 + the byte at 0x201), ` +
        'past its room in the zero page, which ends at 0x290',
    );
  }
  r.require(SETUP_SECTS, headerEnd - SETUP_SECTS, `setup header (up to ${hex(headerEnd)})`);

  const loadflags = r.u8(LOADFLAGS, 'loadflags');
  if ((loadflags & LOADED_HIGH) === 0) {
    throw new LoadError(
      'unsupported',
      'zImage kernels (loadflags bit 0, LOADED_HIGH, clear) load below 1 MiB and are not supported: use a bzImage',
    );
  }
  const setupSects = r.u8(SETUP_SECTS, 'setup_sects') || DEFAULT_SETUP_SECTS;
  const setupEnd = (setupSects + 1) * SECTOR_SIZE;
  r.require(0, setupEnd, `real-mode setup (boot sector and ${setupSects} setup sectors)`);
  if (kernel.length === setupEnd) {
    throw new LoadError(
      'truncated',
      `truncated bzImage: no protected-mode kernel after the ${setupSects + 1} setup sectors (${hex(setupEnd)} bytes)`,
    );
  }
  // A cut-off kernel would start and then fault somewhere in what is missing: its size is in
  // the header ("Details of Header Fields", syssize, trusted from protocol 2.04), so check it.
  // The file may be longer (a signature appended) and syssize is rounded up to a whole
  // paragraph (memtest86+ leaves the last one short); 0 means the field was not filled in.
  const syssize = r.u32(SYSSIZE, 'syssize');
  const payloadLength = kernel.length - setupEnd;
  if (Math.ceil(payloadLength / PARAGRAPH) < syssize) {
    throw new LoadError(
      'truncated',
      `truncated bzImage: the protected-mode kernel is ${syssize * PARAGRAPH} bytes (syssize ${hex(syssize)} at 0x1f4, ` +
        `in 16-byte units) but the file has only ${payloadLength} after the ${setupSects + 1} setup sectors`,
    );
  }

  const relocatable = r.u8(RELOCATABLE_KERNEL, 'relocatable_kernel') !== 0;
  const kernelAlignment = r.u32(KERNEL_ALIGNMENT, 'kernel_alignment');
  if (relocatable && !isPowerOfTwo(kernelAlignment)) {
    throw new LoadError('bad-header', `bzImage kernel_alignment ${hex(kernelAlignment)} is not a power of two`);
  }
  const header: SetupHeader = {
    setupSects,
    version,
    loadflags,
    code32Start: r.u32(CODE32_START, 'code32_start'),
    initrdAddrMax: r.u32(INITRD_ADDR_MAX, 'initrd_addr_max'),
    kernelAlignment,
    relocatable,
    cmdlineSize: r.u32(CMDLINE_SIZE, 'cmdline_size'),
    headerEnd,
    kernelVersion: readKernelVersion(kernel, r.u16(KERNEL_VERSION, 'kernel_version'), setupEnd),
  };
  if (version >= 0x020a) {
    // pref_address is 64 bits; a 32-bit guest cannot place a kernel above 4 GiB.
    if (r.u32(PREF_ADDRESS + 4, 'pref_address') !== 0) {
      throw new LoadError('unsupported', 'bzImage pref_address is above 4 GiB');
    }
    header.prefAddress = r.u32(PREF_ADDRESS, 'pref_address');
    header.initSize = r.u32(INIT_SIZE, 'init_size');
  }
  return header;
}

/**
 * The memory the kernel needs from 0x100000 before it reads the memory map:
 * the loaded image, and init_size bytes from the runtime start address given
 * by the algorithm in "Details of Header Fields" (init_size). Protocols
 * before 2.10 do not say, so only the image counts.
 */
function kernelFootprint(header: SetupHeader, load: PhysRange): { range: PhysRange; needs: string } {
  const needs = `${load.end - load.start}-byte protected-mode kernel at ${hex(load.start)}`;
  if (header.initSize === undefined || header.prefAddress === undefined) return { range: load, needs };
  const runtimeStart = header.relocatable
    ? alignUp(Math.max(load.start, header.prefAddress), header.kernelAlignment)
    : header.prefAddress;
  const runtime = checkedRange(runtimeStart, header.initSize, 'kernel runtime area (init_size)');
  return {
    range: { start: Math.min(load.start, runtime.start), end: Math.max(load.end, runtime.end), what: 'Linux kernel' },
    needs: `${needs} and init_size ${hex(header.initSize)} from ${hex(runtimeStart)}`,
  };
}

/**
 * "Details of Header Fields", initrd_addr_max: the initrd's last byte may be
 * at initrd_addr_max at most. Like other loaders, put it page-aligned as high
 * as possible, leaving low memory to the kernel, but above the kernel's
 * footprint so that decompression cannot overwrite it.
 */
function placeInitrd(initrd: Uint8Array, header: SetupHeader, kernelEnd: number, ramSize: number): PhysRange {
  if (initrd.length === 0) throw new LoadError('empty', 'initrd is empty');
  const lowest = alignUp(kernelEnd, PAGE_SIZE);
  const top = Math.min(header.initrdAddrMax + 1, ramSize);
  if (initrd.length > top - lowest) {
    throw new LoadError(
      'too-large',
      `initrd is ${initrd.length} bytes but only ${Math.max(0, top - lowest)} fit between the kernel's end at ` +
        `${hex(lowest)} and ${hex(top)} (initrd_addr_max ${hex(header.initrdAddrMax)}, guest RAM ${formatSize(ramSize)})`,
    );
  }
  const start = alignDown(top - initrd.length, PAGE_SIZE);
  return { start, end: start + initrd.length, what: 'initrd' };
}

/** The zero page: the file's setup header plus what "32-bit BOOT PROTOCOL" asks the loader to fill in. */
function buildZeroPage(
  kernel: Uint8Array,
  header: SetupHeader,
  ramSize: number,
  initrd: PhysRange | undefined,
): Uint8Array {
  const zp = new ByteWriter(ZERO_PAGE_SIZE);
  zp.set(SETUP_SECTS, kernel.subarray(SETUP_SECTS, header.headerEnd));
  zp.u8(TYPE_OF_LOADER, LOADER_UNDEFINED);
  zp.u8(LOADFLAGS, header.loadflags | CAN_USE_HEAP);
  zp.u16(HEAP_END_PTR, HEAP_END_PTR_VALUE);
  zp.u32(CMD_LINE_PTR, LINUX_CMDLINE_ADDRESS);
  zp.u32(RAMDISK_IMAGE, initrd ? initrd.start : 0);
  zp.u32(RAMDISK_SIZE, initrd ? initrd.end - initrd.start : 0);

  // The BIOS memory sizes, for code paths that predate the e820 map.
  const extendedKiB = (ramSize - MiB) / KiB;
  zp.u16(EXT_MEM_K, Math.min(extendedKiB, 0xffff));
  zp.u32(ALT_MEM_K, extendedKiB);

  // The same PC layout as the multiboot memory map, whose types 1 (usable)
  // and 2 (reserved) are e820's too.
  const map = multibootMemoryMap(ramSize);
  zp.u8(E820_ENTRIES, map.length);
  map.forEach((entry, i) => {
    const at = E820_TABLE + i * E820_ENTRY_SIZE;
    zp.u64(at, entry.base);
    zp.u64(at + 8, entry.length);
    zp.u32(at + 16, entry.type);
  });
  return zp.bytes;
}

export interface BzImageOptions {
  ramSize: number;
  /** Passed through cmd_line_ptr, NUL-terminated; empty if absent. */
  cmdline?: string;
  /** The initial ramdisk, passed through ramdisk_image and ramdisk_size. */
  initrd?: Uint8Array;
}

export function planBzImage(kernel: Uint8Array, opts: BzImageOptions): LoadPlan {
  const { ramSize } = opts;
  checkRamSize(ramSize);
  if (kernel.length === 0) throw new LoadError('empty', 'image is empty');
  const header = parseSetupHeader(kernel);

  // "Loading The Rest of The Kernel": the protected-mode kernel is everything
  // after the (setup_sects + 1) real-mode sectors.
  const payloadOffset = (header.setupSects + 1) * SECTOR_SIZE;
  const payload = kernel.subarray(payloadOffset);
  const load = checkedRange(LINUX_KERNEL_ADDRESS, payload.length, 'protected-mode kernel');
  // code32_start is the 32-bit entry point; it defaults to the load address.
  if (header.code32Start < load.start || header.code32Start >= load.end) {
    throw new LoadError(
      'bad-header',
      `bzImage code32_start ${hex(header.code32Start)} is outside the protected-mode kernel loaded at ${formatRange(load)}`,
    );
  }
  const footprint = kernelFootprint(header, load);
  if (footprint.range.end > ramSize) {
    throw new LoadError(
      'too-large',
      `Linux kernel needs RAM up to ${hex(footprint.range.end)} (${footprint.needs}) but the guest has ${formatSize(ramSize)}`,
    );
  }

  // cmdline_size is the longest command line without its terminating NUL.
  const cmdline = cString(opts.cmdline ?? '', 'command line');
  const cmdlineLength = cmdline.length - 1;
  if (cmdlineLength > header.cmdlineSize) {
    throw new LoadError(
      'too-large',
      `command line is ${cmdlineLength} bytes but this kernel accepts at most ${header.cmdlineSize} (cmdline_size)`,
    );
  }
  if (cmdline.length > LINUX_CMDLINE_END - LINUX_CMDLINE_ADDRESS) {
    throw new LoadError(
      'too-large',
      `command line is ${cmdlineLength} bytes but at most ${LINUX_CMDLINE_END - LINUX_CMDLINE_ADDRESS - 1} fit`,
    );
  }

  const initrd = opts.initrd && {
    range: placeInitrd(opts.initrd, header, footprint.range.end, ramSize),
    bytes: opts.initrd,
  };
  const zeroPage = buildZeroPage(kernel, header, ramSize, initrd?.range);

  const pm = flatProtectedModeState(header.code32Start, LINUX_BOOT_SELECTORS);
  const structures: [number, Uint8Array, string][] = [
    [LINUX_ZERO_PAGE_ADDRESS, zeroPage, 'zero page (boot_params)'],
    [LINUX_CMDLINE_ADDRESS, cmdline, 'command line'],
  ];
  const reserved = [
    pm.gdtReserved,
    ...structures.map(([guestPhys, bytes, what]) => ({ guestPhys, length: bytes.length, what })),
  ];
  const payloadRanges = initrd ? [footprint.range, initrd.range] : [footprint.range];
  // As for multiboot: the EBDA, VGA and BIOS area is not usable RAM.
  const holes = [{ start: EBDA_START, end: MiB, what: 'the EBDA, VGA and BIOS area' }];
  checkPlacement({ ramSize, subject: 'kernel', payload: payloadRanges, reserved: reserved.map(rangeOf), holes });

  const chunks = [
    { guestPhys: load.start, bytes: payload },
    pm.gdtChunk,
    ...structures.map(([guestPhys, bytes]) => ({ guestPhys, bytes })),
  ];
  if (initrd) chunks.push({ guestPhys: initrd.range.start, bytes: initrd.bytes });

  const named = header.kernelVersion ? ` ${header.kernelVersion}` : '';
  const protocol = formatProtocolVersion(header.version);
  const withInitrd = initrd ? `, initrd ${initrd.bytes.length} bytes at ${hex(initrd.range.start)}` : '';
  return {
    format: 'linux',
    description: `Linux bzImage${named}, boot protocol ${protocol}, entry ${hex(header.code32Start)}${withInitrd}`,
    cpuMode: pm.cpuMode,
    chunks,
    zeroRanges: [],
    entry: pm.entry,
    // "32-bit BOOT PROTOCOL": %esi holds the base of struct boot_params;
    // %ebp, %edi and %ebx must be zero; interrupts are disabled.
    registers: { ...pm.registers, esi: LINUX_ZERO_PAGE_ADDRESS, ebp: 0, edi: 0, ebx: 0 },
    segments: pm.segments,
    gdt: pm.gdt,
    reserved,
  };
}
