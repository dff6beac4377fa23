// The dirty log of a vCPU without shadow page tables (native/src/content-dirty-log.h): pages that
// differ from what was read for a copy, which catches a word that goes 0, 1, 0 around the read.
import { describe, expect, it } from 'vitest';
import { dirtyPages } from '../../src/migration/migration-source.js';
import { Machine } from '../../src/vmm/machine.js';

const PAGE = 4096;

describe('dirty log under direct', () => {
  it('names the pages that differ from what was read, until they are read again', () => {
    const machine = new Machine({ ramBytes: 16 << 20, consoleOutput: () => {} });
    try {
      const vcpu = machine.vcpu;
      machine.ram.fill(0); // the new machine's firmware tables: nothing is there to compare with
      vcpu.setDirtyLogging(true);
      expect(dirtyPages(vcpu.takeDirtyLog(true))).toEqual([]);
      machine.ram[5 * PAGE + 9] = 1;
      machine.ram[300 * PAGE] = 2;
      expect(dirtyPages(vcpu.takeDirtyLog(true))).toEqual([5, 300]);
      // Taken without a read: still dirty (nothing was copied anywhere).
      expect(dirtyPages(vcpu.takeDirtyLog(true))).toEqual([5, 300]);
      const read = vcpu.readPages(Uint32Array.from([5, 300]));
      expect(read[9]).toBe(1);
      expect(read[PAGE]).toBe(2);
      expect(dirtyPages(vcpu.takeDirtyLog(true))).toEqual([]);
      // 1 was read; the word goes back to 0 before the next take: differs from the copy.
      machine.ram[5 * PAGE + 9] = 0;
      expect(dirtyPages(vcpu.takeDirtyLog(true))).toEqual([5]);
      // A log taken for itself follows RAM: then the page is clean.
      expect(dirtyPages(vcpu.takeDirtyLog())).toEqual([5]);
      expect(dirtyPages(vcpu.takeDirtyLog())).toEqual([]);
    } finally {
      machine.close();
    }
  });

  it('zeroPageMap sets a bit for each page that is all zero', () => {
    const machine = new Machine({ ramBytes: 16 << 20, consoleOutput: () => {} });
    try {
      machine.vcpu.clearRam();
      machine.ram[3 * PAGE + 4095] = 7;
      const map = machine.vcpu.zeroPageMap();
      const nonZero = [];
      for (let page = 0; page < (16 << 20) / PAGE; page++) if (!(map[page >> 3] & (1 << (page & 7)))) nonZero.push(page);
      expect(nonZero).toEqual([3]);
    } finally {
      machine.close();
    }
  });
});
