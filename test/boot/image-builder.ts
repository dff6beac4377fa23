// Builds small guest images byte by byte for the loader tests: multiboot
// headers, ELF32 executables (optionally with a symbol table), a.out-kludge
// kernels, boot sectors and a bzImage look-alike.

import type { LoadPlan } from '../../src/boot/load-plan.js';

export const MB_MAGIC = 0x1badb002;
export const MB_AOUT = 1 << 16;

class Writer {
  readonly bytes: Uint8Array;
  private readonly view: DataView;
  constructor(length: number) {
    this.bytes = new Uint8Array(length);
    this.view = new DataView(this.bytes.buffer);
  }
  u8(at: number, v: number): void {
    this.view.setUint8(at, v);
  }
  u16(at: number, v: number): void {
    this.view.setUint16(at, v, true);
  }
  u32(at: number, v: number): void {
    this.view.setUint32(at, v >>> 0, true);
  }
  set(at: number, data: Uint8Array): void {
    this.bytes.set(data, at);
  }
}

export function concat(...parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

/** Recognisable non-zero filler, so tests can tell copied bytes from zeroed RAM. */
export function pattern(length: number, seed = 1): Uint8Array {
  return Uint8Array.from({ length }, (_, i) => ((i * 7 + seed) % 255) + 1);
}

export interface AddressFields {
  headerAddr: number;
  loadAddr: number;
  loadEndAddr: number;
  bssEndAddr: number;
  entryAddr: number;
}

/** A multiboot v1 header; the checksum is correct unless given. */
export function multibootHeader(opts: { flags?: number; checksum?: number; address?: AddressFields } = {}): Uint8Array {
  const flags = opts.flags ?? (opts.address ? MB_AOUT : 0);
  const w = new Writer(opts.address ? 32 : 12);
  w.u32(0, MB_MAGIC);
  w.u32(4, flags);
  w.u32(8, opts.checksum ?? -(MB_MAGIC + flags));
  if (opts.address) {
    const a = opts.address;
    w.u32(12, a.headerAddr);
    w.u32(16, a.loadAddr);
    w.u32(20, a.loadEndAddr);
    w.u32(24, a.bssEndAddr);
    w.u32(28, a.entryAddr);
  }
  return w.bytes;
}

export interface SegmentSpec {
  paddr: number;
  vaddr?: number;
  data: Uint8Array;
  /** Defaults to data.length. */
  memsz?: number;
  /** Defaults to data.length. */
  filesz?: number;
  /** Defaults to PT_LOAD. */
  type?: number;
}

export interface SymbolSpec {
  name: string;
  value: number;
  size?: number;
  type?: 'notype' | 'object' | 'func' | 'section' | 'file';
  bind?: 'local' | 'global' | 'weak';
  /** Section index; defaults to 1 (any defined section). */
  shndx?: number;
}

export interface ElfSpec {
  entry: number;
  segments: SegmentSpec[];
  elfClass?: number;
  machine?: number;
  type?: number;
  symbols?: SymbolSpec[];
  /** Put the program header table after the segment data instead of after the ELF header. */
  phdrsLast?: boolean;
}

const STT: Record<NonNullable<SymbolSpec['type']>, number> = { notype: 0, object: 1, func: 2, section: 3, file: 4 };
const STB: Record<NonNullable<SymbolSpec['bind']>, number> = { local: 0, global: 1, weak: 2 };

function align(n: number, to: number): number {
  return Math.ceil(n / to) * to;
}

/** An ELF32 little-endian executable; segment data follows the headers, 16-byte aligned. */
export function buildElf32(spec: ElfSpec): Uint8Array {
  const phnum = spec.segments.length;
  let at = 52;
  let phoff = at;
  if (!spec.phdrsLast) at += phnum * 32;
  const dataOffsets = spec.segments.map((s) => {
    at = align(at, 16);
    const offset = at;
    at += s.data.length;
    return offset;
  });
  if (spec.phdrsLast) {
    phoff = align(at, 4);
    at = phoff + phnum * 32;
  }

  // Symbol table sections: [null, .symtab, .strtab, .shstrtab].
  let sectionBlock: { shoff: number; start: number; bytes: Uint8Array } | undefined;
  if (spec.symbols) {
    const enc = new TextEncoder();
    const names: number[] = [0];
    let strtab = new Uint8Array([0]);
    for (const sym of spec.symbols) {
      names.push(strtab.length);
      strtab = concat(strtab, enc.encode(sym.name), new Uint8Array([0]));
    }
    const symtab = new Writer(16 * (spec.symbols.length + 1));
    spec.symbols.forEach((sym, i) => {
      const o = 16 * (i + 1);
      symtab.u32(o, names[i + 1]);
      symtab.u32(o + 4, sym.value);
      symtab.u32(o + 8, sym.size ?? 0);
      symtab.u8(o + 12, (STB[sym.bind ?? 'global'] << 4) | STT[sym.type ?? 'func']);
      symtab.u16(o + 14, sym.shndx ?? 1);
    });
    const shstrtab = enc.encode('\0.symtab\0.strtab\0.shstrtab\0');
    const symtabOff = align(at, 4);
    const strtabOff = symtabOff + symtab.bytes.length;
    const shstrOff = strtabOff + strtab.length;
    const shoff = align(shstrOff + shstrtab.length, 4);
    const sh = new Writer(40 * 4);
    const section = (i: number, name: number, type: number, off: number, size: number, link: number, entsize: number) => {
      const o = 40 * i;
      sh.u32(o, name);
      sh.u32(o + 4, type);
      sh.u32(o + 16, off);
      sh.u32(o + 20, size);
      sh.u32(o + 24, link);
      sh.u32(o + 36, entsize);
    };
    section(1, 1, 2, symtabOff, symtab.bytes.length, 2, 16);
    section(2, 9, 3, strtabOff, strtab.length, 0, 0);
    section(3, 17, 3, shstrOff, shstrtab.length, 0, 0);
    const block = new Uint8Array(shoff + sh.bytes.length - symtabOff);
    block.set(symtab.bytes, 0);
    block.set(strtab, strtabOff - symtabOff);
    block.set(shstrtab, shstrOff - symtabOff);
    block.set(sh.bytes, shoff - symtabOff);
    sectionBlock = { shoff, start: symtabOff, bytes: block };
    at = symtabOff + block.length;
  }

  const w = new Writer(at);
  w.set(0, new Uint8Array([0x7f, 0x45, 0x4c, 0x46, spec.elfClass ?? 1, 1, 1]));
  w.u16(16, spec.type ?? 2);
  w.u16(18, spec.machine ?? 3);
  w.u32(20, 1);
  w.u32(24, spec.entry);
  w.u32(28, phnum ? phoff : 0);
  w.u16(40, 52);
  w.u16(42, 32);
  w.u16(44, phnum);
  if (sectionBlock) {
    w.u32(32, sectionBlock.shoff);
    w.u16(46, 40);
    w.u16(48, 4);
    w.u16(50, 3);
    w.set(sectionBlock.start, sectionBlock.bytes);
  }
  spec.segments.forEach((s, i) => {
    const o = phoff + 32 * i;
    w.u32(o, s.type ?? 1);
    w.u32(o + 4, dataOffsets[i]);
    w.u32(o + 8, s.vaddr ?? s.paddr);
    w.u32(o + 12, s.paddr);
    w.u32(o + 16, s.filesz ?? s.data.length);
    w.u32(o + 20, s.memsz ?? s.data.length);
    w.u32(o + 24, 5);
    w.u32(o + 28, 0x1000);
    w.set(dataOffsets[i], s.data);
  });
  return w.bytes;
}

/** A multiboot ELF kernel: the header opens the first segment, code follows. */
export function multibootElf(
  opts: { paddr?: number; code?: Uint8Array; flags?: number; checksum?: number; extra?: SegmentSpec[] } = {},
): Uint8Array {
  const paddr = opts.paddr ?? 0x100000;
  const header = multibootHeader({ flags: opts.flags ?? 0x3, checksum: opts.checksum });
  const code = opts.code ?? pattern(64);
  return buildElf32({
    entry: paddr + header.length,
    segments: [{ paddr, data: concat(header, code) }, ...(opts.extra ?? [])],
  });
}

/**
 * An a.out-kludge kernel of `fileLength` bytes: file offset `fileStart` is
 * loaded at `loadAddr`, and the header sits at file offset `headerOffset`.
 */
export function aoutKludge(opts: {
  fileLength: number;
  loadAddr: number;
  headerOffset?: number;
  fileStart?: number;
  loadEndAddr?: number;
  bssEndAddr?: number;
  entryAddr?: number;
  headerAddr?: number;
  flags?: number;
}): Uint8Array {
  const headerOffset = opts.headerOffset ?? 0;
  const fileStart = opts.fileStart ?? 0;
  const image = pattern(opts.fileLength, 5);
  const header = multibootHeader({
    flags: opts.flags ?? MB_AOUT,
    address: {
      headerAddr: opts.headerAddr ?? opts.loadAddr + headerOffset - fileStart,
      loadAddr: opts.loadAddr,
      loadEndAddr: opts.loadEndAddr ?? 0,
      bssEndAddr: opts.bssEndAddr ?? 0,
      entryAddr: opts.entryAddr ?? opts.loadAddr + headerOffset - fileStart + 32,
    },
  });
  image.set(header.subarray(0, Math.min(header.length, image.length - headerOffset)), headerOffset);
  return image;
}

/** A 512-byte boot sector with (or without) its 0x55 0xAA signature. */
export function bootSector(opts: { length?: number; signature?: boolean } = {}): Uint8Array {
  const image = pattern(opts.length ?? 512, 9);
  if (opts.signature ?? true) {
    image[510] = 0x55;
    image[511] = 0xaa;
  } else if (image.length >= 512) {
    image[510] = 0;
    image[511] = 0;
  }
  return image;
}

/** The start of a Linux bzImage: boot flag 0xAA55 at 0x1fe and "HdrS" at 0x202. */
export function bzImageStub(): Uint8Array {
  const image = bootSector({ length: 4096 });
  image.set(new TextEncoder().encode('HdrS'), 0x202);
  return image;
}

/** Guest RAM after applying a plan the way the VMM does: copy chunks, then zero ranges. */
export function applyPlan(plan: LoadPlan, ramSize: number, fill = 0xcc): Uint8Array {
  const ram = new Uint8Array(ramSize).fill(fill);
  for (const chunk of plan.chunks) ram.set(chunk.bytes, chunk.guestPhys);
  for (const zero of plan.zeroRanges) ram.fill(0, zero.guestPhys, zero.guestPhys + zero.length);
  return ram;
}

export function u32At(ram: Uint8Array, at: number): number {
  return new DataView(ram.buffer, ram.byteOffset).getUint32(at, true);
}

export function u64At(ram: Uint8Array, at: number): number {
  return Number(new DataView(ram.buffer, ram.byteOffset).getBigUint64(at, true));
}

export function cStringAt(ram: Uint8Array, at: number): string {
  const end = ram.indexOf(0, at);
  return new TextDecoder().decode(ram.subarray(at, end));
}
