import { describe, expect, it } from 'vitest';
import { lookupSymbol, parseElf32, PT_LOAD } from '../../src/boot/elf32.js';
import { expectLoadError } from './expect-load-error.js';
import { buildElf32, pattern } from './image-builder.js';

const segments = [
  { paddr: 0x100000, data: pattern(0x40) },
  { paddr: 0, data: pattern(8), type: 4 }, // PT_NOTE
  { paddr: 0x101000, data: pattern(0x10), memsz: 0x100 },
];

describe('parseElf32', () => {
  it('reads the header and program headers', () => {
    const elf = parseElf32(buildElf32({ entry: 0x100000, segments }));
    expect(elf.header).toMatchObject({ type: 2, machine: 3, entry: 0x100000, phnum: 3 });
    expect(elf.loadSegments().map((s) => [s.index, s.type, s.paddr, s.filesz, s.memsz])).toEqual([
      [0, PT_LOAD, 0x100000, 0x40, 0x40],
      [2, PT_LOAD, 0x101000, 0x10, 0x100],
    ]);
    expect(elf.segmentData(elf.loadSegments()[1])).toEqual(segments[2].data);
  });

  it('reads the notes of PT_NOTE segments, padded names and descriptors, and stops at one that does not fit', () => {
    const note = (name: string, type: number, desc: number[]) => {
      const nameBytes = new TextEncoder().encode(`${name}\0`);
      const padded = (n: number) => (n + 3) & ~3;
      const bytes = new Uint8Array(12 + padded(nameBytes.length) + padded(desc.length));
      const view = new DataView(bytes.buffer);
      view.setUint32(0, nameBytes.length, true);
      view.setUint32(4, desc.length, true);
      view.setUint32(8, type, true);
      bytes.set(nameBytes, 12);
      bytes.set(desc, 12 + padded(nameBytes.length));
      return bytes;
    };
    const broken = new Uint8Array(12);
    new DataView(broken.buffer).setUint32(0, 1000, true);
    const data = new Uint8Array([...note('VMM', 1, [0x00, 0x30, 0x10, 0x00]), ...note('GNU', 3, [1, 2, 3]), ...broken]);
    const elf = parseElf32(buildElf32({ entry: 0x100000, segments: [{ paddr: 0x100000, data: pattern(16) }, { paddr: 0, data, type: 4 }] }));
    expect(elf.notes()).toEqual([
      { name: 'VMM', type: 1, desc: new Uint8Array([0x00, 0x30, 0x10, 0x00]) },
      { name: 'GNU', type: 3, desc: new Uint8Array([1, 2, 3]) },
    ]);
    // The fixture's PT_NOTE holds no valid note at all.
    expect(parseElf32(buildElf32({ entry: 0x100000, segments })).notes()).toEqual([]);
  });

  it('reports a truncated ELF header', () => {
    const image = buildElf32({ entry: 0, segments: [] }).subarray(0, 20);
    expectLoadError(() => parseElf32(image), 'truncated', "truncated ELF: ELF header ends at 0x34 beyond the file's 20 bytes");
  });

  it('refuses big-endian files', () => {
    const image = buildElf32({ entry: 0, segments: [] });
    image[5] = 2;
    expectLoadError(() => parseElf32(image), 'unsupported', 'ELF data encoding 2 is not little-endian (i386 only)');
  });
});

describe('ELF symbols', () => {
  const image = buildElf32({
    entry: 0x100000,
    segments,
    symbols: [
      { name: 'kmain', value: 0x100010, size: 0x20, type: 'func' },
      { name: '_start', value: 0x100000, type: 'notype' },
      { name: 'helper', value: 0x100030, size: 0x8, type: 'func', bind: 'local' },
      { name: 'hook', value: 0x100040, size: 0x4, type: 'func', bind: 'weak' },
      { name: 'hook_label', value: 0x100040, type: 'notype' },
      { name: 'counter', value: 0x101000, size: 4, type: 'object' },
      { name: '.text', value: 0x100000, type: 'section' },
      { name: 'main.c', value: 0, type: 'file' },
      { name: 'extern_fn', value: 0, type: 'func', shndx: 0 },
      { name: 'MAGIC', value: 0x1badb002, type: 'notype', shndx: 0xfff1 },
    ],
  });
  const symbols = parseElf32(image).symbols();

  it('keeps defined FUNC and NOTYPE symbols, sorted by address', () => {
    expect(symbols.map((s) => [s.name, s.address, s.size, s.type, s.binding])).toEqual([
      ['_start', 0x100000, 0, 'notype', 'global'],
      ['kmain', 0x100010, 0x20, 'func', 'global'],
      ['helper', 0x100030, 8, 'func', 'local'],
      ['hook', 0x100040, 4, 'func', 'weak'],
      ['hook_label', 0x100040, 0, 'notype', 'global'],
    ]);
  });

  it('turns an address into function+offset', () => {
    const at = (address: number) => {
      const hit = lookupSymbol(symbols, address);
      return hit && `${hit.symbol.name}+${hit.offset.toString(16)}`;
    };
    expect(at(0x100000)).toBe('_start+0');
    expect(at(0x100005)).toBe('_start+5');
    expect(at(0x100015)).toBe('kmain+5');
    expect(at(0x100037)).toBe('helper+7');
    expect(at(0x100038)).toBeUndefined(); // past helper's size
    expect(at(0x100041)).toBe('hook+1'); // a function wins over a label at the same address
    expect(at(0x100050)).toBe('hook_label+10'); // outside hook, inside the unsized label
    expect(at(0xfffff)).toBeUndefined();
  });

  it('is empty for a stripped file', () => {
    expect(parseElf32(buildElf32({ entry: 0x100000, segments })).symbols()).toEqual([]);
  });
});
