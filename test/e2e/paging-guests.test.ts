// The paging sample guests (guests/paging, guests/popf, guests/physscan) under the direct engine
// print exactly what they print under qemu-system-i386 -m 64 (see guests/README.md).
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { exitCounts, guestPath, runVmm } from './run-vmm.js';

function boot(image: string, ...extra: string[]) {
  return runVmm(['boot', guestPath(image), '--engine', 'direct', '-m', '64', '--no-stdin', '--time-limit', '20', ...extra]);
}

/** The value of a symbol in an ELF32 file's symbol table, and the file offset it lies at. */
function elfSymbol(path: string, name: string): { address: number; fileOffset: number } {
  const elf = readFileSync(path);
  const shoff = elf.readUInt32LE(0x20);
  const shentsize = elf.readUInt16LE(0x2e);
  const shnum = elf.readUInt16LE(0x30);
  const section = (i: number) => {
    const at = shoff + i * shentsize;
    return { type: elf.readUInt32LE(at + 4), offset: elf.readUInt32LE(at + 16), size: elf.readUInt32LE(at + 20), link: elf.readUInt32LE(at + 24) };
  };
  for (let i = 0; i < shnum; i++) {
    const symtab = section(i);
    if (symtab.type !== 2) continue; // SHT_SYMTAB
    const strtab = section(symtab.link);
    for (let at = symtab.offset; at < symtab.offset + symtab.size; at += 16) {
      const nameAt = strtab.offset + elf.readUInt32LE(at);
      const end = elf.indexOf(0, nameAt);
      if (elf.toString('latin1', nameAt, end) !== name) continue;
      const address = elf.readUInt32LE(at + 4);
      const phoff = elf.readUInt32LE(0x1c);
      for (let p = 0; p < elf.readUInt16LE(0x2c); p++) {
        const ph = phoff + p * elf.readUInt16LE(0x2a);
        const [type, offset, vaddr, filesz] = [0, 4, 8, 16].map((o) => elf.readUInt32LE(ph + o));
        if (type === 1 && address >= vaddr && address < vaddr + filesz) return { address, fileOffset: offset + address - vaddr };
      }
      throw new Error(`${name} is not in a loaded segment`);
    }
  }
  throw new Error(`no symbol ${name} in ${path}`);
}

describe('paging guests under the direct engine', () => {
  it('demand paging: one #PF per page and per page table, A/D bits, CR3 switches, PTE changes', () => {
    const run = boot('paging.elf');
    expect(run.stdout).toBe(
      'paging on: 0-64 MiB identity-mapped with 4 MiB pages, 0x40000000-0x41ffffff not mapped\n' +
        'touched 8192 pages: 8200 page faults (8192 pages + 8 page tables)\n' +
        'read back 8192 pages: patterns ok, 8200 page faults in all\n' +
        'A/D after writes: 8192 of 8192 PTEs accessed and dirty\n' +
        'A/D after clearing: read page A=1 D=0, written page A=1 D=1, untouched page A=0 D=0\n' +
        '3 address spaces at 0x50000000: 300 CR3 switches, markers ok, visits 100 100 100\n' +
        'remap with INVLPG: read 0x600d0001\n' +
        'remap with CR3 reload: read 0x600d0002\n' +
        'unmapped page read: 1 #PF cr2=0x4000500c error 0x00000000, mapped again, read 0x600d0004\n' +
        'unmapped page write: 1 #PF cr2=0x4000500c error 0x00000002, mapped again, read 0x600d0003\n' +
        // The handler computes across many of the VMM's time slices before it reads CR2.
        'unmapped page read, slow handler: 1 #PF cr2=0x4000500c error 0x00000000, mapped again, read 0x600d0003\n' +
        'unmapped page write, slow handler: 1 #PF cr2=0x4000500c error 0x00000002, mapped again, read 0x600d0003\n' +
        'read-only user page, WP clear: wrote 0x600d0005; WP set: 1 #PF error 0x00000003, mapped writable, wrote 0x600d0006\n' +
        'paging ok\n',
    );
    expect(run.stderr).toMatch(/debug-exit port with value 0x0 \(status 1\)/);
    expect(run.status).toBe(1);
    // Every page fault went to the guest's own handler: 8192 + 8 demand faults, 2 in step f, 2 in
    // g, 1 for write protection.
    expect(exitCounts(run.stderr)['exception-reflected']).toBe(8205);
    expect(exitCounts(run.stderr).timeslice).toBeGreaterThan(2);
  });

  it('demand paging refuses to run without enough RAM for its frames', () => {
    const run = runVmm(['boot', guestPath('paging.elf'), '-m', '32', '--no-stdin', '--time-limit', '20']);
    expect(run.stdout).toBe('FAILED: not enough memory: mem_upper=31744K, need 35916K (run with 64 MiB)\n');
    expect(run.status).toBe(9);
  });

  it('POPF at ring 0 clears IF; CLI too; CS has RPL 0; VERR and VERW judge at CPL 0 (as under QEMU)', () => {
    const run = boot('popf.elf');
    expect(run.stdout).toBe('popf cleared IF\ncli cleared IF\ncs rpl 0\nverr code 1 data 1 rpl3 0 null 0 verw code 0 data 1 rpl3 0 null 0\n');
    expect(run.status).toBe(1);
    expect(exitCounts(run.stderr)['irq-injected'] ?? 0).toBe(0);
    // popf_site names the POPF instruction (opcode 0x9D) in the image.
    const site = elfSymbol(guestPath('popf.elf'), 'popf_site');
    expect(site.address).toBeGreaterThanOrEqual(0x100000);
    expect(readFileSync(guestPath('popf.elf'))[site.fileOffset]).toBe(0x9d);
  });

  it('physical memory above RAM is open bus up to 0xC0000000 and the scan leaves RAM alone', () => {
    const run = boot('physscan.elf');
    expect(run.stdout).toBe(
      'scan 0x04000000-0xbfffffff\n' + 'scanned 770048 pages, writable 0, open-bus 770048\n' + 'ram intact, checksum 0xd279b219\n',
    );
    expect(run.status).toBe(1);
    // A read, a write and a read per page, each reaching the open-bus region.
    expect(exitCounts(run.stderr)['open-bus']).toBe(3 * 770048);
  });

  it('open bus reads as all ones on this VMM (QEMU 7.2 reads unassigned memory as zeros)', () => {
    const run = boot('physscan.elf', '-a', 'ranges=1');
    expect(run.stdout).toContain('0x04000000-0xbfffffff open-bus, first read 0xffffffff\n');
    expect(run.status).toBe(1);
  });
});
