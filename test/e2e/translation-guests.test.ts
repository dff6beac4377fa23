// The guests that check what a binary translator must preserve (guests/README.md): self-modifying
// and remapped code (guests/selfmod), exception frames, interrupt frames and return addresses
// that hold the guest's own addresses (guests/frames), and flat code with segments that are not
// flat: a 16-bit stack, far calls (guests/segments). Every registered engine must print exactly
// what qemu-system-i386 -m 64 prints for them and exit with value 0 (a new engine joins by being
// registered).
import { describe, expect, it } from 'vitest';
import { unmodifiedGuestEngines } from '../../src/engines/index.js';
import { guestPath, runVmm } from './run-vmm.js';

/** Image, what it prints, whether kernel code must run in place (under bt, with the block hook). */
const EXPECTED: [string, string, boolean][] = [
  [
    'selfmod.elf',
    'same-page smc: 1000 patches, sum 0xbebeb714\n' +
      'cross-page smc: 1000 patches, sum 0x02e54d74\n' +
      'remap: 1 2 3\n' +
      'straddle: 0x33221144 0xccbbaa45\n' +
      'straddle fault: cr2 ok eip ok\n' +
      'straddle resumed: 0x33221144\n' +
      'alias patch: 0x00000007 0x33551144\n' +
      'one page, two routines patched: 100 of 100 rounds right\n' +
      'selfmod ok\n',
    false,
  ],
  [
    'frames.elf',
    'de eip ok\n' +
      'int3 eip ok\n' +
      'pf eip ok\n' +
      'return addresses ok\n' +
      'timer eips ok: 20 ticks in loop\n' +
      'rep movsd fault: ecx 1792 esi ok edi ok\n' +
      'copy ok\n' +
      'frames ok\n',
    false,
  ],
  [
    'segments.elf',
    'segments: 16-bit stack: near calls returned 0x00003333, esp 0x5a5a8000\n' +
      'segments: far call into a based code segment returned 0x00003333, through a pointer into the flat one 0x00004444\n' +
      'segments: push ss, pop ss: the stack goes on: 0x00005eed\n' +
      'segments ok\n',
    true,
  ],
];

describe.each(unmodifiedGuestEngines)('translation guests under %s', (engine) => {
  it.each(EXPECTED)('%s prints what it prints under QEMU and exits with value 0', (image, stdout, inPlace) => {
    const run = runVmm(['boot', guestPath(image), '--engine', engine, '-m', '64', '--no-stdin', '--time-limit', '30']);
    expect(run.stderr).toMatch(new RegExp(`engine=${engine} `));
    expect(run.stdout).toBe(stdout);
    expect(run.stderr).toMatch(/debug-exit port with value 0x0 \(status 1\)/);
    expect(run.status).toBe(1);
    // A translating engine sends every kernel entry to its cache itself: code written, remapped or
    // unmapped under a straddling instruction needs no block hook. Code on a 16-bit stack, or
    // reached by a far CALL, runs in place: the hook is installed and the report says so.
    expect(run.stderr).not.toMatch(/bt-escapes=/);
    if (!inPlace) expect(run.stderr).not.toMatch(/bt-block-hook=/);
    else if (engine === 'bt') expect(run.stderr).toMatch(/^vmm: equivalence: \d+ guest kernel block\(s\) ran untranslated/m);
  });
});
