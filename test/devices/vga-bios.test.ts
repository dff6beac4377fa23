// The VGA BIOS (SeaVGABIOS from Debian's seabios package) with this VGA: a boot sector does what
// SeaBIOS does with the option ROM it finds in fw_cfg as pci1234,1111.rom, runs its
// initialisation, sets mode 3 through INT 10h and prints through it. What the screen then shows
// is the BIOS's work on the VGA's registers: the mode's geometry, the cursor after the text.
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { planImage } from '../../src/boot/detect.js';
import { DirectEngine } from '../../src/engines/direct.js';
import { screenText } from '../../src/devices/vga/text-dump.js';
import { readVgaBios, VGA_BIOS_PATH, VgaBiosError, whyNotVgaBios } from '../../src/firmware/vga-bios.js';
import { Machine } from '../../src/vmm/machine.js';
import { runMachine } from '../../src/vmm/run-loop.js';
import { ROOT } from '../e2e/run-vmm.js';

let machine: Machine | undefined;
afterEach(() => machine?.close());

describe.runIf(existsSync(VGA_BIOS_PATH))('SeaVGABIOS on this VGA', () => {
  it('initialises from fw_cfg, sets mode 3 and prints through INT 10h', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'vmm-vga-bios-'));
    execFileSync('nasm', ['-f', 'bin', '-o', join(dir, 'boot.bin'), join(ROOT, 'test/devices/vga-bios-boot.asm')]);
    const ramSize = 16 << 20;
    const plan = planImage(new Uint8Array(readFileSync(join(dir, 'boot.bin'))), { ramSize, format: 'bootsector' });
    const output: number[] = [];
    machine = new Machine({ ramBytes: ramSize, consoleOutput: (byte) => output.push(byte), vga: true, vgaBios: readVgaBios() });
    machine.load(plan);
    // The text mode a direct boot starts in is the BIOS's to replace: scribble on the screen first.
    machine.ram.fill(0x41, 0xb8000, 0xb8000 + 4000);
    const result = await runMachine(machine, new DirectEngine(), { timeLimitSeconds: 20, maxExits: Infinity });
    expect(result.outcome).toMatchObject({ kind: 'debug-exit', status: 1 });
    const screen = machine.vga!.screen();
    if (screen.kind !== 'text') throw new Error(`the screen is ${screen.kind}`);
    expect([screen.columns, screen.rows]).toEqual([80, 25]);
    expect(screen.cursor).toEqual({ row: 0, column: 11, visible: true });
    const lines = screenText(screen).split('\n');
    expect(lines[0]).toBe('VGA BIOS OK');
    expect(lines.slice(1).every((line) => line === '')).toBe(true); // the mode set cleared the rest
    expect(screen.cells[0] >> 8).toBe(0x07); // light grey on black
  });

  it('is checked before it is offered: the signature, the size, the PCI IDs', () => {
    const rom = readVgaBios();
    expect(whyNotVgaBios(rom)).toBeUndefined();
    const other = rom.slice();
    const pcir = other[0x18] | (other[0x19] << 8);
    other[pcir + 6] = 0xb8; // device 0x00b8: Cirrus's
    other[pcir + 7] = 0x00;
    expect(whyNotVgaBios(other)).toBe('it is for PCI 1234:00b8, not 1234:1111');
    expect(whyNotVgaBios(rom.subarray(0, 512))).toMatch(/its header says \d+ bytes, and the file has 512/);
    expect(() => readVgaBios(join(tmpdir(), 'no-such-vgabios.bin'))).toThrow(VgaBiosError);
  });
});
