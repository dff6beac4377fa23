// Snapshot files: a paused machine's whole state in the machine-state format (state-records.ts),
// written to a temporary name and renamed, so that a file under the name is always whole.
import { closeSync, openSync, readSync, renameSync, unlinkSync, writeSync } from 'node:fs';
import type { Engine } from '../vmm/engine.js';
import type { Machine } from '../vmm/machine.js';
import { encodeState, hello, type MachineState, type StateHello } from './machine-state.js';
import { encodeJson, encodePages, encodeRecord, PAGE_BYTES, ramPages, RecordReader, RecordType, STATE_MAGIC, StateStreamError } from './state-records.js';
import { StateReceiver } from './state-receiver.js';

export interface SnapshotWritten {
  bytes: number;
  /** Pages written: those not all zero. */
  pages: number;
  seconds: number;
}

/** The records of a whole machine, in order: a snapshot file's, or a stop-and-copy's. */
export function* wholeMachineRecords(machine: Machine, engine: Engine, state: MachineState, pages: Iterable<number> | 'all'): Generator<Buffer> {
  yield STATE_MAGIC;
  yield encodeJson(RecordType.hello, hello(machine, engine));
  const all = pages === 'all';
  const numbers = all ? Array.from({ length: machine.ram.length / PAGE_BYTES }, (_, i) => i) : pages;
  yield* encodePages(ramPages(machine.ram), numbers, all, machine.vcpu.zeroPageMap());
  yield encodeRecord(RecordType.state, encodeState(state));
  yield encodeRecord(RecordType.end, new Uint8Array(0));
}

/** Saves a paused machine, whose `state` was just taken, to `path`. Throws a file system error. */
export function writeSnapshot(path: string, machine: Machine, engine: Engine, state: MachineState): SnapshotWritten {
  const started = process.hrtime.bigint();
  const temporary = `${path}.${process.pid}.partial`;
  const fd = openSync(temporary, 'w', 0o600);
  let bytes = 0;
  let pages = 0;
  try {
    for (const chunk of wholeMachineRecords(machine, engine, state, 'all')) {
      if (chunk[0] === RecordType.pages) pages += chunk.readUInt32LE(5);
      for (let at = 0; at < chunk.length; ) at += writeSync(fd, chunk, at);
      bytes += chunk.length;
    }
    closeSync(fd);
    renameSync(temporary, path);
  } catch (error) {
    try {
      closeSync(fd);
    } catch {
      // already closed
    }
    try {
      unlinkSync(temporary);
    } catch {
      // nothing to remove
    }
    throw error;
  }
  return { bytes, pages, seconds: Number(process.hrtime.bigint() - started) / 1e9 };
}

const READ_CHUNK_BYTES = 1 << 20;

/**
 * Reads a snapshot into a machine that `build` makes from its header. Throws StateStreamError
 * (damaged, cut short, another format), MachineStateError, or a file system error.
 */
export function readSnapshot(path: string, build: (hello: StateHello) => Machine, pagesRead?: (count: number) => void): Machine {
  const fd = openSync(path, 'r');
  const reader = new RecordReader();
  const receiver = new StateReceiver(build);
  try {
    const chunk = Buffer.allocUnsafe(READ_CHUNK_BYTES);
    for (;;) {
      const read = readSync(fd, chunk, 0, chunk.length, null);
      if (read === 0) break;
      // (The reader copies what it keeps: the chunk is read into again.)
      for (const record of reader.push(chunk.subarray(0, read))) receiver.accept(record);
    }
    if (reader.partial && receiver.ended) throw new StateStreamError('the machine state goes on after its end');
    const machine = receiver.finish();
    pagesRead?.(receiver.pagesReceived);
    return machine;
  } catch (error) {
    receiver.machine?.close();
    throw error;
  } finally {
    closeSync(fd);
  }
}
