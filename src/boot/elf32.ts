// ELF32 little-endian parsing (System V gABI, "Object Files" chapter):
// the file header, the program headers that say what to load, and the
// symbol table that a tracer uses to print `function+offset`.

import { ByteReader, bytesAt, hex } from './bytes.js';
import { LoadError } from './load-plan.js';

export const ELF_MAGIC: readonly number[] = [0x7f, 0x45, 0x4c, 0x46]; // "\x7fELF"

const EI_CLASS = 4;
const EI_DATA = 5;
const EI_VERSION = 6;
const ELFCLASS32 = 1;
const ELFCLASS64 = 2;
const ELFDATA2LSB = 1;
const EV_CURRENT = 1;

export const ET_EXEC = 2;
export const EM_386 = 3;
export const PT_LOAD = 1;
export const PT_NOTE = 4;

const EHDR_SIZE = 52;
const PHDR_SIZE = 32;
const SHDR_SIZE = 40;
const SYM_SIZE = 16;
/** e_phnum value meaning "the real count is in section 0" (gABI extended numbering). */
const PN_XNUM = 0xffff;

const SHT_SYMTAB = 2;
const SHN_UNDEF = 0;
const SHN_ABS = 0xfff1;
const SHN_COMMON = 0xfff2;
const STT_NOTYPE = 0;
const STT_FUNC = 2;

export interface Elf32Header {
  type: number;
  machine: number;
  entry: number;
  phoff: number;
  shoff: number;
  phentsize: number;
  phnum: number;
  shentsize: number;
  shnum: number;
  shstrndx: number;
}

export interface Elf32ProgramHeader {
  /** Position in the program header table, for messages. */
  index: number;
  type: number;
  offset: number;
  vaddr: number;
  paddr: number;
  filesz: number;
  memsz: number;
  flags: number;
  align: number;
}

export interface Elf32Section {
  index: number;
  type: number;
  offset: number;
  size: number;
  link: number;
  entsize: number;
}

export interface ElfSymbol {
  name: string;
  /** st_value: the symbol's (virtual) address in an executable. */
  address: number;
  size: number;
  type: 'func' | 'notype';
  binding: 'local' | 'global' | 'weak' | 'other';
}

export function isElf(bytes: Uint8Array): boolean {
  return bytesAt(bytes, 0, ELF_MAGIC);
}

export class Elf32File {
  readonly header: Elf32Header;
  readonly programHeaders: readonly Elf32ProgramHeader[];
  private readonly reader: ByteReader;

  constructor(bytes: Uint8Array) {
    const r = new ByteReader(bytes, 'ELF');
    this.reader = r;
    if (!isElf(bytes)) throw new LoadError('bad-header', 'not an ELF file (no \\x7fELF magic)');
    const elfClass = r.u8(EI_CLASS, 'e_ident');
    if (elfClass === ELFCLASS64) {
      throw new LoadError('unsupported', '64-bit ELF kernels are not supported (i386 only)');
    }
    if (elfClass !== ELFCLASS32) throw new LoadError('bad-header', `invalid ELF class ${elfClass}`);
    const data = r.u8(EI_DATA, 'e_ident');
    if (data !== ELFDATA2LSB) {
      throw new LoadError('unsupported', `ELF data encoding ${data} is not little-endian (i386 only)`);
    }
    const version = r.u8(EI_VERSION, 'e_ident');
    if (version !== EV_CURRENT) throw new LoadError('bad-header', `invalid ELF version ${version}`);
    r.require(0, EHDR_SIZE, 'ELF header');

    this.header = {
      type: r.u16(16, 'ELF header'),
      machine: r.u16(18, 'ELF header'),
      entry: r.u32(24, 'ELF header'),
      phoff: r.u32(28, 'ELF header'),
      shoff: r.u32(32, 'ELF header'),
      phentsize: r.u16(42, 'ELF header'),
      phnum: r.u16(44, 'ELF header'),
      shentsize: r.u16(46, 'ELF header'),
      shnum: r.u16(48, 'ELF header'),
      shstrndx: r.u16(50, 'ELF header'),
    };
    this.programHeaders = this.readProgramHeaders();
  }

  private readProgramHeaders(): Elf32ProgramHeader[] {
    const { phoff, phnum, phentsize } = this.header;
    if (phnum === 0) return [];
    if (phnum === PN_XNUM) {
      throw new LoadError('unsupported', 'ELF files with 65535 or more program headers are not supported');
    }
    if (phentsize < PHDR_SIZE) {
      throw new LoadError('bad-header', `ELF program header size ${phentsize} is smaller than ${PHDR_SIZE}`);
    }
    const r = this.reader;
    const headers: Elf32ProgramHeader[] = [];
    for (let index = 0; index < phnum; index++) {
      const at = phoff + index * phentsize;
      const what = `program header ${index}`;
      r.require(at, PHDR_SIZE, what);
      headers.push({
        index,
        type: r.u32(at, what),
        offset: r.u32(at + 4, what),
        vaddr: r.u32(at + 8, what),
        paddr: r.u32(at + 12, what),
        filesz: r.u32(at + 16, what),
        memsz: r.u32(at + 20, what),
        flags: r.u32(at + 24, what),
        align: r.u32(at + 28, what),
      });
    }
    return headers;
  }

  /** The PT_LOAD program headers, in file order. */
  loadSegments(): Elf32ProgramHeader[] {
    return this.programHeaders.filter((ph) => ph.type === PT_LOAD);
  }

  /**
   * The notes of the PT_NOTE segments (System V ABI, "Note Section"): each a name, a type and a
   * descriptor, name and descriptor padded to 4 bytes. A segment's notes end at the first one that
   * does not fit in it (nothing here needs them to load the kernel).
   */
  notes(): { name: string; type: number; desc: Uint8Array }[] {
    const r = this.reader;
    const notes: { name: string; type: number; desc: Uint8Array }[] = [];
    for (const ph of this.programHeaders.filter((h) => h.type === PT_NOTE)) {
      const end = Math.min(ph.offset + ph.filesz, r.length);
      for (let at = ph.offset; at + 12 <= end; ) {
        const what = `note segment ${ph.index}`;
        const namesz = r.u32(at, what);
        const descsz = r.u32(at + 4, what);
        const type = r.u32(at + 8, what);
        const descAt = at + 12 + align4(namesz);
        const next = descAt + align4(descsz);
        if (namesz > end || descsz > end || next > end) break;
        const name = new TextDecoder().decode(r.slice(at + 12, namesz, what)).replace(/\0+$/, '');
        notes.push({ name, type, desc: r.slice(descAt, descsz, what) });
        at = next;
      }
    }
    return notes;
  }

  /** The file bytes of a program header's segment (a view into the image). */
  segmentData(ph: Elf32ProgramHeader): Uint8Array {
    return this.reader.slice(ph.offset, ph.filesz, `segment ${ph.index} data`);
  }

  /** The section header table; read on demand so a damaged one does not stop a load. */
  sections(): Elf32Section[] {
    const { shoff, shnum, shentsize } = this.header;
    if (shnum === 0) return [];
    if (shentsize < SHDR_SIZE) {
      throw new LoadError('bad-header', `ELF section header size ${shentsize} is smaller than ${SHDR_SIZE}`);
    }
    const r = this.reader;
    const sections: Elf32Section[] = [];
    for (let index = 0; index < shnum; index++) {
      const at = shoff + index * shentsize;
      const what = `section header ${index}`;
      r.require(at, SHDR_SIZE, what);
      sections.push({
        index,
        type: r.u32(at + 4, what),
        offset: r.u32(at + 16, what),
        size: r.u32(at + 20, what),
        link: r.u32(at + 24, what),
        entsize: r.u32(at + 36, what),
      });
    }
    return sections;
  }

  /**
   * Function and untyped (assembly label) symbols from the SHT_SYMTAB section
   * (.symtab, whose sh_link names its string table .strtab), sorted by
   * address. Undefined, absolute and common symbols are left out: they are
   * not code addresses. A stripped file has no symbols.
   */
  symbols(): ElfSymbol[] {
    const sections = this.sections();
    const symtab = sections.find((s) => s.type === SHT_SYMTAB);
    if (!symtab) return [];
    const strtab = sections[symtab.link];
    if (!strtab) {
      throw new LoadError('bad-header', `ELF symbol table links to missing string table section ${symtab.link}`);
    }
    const r = this.reader;
    const entsize = symtab.entsize || SYM_SIZE;
    if (entsize < SYM_SIZE) throw new LoadError('bad-header', `ELF symbol size ${entsize} is smaller than ${SYM_SIZE}`);
    const strings = r.slice(strtab.offset, strtab.size, 'string table');
    const count = Math.floor(symtab.size / entsize);
    const symbols: ElfSymbol[] = [];
    // Symbol 0 is the reserved undefined symbol.
    for (let i = 1; i < count; i++) {
      const at = symtab.offset + i * entsize;
      const what = `symbol ${i}`;
      r.require(at, SYM_SIZE, what);
      const info = r.u8(at + 12, what);
      const type = info & 0xf;
      const shndx = r.u16(at + 14, what);
      if (type !== STT_FUNC && type !== STT_NOTYPE) continue;
      if (shndx === SHN_UNDEF || shndx === SHN_ABS || shndx === SHN_COMMON) continue;
      const name = readCString(strings, r.u32(at, what));
      if (name === '') continue;
      const bind = info >>> 4;
      symbols.push({
        name,
        address: r.u32(at + 4, what),
        size: r.u32(at + 8, what),
        type: type === STT_FUNC ? 'func' : 'notype',
        binding: bind === 0 ? 'local' : bind === 1 ? 'global' : bind === 2 ? 'weak' : 'other',
      });
    }
    return symbols.sort((a, b) => a.address - b.address);
  }
}

function readCString(table: Uint8Array, offset: number): string {
  if (offset >= table.length) {
    throw new LoadError('bad-header', `ELF symbol name offset ${hex(offset)} is outside the string table`);
  }
  let end = offset;
  while (end < table.length && table[end] !== 0) end++;
  return new TextDecoder().decode(table.subarray(offset, end));
}

export function parseElf32(bytes: Uint8Array): Elf32File {
  return new Elf32File(bytes);
}

/**
 * The symbol for `address` in a table sorted by address (as returned by
 * `symbols()`): the closest symbol at or below it, provided the address is
 * inside that symbol's size, or the symbol has no size (assembly labels).
 * When several symbols share an address, a function is preferred.
 */
export function lookupSymbol(
  symbols: readonly ElfSymbol[],
  address: number,
): { symbol: ElfSymbol; offset: number } | undefined {
  // Binary search for the first symbol above the address.
  let lo = 0;
  let hi = symbols.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (symbols[mid].address <= address) lo = mid + 1;
    else hi = mid;
  }
  if (lo === 0) return undefined;
  const start = symbols[lo - 1].address;
  let best: ElfSymbol | undefined;
  for (let i = lo - 1; i >= 0 && symbols[i].address === start; i--) {
    const s = symbols[i];
    const covers = s.size === 0 || address < s.address + s.size;
    if (!covers) continue;
    if (!best || (best.type !== 'func' && s.type === 'func')) best = s;
  }
  return best ? { symbol: best, offset: address - best.address } : undefined;
}

function align4(n: number): number {
  return (n + 3) & ~3;
}
