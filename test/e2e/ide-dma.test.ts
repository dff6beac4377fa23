// A disk read by bus master DMA over code the guest has run, under every engine: the CPU must
// run what the disk brought, not what it translated before.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { unmodifiedGuestEngines } from '../../src/engines/index.js';
import { ROOT, runVmm } from './run-vmm.js';

const dir = mkdtempSync(join(tmpdir(), 'vmm-ide-dma-'));
const guest = join(dir, 'ide-dma-code.bin');
execFileSync('nasm', ['-f', 'bin', '-o', guest, join(ROOT, 'test/e2e/ide-dma-code.asm')]);
// Sector 0: mov eax, 2 ; ret
const disk = join(dir, 'code.img');
writeFileSync(disk, Buffer.concat([Buffer.from([0xb8, 0x02, 0x00, 0x00, 0x00, 0xc3]), Buffer.alloc(4096 - 6)]));

describe.each(unmodifiedGuestEngines)('IDE DMA under %s', (engine) => {
  it('replaces code the CPU has run, reached through a mapping elsewhere, and the guest runs the new code', () => {
    const run = runVmm(['boot', guest, '--format', 'flat', '--load-address', '0x100000', '-e', engine, '--no-stdin', '--time-limit', '20', '--drive', `file=${disk},format=raw`]);
    expect(run.stderr).toMatch(/debug-exit port with value 0x2 \(status 5\)/);
    expect(run.status).toBe(5);
  });
});
