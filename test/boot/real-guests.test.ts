// The loaders against the sample guests from guests/ (built separately with
// `npm run build:guests`); skipped when a guest has not been built.
import { existsSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { planImage } from '../../src/boot/detect.js';
import { parseElf32 } from '../../src/boot/elf32.js';

const guest = (name: string) => fileURLToPath(new URL(`../../guests/build/${name}`, import.meta.url));
const multibootElf = guest('multiboot.elf');
const aoutKernel = guest('multiboot-aout.bin');
const bootSector = guest('bootsector.bin');
const ramSize = 32 << 20;

describe('sample guests', () => {
  it.skipIf(!existsSync(multibootElf))('multiboot.elf is a multiboot ELF kernel entered at or above 1 MiB', () => {
    const image = new Uint8Array(readFileSync(multibootElf));
    const plan = planImage(image, { ramSize, cmdline: 'exit=21' });
    expect(plan.format).toBe('multiboot');
    expect(plan.description).toMatch(/^multiboot ELF kernel, entry 0x[0-9a-f]+$/);
    expect(plan.entry.eip).toBeGreaterThanOrEqual(0x100000);
    expect(plan.registers.eax).toBe(0x2badb002);
    // Its symbols resolve the entry point for a tracer.
    const symbols = parseElf32(image).symbols();
    if (symbols.length > 0) expect(symbols.some((s) => s.address === parseElf32(image).header.entry)).toBe(true);
  });

  it.skipIf(!existsSync(aoutKernel))('multiboot-aout.bin loads through the a.out kludge with a bss', () => {
    const plan = planImage(new Uint8Array(readFileSync(aoutKernel)), { ramSize });
    expect(plan.description).toMatch(/^multiboot a\.out-kludge kernel, entry 0x/);
    expect(plan.entry.eip).toBeGreaterThanOrEqual(0x100000);
    expect(plan.zeroRanges.length).toBe(1);
  });

  it.skipIf(!existsSync(bootSector))('bootsector.bin is a boot sector', () => {
    expect(planImage(new Uint8Array(readFileSync(bootSector)), { ramSize }).format).toBe('bootsector');
  });
});
