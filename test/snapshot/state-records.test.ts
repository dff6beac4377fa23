// The machine-state stream's records: pages and zero flags survive a round trip however the
// bytes are split; a flipped byte, a wrong magic or a page beyond the machine is refused.
import { describe, expect, it } from 'vitest';
import {
  applyPages, encodeJson, encodePages, encodeRecord, PAGE_BYTES, ramPages, RecordReader, RecordType, STATE_MAGIC, StateStreamError,
} from '../../src/snapshot/state-records.js';

function machineRam(pages: number): Uint8Array {
  const ram = new Uint8Array(pages * PAGE_BYTES);
  for (const page of [1, 2, 7, pages - 1]) ram.fill(page + 1, page * PAGE_BYTES, page * PAGE_BYTES + 100);
  return ram;
}

function stream(ram: Uint8Array, omitZero: boolean): Buffer {
  const pages = Array.from({ length: ram.length / PAGE_BYTES }, (_, i) => i);
  return Buffer.concat([STATE_MAGIC, encodeJson(RecordType.hello, { x: 1 }), ...encodePages(ramPages(ram), pages, omitZero), encodeRecord(RecordType.end, new Uint8Array(0))]);
}

function readAll(bytes: Buffer, chunk: number, into: Uint8Array): RecordType[] {
  const reader = new RecordReader();
  const types: RecordType[] = [];
  for (let at = 0; at < bytes.length; at += chunk) {
    for (const record of reader.push(bytes.subarray(at, at + chunk))) {
      types.push(record.type);
      if (record.type === RecordType.pages) applyPages(record.payload, into);
    }
  }
  expect(reader.partial).toBe(false);
  return types;
}

describe('machine-state records', () => {
  it('a machine\'s pages come back the same however the stream is split, zero pages left out', () => {
    const ram = machineRam(600);
    const bytes = stream(ram, true);
    // Four pages are not zero: the stream holds them and little else.
    expect(bytes.length).toBeLessThan(5 * PAGE_BYTES);
    for (const chunk of [1, 7, 4096, 1 << 20]) {
      const into = new Uint8Array(ram.length);
      expect(readAll(bytes, chunk, into)).toEqual([RecordType.hello, RecordType.pages, RecordType.pages, RecordType.end]);
      expect(Buffer.from(into).equals(Buffer.from(ram))).toBe(true);
    }
  });

  it('a zero page sent as a flag clears the page it lands on', () => {
    const ram = machineRam(300);
    const into = new Uint8Array(ram.length).fill(0xee);
    const types = readAll(stream(ram, false), 1000, into);
    expect(types.filter((t) => t === RecordType.pages).length).toBe(2); // 256 pages a record
    expect(Buffer.from(into).equals(Buffer.from(ram))).toBe(true);
  });

  it('one flipped byte anywhere is found, and nothing after it is taken', () => {
    const ram = machineRam(64);
    const bytes = stream(ram, true);
    for (const at of [8, 9, 20, 200, bytes.length - 9, bytes.length - 1]) {
      const damaged = Buffer.from(bytes);
      damaged[at] ^= 0x10;
      expect(() => readAll(damaged, 512, new Uint8Array(ram.length)), `byte ${at}`).toThrow(StateStreamError);
    }
  });

  it('not a machine state, a page beyond the machine, and a cut stream', () => {
    expect(() => new RecordReader().push(Buffer.from('NOTSTATEdata'))).toThrow(/not a vmm machine state/);
    const ram = machineRam(64);
    expect(() => readAll(stream(ram, true), 512, new Uint8Array(8 * PAGE_BYTES))).toThrow(/names page 63, beyond the machine's 8/);
    const reader = new RecordReader();
    reader.push(stream(ram, true).subarray(0, 100));
    expect(reader.partial).toBe(true);
  });
});
