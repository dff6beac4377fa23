// The length decoder against Capstone: on every instruction of real compiled code (memtest86+'s
// 32-bit image and the sample guests) and on random byte strings, wherever both decode, the
// lengths agree; on real code the length decoder knows nearly every instruction, so the Capstone
// fallback stays rare.
import { existsSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { beforeAll, describe, expect, it } from 'vitest';
import { Decoder } from '../../src/decode/decoder.js';
import { instructionLength } from '../../src/decode/length.js';

const file = (path: string) => fileURLToPath(new URL(`../../${path}`, import.meta.url));
const memtest = file('guests/images/memtest86+ia32.bin');

let decoder: Decoder;
beforeAll(async () => {
  decoder = await Decoder.create();
});

interface Comparison {
  compared: number;
  unknown: number;
  disagreements: string[];
}

function compareAt(code: Uint8Array, offset: number, bits: 16 | 32, result: Comparison): number {
  const window = code.subarray(offset, offset + 16);
  const reference = decoder.decode(bits, offset, window);
  const ours = instructionLength(window, bits);
  if (reference.mnemonic === '(bad)') return 1;
  if (ours === undefined) result.unknown++;
  else {
    result.compared++;
    if (ours !== reference.size && result.disagreements.length < 10) {
      result.disagreements.push(`${Buffer.from(window.subarray(0, reference.size)).toString('hex')} (${reference.text}): ${ours} != ${reference.size}`);
    }
  }
  return reference.size;
}

/** Walks code linearly from its start, instruction by instruction, as Capstone decodes it. */
function sweep(code: Uint8Array, bits: 16 | 32): Comparison {
  const result: Comparison = { compared: 0, unknown: 0, disagreements: [] };
  for (let offset = 0; offset < code.length - 16; ) offset += compareAt(code, offset, bits, result);
  return result;
}

describe('instruction lengths', () => {
  it.skipIf(!existsSync(memtest))("agree with Capstone on memtest86+'s code and know nearly all of it", () => {
    const result = sweep(new Uint8Array(readFileSync(memtest)), 32);
    expect(result.disagreements).toEqual([]);
    expect(result.compared).toBeGreaterThan(30_000);
    expect(result.unknown / (result.compared + result.unknown)).toBeLessThan(0.01);
  });

  it.each(['guests/build/compute.elf', 'guests/build/paging.elf', 'guests/build/popf.elf'])('agree with Capstone on %s', (path) => {
    const result = sweep(new Uint8Array(readFileSync(file(path))), 32);
    expect(result.disagreements).toEqual([]);
    expect(result.compared).toBeGreaterThan(100);
  });

  it.each([16, 32] as const)('agree with Capstone on random byte strings in %i-bit code', (bits) => {
    // A fixed-seed generator (xorshift32): the same strings on every run.
    let seed = 0x9e3779b9;
    const next = () => {
      seed ^= seed << 13;
      seed ^= seed >>> 17;
      seed ^= seed << 5;
      return seed >>> 0;
    };
    const result: Comparison = { compared: 0, unknown: 0, disagreements: [] };
    const code = new Uint8Array(32);
    for (let i = 0; i < 20_000; i++) {
      for (let j = 0; j < code.length; j += 4) new DataView(code.buffer).setUint32(j, next());
      compareAt(code, 0, bits, result);
    }
    expect(result.disagreements).toEqual([]);
    expect(result.compared).toBeGreaterThan(15_000);
  });

  it('gives undefined for VEX-encoded and truncated instructions', () => {
    expect(instructionLength(Uint8Array.from([0xc5, 0xf8, 0x77]), 32)).toBeUndefined(); // vzeroupper
    expect(instructionLength(Uint8Array.from([0xb8, 0x01, 0x02]), 32)).toBeUndefined(); // mov eax, imm32 cut short
    expect(instructionLength(Uint8Array.from([0xc5, 0x06]), 32)).toBe(2); // lds eax, [esi]
  });
});
