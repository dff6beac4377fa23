// The VGA's registers at ports 0x3B0-0x3DF (IBM VGA Technical Reference; FreeVGA), what its
// text modes need: the miscellaneous output register (written at 0x3C2, read at 0x3CC), input
// status 0 (0x3C2) and 1 (0x3DA or 0x3BA), the feature control register (read at 0x3CA, written
// at 0x3DA or 0x3BA), the sequencer (0x3C4/5), the graphics controller (0x3CE/F), the attribute
// controller (0x3C0/1), the CRT controller (0x3D4/5 or 0x3B4/5) and the DAC (0x3C6-0x3C9). Every
// register keeps and reads back what the part keeps.
//
// The miscellaneous output register's I/O address select (bit 0) puts the CRT controller, input
// status 1 and feature control at 0x3Dx (set, color) or 0x3Bx (clear, monochrome); the other
// block then does not answer (reads 0xFF, writes ignored), as in QEMU (vga_ioport_invalid) and
// Bochs. Ports of the 0x3C0-0x3CF block that are no register here (0x3C3, 0x3CB, 0x3CD) read 0,
// as in QEMU; the rest of the range reads 0xFF. Nothing answers while the PCI function's command
// register has I/O space off.
//
// Input status 1 does what QEMU's does (vga_dumb_retrace): each read toggles the vertical
// retrace (bit 3) and display enable (bit 0) bits, so a guest that waits for a retrace to begin
// or end, as BIOS code does, sees it at its next read; and it resets the attribute controller's
// flip-flop. The screen is read from guest RAM (text-screen.ts); the planes and what the
// graphics controller does to the CPU's accesses are not emulated (docs/vga.md).
import { readBytes, writeBytes } from '../byte-io.js';
import { checkSnapshotVersion, type Device, type DeviceSnapshot } from '../device.js';
import { AttributeController } from './attribute-controller.js';
import { Crtc } from './crtc.js';
import { Dac, type DacState } from './dac.js';
import { newGraphicsController } from './graphics-controller.js';
import type { IndexedRegisters } from './indexed-registers.js';
import { PciVga } from './pci-vga.js';
import { newSequencer } from './sequencer.js';
import { MISC_IO_ADDRESS_COLOR, readTextScreen, type Screen } from './text-screen.js';

const SNAPSHOT_VERSION = 1;

/** The device's ports, 0x3B0-0x3DF (layout.VGA_PORT), by offset. */
export const VGA_PORT_COUNT = 0x30;
const Port = {
  CRTC_INDEX_MONO: 0x04,
  CRTC_DATA_MONO: 0x05,
  STATUS1_MONO: 0x0a,
  ATTRIBUTE: 0x10,
  ATTRIBUTE_READ: 0x11,
  MISC_WRITE_STATUS0: 0x12,
  SEQUENCER_INDEX: 0x14,
  SEQUENCER_DATA: 0x15,
  PEL_MASK: 0x16,
  DAC_READ_INDEX_STATE: 0x17,
  DAC_WRITE_INDEX: 0x18,
  DAC_DATA: 0x19,
  FEATURE_READ: 0x1a,
  MISC_READ: 0x1c,
  GRAPHICS_INDEX: 0x1e,
  GRAPHICS_DATA: 0x1f,
  CRTC_INDEX_COLOR: 0x24,
  CRTC_DATA_COLOR: 0x25,
  STATUS1_COLOR: 0x2a,
} as const;
/** The 0x3C0-0x3CF block. */
const BLOCK_3C = 0x10;
const BLOCK_3D = 0x20;

/** Bit 4 of the miscellaneous output register is reserved (reads 0; QEMU masks it too). */
const MISC_WRITABLE = 0xef;
/** Feature control: FC0, FC1 and vertical sync select (bit 3) are kept. */
const FEATURE_WRITABLE = 0x0b;
/** Input status 1: display enable (bit 0), vertical retrace (bit 3). */
const STATUS1_TOGGLE = 0x09;

export class Vga implements Device {
  readonly name = 'vga';
  /** The PCI function the VGA is (its configuration space lives in the host bridge's snapshot). */
  readonly pci = new PciVga();
  private miscOutput = 0;
  private featureControl = 0;
  private status1 = 0;
  private readonly sequencer = newSequencer();
  private readonly graphics = newGraphicsController();
  private readonly crtc = new Crtc();
  private readonly attribute = new AttributeController();
  private readonly dac = new Dac();

  /** `ram`: guest RAM from physical 0, where the text is. */
  constructor(private readonly ram: Uint8Array) {}

  /** What the display shows now. */
  screen(): Screen {
    return readTextScreen(
      {
        miscOutput: this.miscOutput, sequencer: this.sequencer.values, graphics: this.graphics.values,
        crtc: this.crtc.values, attribute: this.attribute.values, attributeIndex: this.attribute.index,
      },
      this.ram,
    );
  }

  read(offset: number, size: number): number {
    return readBytes(offset, size, VGA_PORT_COUNT, (port) => this.readPort(port));
  }

  write(offset: number, size: number, value: number): void {
    writeBytes(offset, size, value, VGA_PORT_COUNT, (port, byte) => this.writePort(port, byte));
  }

  /** Whether `port` is in the block that the I/O address select turns off, or I/O is off. */
  private silent(port: number): boolean {
    if (!this.pci.decodesIo) return true;
    const color = (this.miscOutput & MISC_IO_ADDRESS_COLOR) !== 0;
    return color ? port < BLOCK_3C : port >= BLOCK_3D;
  }

  private readPort(port: number): number {
    if (this.silent(port)) return 0xff;
    switch (port) {
      case Port.CRTC_INDEX_MONO:
      case Port.CRTC_INDEX_COLOR:
        return this.crtc.index;
      case Port.CRTC_DATA_MONO:
      case Port.CRTC_DATA_COLOR:
        return this.crtc.read();
      case Port.STATUS1_MONO:
      case Port.STATUS1_COLOR:
        this.status1 ^= STATUS1_TOGGLE;
        this.attribute.resetFlipFlop();
        return this.status1;
      case Port.ATTRIBUTE:
        return this.attribute.readIndex();
      case Port.ATTRIBUTE_READ:
        return this.attribute.readData();
      case Port.MISC_WRITE_STATUS0:
        return 0; // input status 0: no retrace interrupt pending, switch sense 0
      case Port.SEQUENCER_INDEX:
        return this.sequencer.index;
      case Port.SEQUENCER_DATA:
        return this.sequencer.read();
      case Port.PEL_MASK:
        return this.dac.pelMask;
      case Port.DAC_READ_INDEX_STATE:
        return this.dac.status;
      case Port.DAC_WRITE_INDEX:
        return this.dac.writeAddress;
      case Port.DAC_DATA:
        return this.dac.readData();
      case Port.FEATURE_READ:
        return this.featureControl;
      case Port.MISC_READ:
        return this.miscOutput;
      case Port.GRAPHICS_INDEX:
        return this.graphics.index;
      case Port.GRAPHICS_DATA:
        return this.graphics.read();
      default:
        return port >= BLOCK_3C && port < BLOCK_3D ? 0 : 0xff;
    }
  }

  private writePort(port: number, value: number): void {
    if (this.silent(port)) return;
    switch (port) {
      case Port.CRTC_INDEX_MONO:
      case Port.CRTC_INDEX_COLOR:
        return this.crtc.writeIndex(value);
      case Port.CRTC_DATA_MONO:
      case Port.CRTC_DATA_COLOR:
        return this.crtc.write(value);
      case Port.STATUS1_MONO:
      case Port.STATUS1_COLOR:
        this.featureControl = value & FEATURE_WRITABLE;
        return;
      case Port.ATTRIBUTE:
        return this.attribute.write(value);
      case Port.MISC_WRITE_STATUS0:
        this.miscOutput = value & MISC_WRITABLE;
        return;
      case Port.SEQUENCER_INDEX:
        return this.sequencer.writeIndex(value);
      case Port.SEQUENCER_DATA:
        return this.sequencer.write(value);
      case Port.PEL_MASK:
        this.dac.pelMask = value;
        return;
      case Port.DAC_READ_INDEX_STATE:
        return this.dac.startRead(value);
      case Port.DAC_WRITE_INDEX:
        return this.dac.startWrite(value);
      case Port.DAC_DATA:
        return this.dac.writeData(value);
      case Port.GRAPHICS_INDEX:
        return this.graphics.writeIndex(value);
      case Port.GRAPHICS_DATA:
        return this.graphics.write(value);
      default:
        return; // read-only ports (0x3C1, 0x3CA, 0x3CC) and ports that are no register
    }
  }

  snapshot(): DeviceSnapshot {
    const registers = (r: IndexedRegisters) => ({ index: r.index, values: Array.from(r.values) });
    return {
      version: SNAPSHOT_VERSION,
      miscOutput: this.miscOutput,
      featureControl: this.featureControl,
      status1: this.status1,
      sequencer: registers(this.sequencer),
      graphics: registers(this.graphics),
      crtc: registers(this.crtc),
      attribute: { index: this.attribute.index, dataNext: this.attribute.dataNext, values: Array.from(this.attribute.values) },
      dac: this.dac.save(),
    };
  }

  restore(s: DeviceSnapshot): void {
    checkSnapshotVersion(this.name, SNAPSHOT_VERSION, s);
    type Registers = { index: number; values: number[] };
    this.miscOutput = s.miscOutput as number;
    this.featureControl = s.featureControl as number;
    this.status1 = s.status1 as number;
    for (const [registers, saved] of [
      [this.sequencer, s.sequencer],
      [this.graphics, s.graphics],
      [this.crtc, s.crtc],
    ] as [IndexedRegisters, Registers][]) {
      registers.restore(saved.index, saved.values);
    }
    const attribute = s.attribute as { index: number; dataNext: boolean; values: number[] };
    this.attribute.index = attribute.index;
    this.attribute.dataNext = attribute.dataNext;
    this.attribute.values.set(attribute.values);
    this.dac.load(s.dac as DacState);
  }
}
