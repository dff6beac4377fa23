// The dirty log (KVM_GET_DIRTY_LOG semantics) on the trap engine's shadow MMU: the pages a guest
// wrote since the last read, exactly, and a fresh start after each read.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, expect, it } from 'vitest';
import { planImage } from '../../src/boot/detect.js';
import { TrapEngine } from '../../src/engines/trap/trap-engine.js';
import { decodeExit } from '../../src/vmm/exit-record.js';
import { Machine } from '../../src/vmm/machine.js';
import { ROOT } from '../e2e/run-vmm.js';
import { GUARD_SLICE_MICROS } from '../native/run-guard.js';

let machine: Machine | undefined;
afterEach(() => machine?.close());

function dirtyPages(log: Uint8Array): number[] {
  const pages: number[] = [];
  log.forEach((byte, i) => {
    for (let bit = 0; bit < 8; bit++) if (byte & (1 << bit)) pages.push((i * 8 + bit) << 12);
  });
  return pages;
}

it('reports exactly the pages written since the last read', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'vmm-dirty-'));
  execFileSync('nasm', ['-f', 'bin', '-o', join(dir, 'dirty.bin'), join(ROOT, 'test/engines/dirty.asm')]);
  const ramSize = 16 << 20;
  const plan = planImage(new Uint8Array(readFileSync(join(dir, 'dirty.bin'))), { ramSize, format: 'flat', flat: { loadAddress: 0x100000, bits: 32 } });
  machine = new Machine({ ramBytes: ramSize, consoleOutput: () => {}, engineCore: 'trap' });
  machine.load(plan);
  const engine = new TrapEngine();
  await engine.prepare();
  engine.beforeRun(machine);
  const vcpu = machine.vcpu;
  vcpu.setDirtyLogging(true);
  vcpu.takeDirtyLog();
  const record = new Uint32Array(vcpu.exitRecord);
  const runToHalt = () => {
    for (;;) {
      const exit = decodeExit(vcpu.run(GUARD_SLICE_MICROS), record);
      if (exit.kind === 'timeslice') throw new Error(`the guest did not halt; it runs at ${exit.eip.toString(16)}`);
      if (exit.kind !== 'exception') continue;
      const handled = engine.handleException(exit, vcpu, machine!);
      if (handled.kind === 'halt') return;
      expect(handled.kind).toBe('resume');
    }
  };
  runToHalt();
  expect(dirtyPages(vcpu.takeDirtyLog())).toEqual([0x200000, 0x203000, 0x207000]);
  expect(dirtyPages(vcpu.takeDirtyLog())).toEqual([]);
  runToHalt();
  expect(dirtyPages(vcpu.takeDirtyLog())).toEqual([0x203000, 0x300000]);
  expect(vcpu.trap?.counters().dirtyLogFaults).toBe(5);
});
