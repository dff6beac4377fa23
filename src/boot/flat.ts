// A raw binary with no header: the user says where it goes and where it
// starts. 16-bit images run in real mode, 32-bit ones in flat protected mode.

import { hex } from './bytes.js';
import { LoadError, type LoadPlan } from './load-plan.js';
import {
  checkPlacement,
  checkRamSize,
  formatRange,
  MiB,
  rangeOf,
  requireU32Option,
  type PhysRange,
} from './memory.js';
import { flatProtectedModeState, INITIAL_EFLAGS, INITIAL_STACK_TOP } from './protected-mode.js';

export interface FlatOptions {
  loadAddress: number;
  /** Physical entry address; defaults to the load address. */
  entry?: number;
  bits: 16 | 32;
  ramSize: number;
}

/** Real mode reaches at most FFFF:FFFF; with our CS rule the top is F000:FFFF. */
const REAL_MODE_LIMIT = 1 * MiB;

/**
 * Real-mode CS:IP for a physical entry address below 1 MiB: CS is the 64 KiB
 * block holding the entry (CS = (entry >> 16) << 12) and IP is the offset in
 * that block, so IP always fits in 16 bits and CS is the same for every entry
 * in the block. An entry below 64 KiB gets CS = 0, as for a boot sector.
 */
export function realModeEntry(entry: number): { cs: number; ip: number } {
  return { cs: (entry >>> 16) << 12, ip: entry & 0xffff };
}

function formatSegOff(cs: number, ip: number): string {
  const h4 = (v: number) => v.toString(16).padStart(4, '0');
  return `${h4(cs)}:${h4(ip)}`;
}

export function planFlat(image: Uint8Array, opts: FlatOptions): LoadPlan {
  checkRamSize(opts.ramSize);
  if (image.length === 0) throw new LoadError('empty', 'image is empty');
  const loadAddress = requireU32Option(opts.loadAddress, 'load address');
  const entry = requireU32Option(opts.entry ?? loadAddress, 'entry point');
  if (opts.bits !== 16 && opts.bits !== 32) {
    throw new LoadError('unsupported', `flat images are 16-bit or 32-bit (got ${String(opts.bits)})`);
  }
  const payload: PhysRange = { start: loadAddress, end: loadAddress + image.length, what: 'image' };
  if (entry < payload.start || entry >= payload.end) {
    throw new LoadError(
      'unsupported',
      `entry point ${hex(entry)} is outside the image, which is loaded at ${formatRange(payload)}`,
    );
  }
  const chunks = [{ guestPhys: loadAddress, bytes: image }];
  const size = `${image.length} bytes at ${hex(loadAddress)}`;

  if (opts.bits === 16) {
    checkPlacement({ ramSize: opts.ramSize, subject: 'image', payload: [payload], reserved: [] });
    if (payload.end > REAL_MODE_LIMIT) {
      throw new LoadError(
        'unsupported',
        `a 16-bit image must lie below 1 MiB, where real mode can reach it; this one ends at ${hex(payload.end - 1)}`,
      );
    }
    const { cs, ip } = realModeEntry(entry);
    return {
      format: 'flat',
      description: `flat 16-bit binary, ${size}, entry ${formatSegOff(cs, ip)}`,
      cpuMode: 'real16',
      chunks,
      zeroRanges: [],
      entry: { cs, eip: ip },
      // Data segments equal CS so the image addresses its data like its code;
      // the stack is the boot-sector one (0000:7C00) until the guest sets its own.
      registers: { esp: INITIAL_STACK_TOP, eflags: INITIAL_EFLAGS },
      segments: { ds: cs, es: cs, ss: 0, fs: cs, gs: cs },
      reserved: [],
    };
  }

  const pm = flatProtectedModeState(entry);
  checkPlacement({ ramSize: opts.ramSize, subject: 'image', payload: [payload], reserved: [rangeOf(pm.gdtReserved)] });
  return {
    format: 'flat',
    description: `flat 32-bit binary, ${size}, entry ${hex(entry)}`,
    cpuMode: pm.cpuMode,
    chunks: [...chunks, pm.gdtChunk],
    zeroRanges: [],
    entry: pm.entry,
    registers: pm.registers,
    segments: pm.segments,
    gdt: pm.gdt,
    reserved: [pm.gdtReserved],
  };
}
