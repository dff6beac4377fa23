// Which guest frames are page tables, and the rule that keeps them the VMM's to write: a
// paravirtual kernel's tables are read-only to it, and every change is a validated update (Xen's
// page types, Barham et al. §3.3 and Xen's mm.c: a frame is either a page table or writable,
// never both). With that, the kernel can neither map memory outside its RAM (the VMM's region, a
// device) nor write a table behind the VMM's back.
//
// 32-bit paging only (SDM Vol. 3 §4.3), 4 KiB pages only: a 4 MiB page would map 1024 frames at
// once, each of which might be a table. Tables and directories stay typed once validated (Xen
// keeps a pinned table typed until the guest unpins it; there is no unpin here).
import { hex } from '../../util/hex.js';
import { Errno } from './abi.js';

const PRESENT = 1 << 0;
const WRITABLE = 1 << 1;
const LARGE_PAGE = 1 << 7;
const ENTRIES = 1024;

export type GuardResult = { ok: true } | { ok: false; errno: number; why: string };
const ok: GuardResult = { ok: true };
const refuse = (errno: number, why: string): GuardResult => ({ ok: false, errno, why });

export class PageTableGuard {
  private readonly view: DataView;
  private readonly frames: number;
  /** Per frame: how many present, writable entries of validated tables map it. */
  private readonly writableMappings: Uint32Array;
  /** Per frame: how many directory entries use it as a page table (0: not a table). */
  private readonly tableUses: Uint32Array;
  private readonly directories = new Set<number>();

  /** `written(frame)`: the VMM changed an entry in that table (the shadows derived from it must go). */
  constructor(
    private readonly ram: Uint8Array,
    private readonly written: (frame: number) => void,
  ) {
    this.view = new DataView(ram.buffer, ram.byteOffset, ram.byteLength);
    this.frames = Math.floor(ram.byteLength / 4096);
    this.writableMappings = new Uint32Array(this.frames);
    this.tableUses = new Uint32Array(this.frames);
  }

  isDirectory(frame: number): boolean {
    return this.directories.has(frame);
  }

  isTable(frame: number): boolean {
    return frame < this.frames && this.tableUses[frame] > 0;
  }

  /** A page directory the kernel wants to load (the new-baseptr hypercall): validated and pinned. */
  pinDirectory(physical: number): GuardResult {
    if (physical % 4096 !== 0) return refuse(Errno.EINVAL, `page directory 0x${hex(physical)} is not page aligned`);
    const frame = physical / 4096;
    if (frame >= this.frames) return refuse(Errno.EINVAL, `page directory 0x${hex(physical)} is outside guest RAM`);
    if (this.directories.has(frame)) return ok;
    if (this.isTable(frame)) return refuse(Errno.EPERM, `frame 0x${hex(physical)} is a page table, not a directory`);
    if (this.writableMappings[frame] > 0) return refuse(Errno.EPERM, `page directory 0x${hex(physical)} is mapped writable`);
    const taken: number[] = [];
    for (let i = 0; i < ENTRIES; i++) {
      const entry = this.entry(physical + 4 * i);
      if (!(entry & PRESENT)) continue;
      const result = this.checkDirectoryEntry(entry, frame);
      if (!result.ok) {
        for (const table of taken) this.releaseTable(table);
        return result;
      }
      this.useTable(entry >>> 12);
      taken.push(entry >>> 12);
    }
    // One of its own tables may map the directory writable: counted only now that they are tables.
    if (this.writableMappings[frame] > 0) {
      for (const table of taken) this.releaseTable(table);
      return refuse(Errno.EPERM, `page directory 0x${hex(physical)} is mapped writable through one of its tables`);
    }
    this.directories.add(frame);
    return ok;
  }

  /** One update of an entry in a pinned directory or a validated table. */
  update(pointer: number, value: number): GuardResult {
    if (pointer % 4 !== 0) return refuse(Errno.EINVAL, `entry address 0x${hex(pointer)} is not 4-byte aligned`);
    const frame = Math.floor(pointer / 4096);
    if (frame >= this.frames) return refuse(Errno.EINVAL, `entry address 0x${hex(pointer)} is outside guest RAM`);
    const old = this.entry(pointer);
    value >>>= 0;
    if (this.directories.has(frame)) {
      if (value & PRESENT) {
        const result = this.checkDirectoryEntry(value, frame);
        if (!result.ok) return result;
        this.useTable(value >>> 12);
      }
      if (old & PRESENT) this.releaseTable(old >>> 12);
    } else if (this.isTable(frame)) {
      if (value & PRESENT) {
        const result = this.checkTableEntry(value);
        if (!result.ok) return result;
        if (value & WRITABLE) this.writableMappings[value >>> 12]++;
      }
      if ((old & PRESENT) && (old & WRITABLE) && old >>> 12 < this.frames) this.writableMappings[old >>> 12]--;
    } else {
      return refuse(Errno.EINVAL, `0x${hex(pointer)} is not in a page table or directory the kernel has loaded`);
    }
    this.view.setUint32(pointer, value, true);
    this.written(frame);
    return ok;
  }

  private entry(physical: number): number {
    return this.view.getUint32(physical, true);
  }

  private checkDirectoryEntry(entry: number, directory: number): GuardResult {
    if (entry & LARGE_PAGE) return refuse(Errno.EINVAL, `directory entry 0x${hex(entry)} maps a 4 MiB page (only 4 KiB pages are validated)`);
    const table = entry >>> 12;
    if (table >= this.frames) return refuse(Errno.EINVAL, `directory entry 0x${hex(entry)} names a table outside guest RAM`);
    if (table === directory || this.directories.has(table)) return refuse(Errno.EPERM, `directory entry 0x${hex(entry)} names a page directory as its table`);
    if (this.tableUses[table] > 0) return ok;
    if (this.writableMappings[table] > 0) return refuse(Errno.EPERM, `page table 0x${hex(table * 4096)} is mapped writable`);
    for (let i = 0; i < ENTRIES; i++) {
      const pte = this.entry(table * 4096 + 4 * i);
      if (!(pte & PRESENT)) continue;
      const result = this.checkTableEntry(pte);
      if (!result.ok) return result;
      // A table that maps itself writable would be both.
      if ((pte & WRITABLE) && pte >>> 12 === table) return refuse(Errno.EPERM, `page table 0x${hex(table * 4096)} maps itself writable`);
    }
    return ok;
  }

  private checkTableEntry(entry: number): GuardResult {
    const frame = entry >>> 12;
    if (frame >= this.frames) return refuse(Errno.EINVAL, `entry 0x${hex(entry)} maps 0x${hex(frame * 4096)}, outside guest RAM`);
    if ((entry & WRITABLE) && (this.tableUses[frame] > 0 || this.directories.has(frame))) {
      return refuse(Errno.EPERM, `entry 0x${hex(entry)} would map the page table at 0x${hex(frame * 4096)} writable`);
    }
    return ok;
  }

  /** The table becomes (or stays) one more directory entry's table; its writable entries count from the first use. */
  private useTable(table: number): void {
    if (this.tableUses[table]++ > 0) return;
    for (let i = 0; i < ENTRIES; i++) {
      const pte = this.entry(table * 4096 + 4 * i);
      if ((pte & PRESENT) && (pte & WRITABLE)) this.writableMappings[pte >>> 12]++;
    }
  }

  private releaseTable(table: number): void {
    if (table >= this.frames || this.tableUses[table] === 0 || --this.tableUses[table] > 0) return;
    for (let i = 0; i < ENTRIES; i++) {
      const pte = this.entry(table * 4096 + 4 * i);
      if ((pte & PRESENT) && (pte & WRITABLE) && pte >>> 12 < this.frames) this.writableMappings[pte >>> 12]--;
    }
  }
}
