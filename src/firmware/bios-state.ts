// What a PC BIOS leaves behind when it hands the machine to a boot loader, for the guests `vmm`
// starts without firmware (its kernel loaders). Modelled on what SeaBIOS leaves under QEMU, read
// off `qemu-system-i386 -kernel` with SeaBIOS 1.16: the two 8259s initialised at vectors 08h and
// 70h with the IRQs it serves unmasked (master IMR B8h, slave 8Eh), and an IVT whose every entry
// leads into the BIOS: IRET for unused vectors, end-of-interrupt for the IRQs, a timer handler
// that counts ticks in the BIOS data area and calls INT 1Ch. A guest that sets IF in real mode,
// as kvm-unit-tests' realmode test does, takes the PIT's IRQ 0 as it would on a PC.
//
// The BIOS's services (video, disk, keyboard, ...) are not provided: their vectors lead to a stub
// that reports the call through the firmware call port, and the run ends with a message naming
// the service, instead of running whatever the empty IVT pointed at.
import { BDA_BASE, BiosDataArea } from './bios-data-area.js';

/** The BIOS's code segment, and where in it the handlers below sit (the top page of the ROM area). */
export const BIOS_SEGMENT = 0xf000;
export const BIOS_HANDLERS_OFFSET = 0xf000;

/** The port the service stubs write the vector to (Bochs's BIOS used 0x400-0x403 for its own messages). */
export const FIRMWARE_CALL_PORT = 0x401;

export const PIC_MASTER_VECTOR_BASE = 0x08;
export const PIC_SLAVE_VECTOR_BASE = 0x70;
/** IRQ 0 (timer), 1 (keyboard), 2 (cascade), 6 (floppy) unmasked. */
export const PIC_MASTER_MASK = 0xb8;
/** IRQ 8 (RTC), 12 (mouse), 13 (FPU), 14 (primary IDE) unmasked. */
export const PIC_SLAVE_MASK = 0x8e;

/** BIOS services by vector (Ralf Brown's interrupt list), for the message when one is called. */
export const BIOS_SERVICES: ReadonlyMap<number, string> = new Map([
  [0x10, 'video'],
  [0x11, 'equipment list'],
  [0x12, 'memory size'],
  [0x13, 'disk'],
  [0x14, 'serial port'],
  [0x15, 'system services'],
  [0x16, 'keyboard'],
  [0x17, 'printer'],
  [0x18, 'ROM BASIC (no bootable disk)'],
  [0x19, 'bootstrap loader'],
  [0x1a, 'time of day'],
  [0x40, 'floppy disk'],
]);

// The handlers, 16-bit real-mode code, assembled (nasm) from the source beside each.
const IRET = [0xcf]; // iret
const EOI_MASTER = [
  0x50, //             push ax
  0xb0, 0x20, //       mov al, 0x20          ; non-specific EOI (OCW2)
  0xe6, 0x20, //       out 0x20, al
  0x58, //             pop ax
  0xcf, //             iret
];
const EOI_SLAVE = [
  0x50, //             push ax
  0xb0, 0x20, //       mov al, 0x20
  0xe6, 0xa0, //       out 0xa0, al          ; the slave, then the master it cascades through
  0xe6, 0x20, //       out 0x20, al
  0x58, //             pop ax
  0xcf, //             iret
];
const TIMER = [
  0x1e, //                                     push ds
  0x50, //                                     push ax
  0x31, 0xc0, //                               xor ax, ax
  0x8e, 0xd8, //                               mov ds, ax
  0x66, 0xff, 0x06, 0x6c, 0x04, //             inc dword [0x46c]      ; ticks since midnight
  0x66, 0x81, 0x3e, 0x6c, 0x04, 0xb0, 0x00, 0x18, 0x00, // cmp dword [0x46c], 0x1800b0 ; 24 h of ticks
  0x72, 0x0e, //                               jb .tick
  0x66, 0xc7, 0x06, 0x6c, 0x04, 0x00, 0x00, 0x00, 0x00, // mov dword [0x46c], 0
  0xc6, 0x06, 0x70, 0x04, 0x01, //             mov byte [0x470], 1    ; midnight passed
  0xcd, 0x1c, //                       .tick:  int 0x1c               ; the user's tick hook
  0xb0, 0x20, //                               mov al, 0x20
  0xe6, 0x20, //                               out 0x20, al
  0x58, //                                     pop ax
  0x1f, //                                     pop ds
  0xcf, //                                     iret
];
/** A service stub: the vector goes to the firmware call port; the VMM ends the run there. */
function serviceStub(vector: number): number[] {
  return [
    0x50, //                       push ax
    0x52, //                       push dx
    0xb0, vector, //               mov al, vector
    0xba, FIRMWARE_CALL_PORT & 0xff, FIRMWARE_CALL_PORT >> 8, // mov dx, FIRMWARE_CALL_PORT
    0xee, //                       out dx, al
    0x5a, //                       pop dx
    0x58, //                       pop ax
    0xcf, //                       iret
  ];
}
/** Bytes the service stub pushed before its OUT: the caller's interrupt frame lies above them. */
export const SERVICE_STUB_PUSHED_BYTES = 4;

export interface BiosStateOptions {
  /** Conventional memory below the EBDA, in KiB (the BDA's base memory size). */
  baseMemoryKiB: number;
  /** The EBDA's segment (its first paragraph). */
  ebdaSegment: number;
  /** The COM1 port, for the BDA's serial port table. */
  com1Port: number;
  /** Wall-clock time at power-on, in ms since the epoch, for the BDA's tick count. */
  startTime: number;
  /** Writes a byte to an I/O port: the 8259s are programmed through their ports, as the BIOS does. */
  writePort(port: number, value: number): void;
}

/**
 * Leaves RAM and the interrupt controllers as the BIOS would: the handlers in the ROM area, the
 * IVT pointing at them, the BIOS data area, and the 8259s initialised and masked.
 */
export function leaveBiosState(ram: Uint8Array, options: BiosStateOptions): void {
  const rom = BIOS_SEGMENT * 16 + BIOS_HANDLERS_OFFSET;
  let at = 0;
  const place = (code: number[]): number => {
    const offset = BIOS_HANDLERS_OFFSET + at;
    ram.set(code, rom + at);
    at += code.length;
    return offset;
  };
  const iret = place(IRET);
  const eoiMaster = place(EOI_MASTER);
  const eoiSlave = place(EOI_SLAVE);
  const timer = place(TIMER);
  const ivt = new DataView(ram.buffer, ram.byteOffset, 0x400);
  const setVector = (vector: number, offset: number) => {
    ivt.setUint16(vector * 4, offset, true);
    ivt.setUint16(vector * 4 + 2, BIOS_SEGMENT, true);
  };
  for (let vector = 0; vector < 256; vector++) setVector(vector, iret);
  for (let irq = 0; irq < 8; irq++) {
    setVector(PIC_MASTER_VECTOR_BASE + irq, eoiMaster);
    setVector(PIC_SLAVE_VECTOR_BASE + irq, eoiSlave);
  }
  setVector(PIC_MASTER_VECTOR_BASE, timer);
  for (const vector of BIOS_SERVICES.keys()) setVector(vector, place(serviceStub(vector)));

  new BiosDataArea(ram.subarray(BDA_BASE, BDA_BASE + 0x100)).fill(options);

  // SeaBIOS's pic_reset: ICW1 (edge, cascade, ICW4), ICW2 (vector base), ICW3 (slave on IR2),
  // ICW4 (8086 mode), then OCW1 (the mask).
  const program = (command: number, data: number, base: number, cascade: number, mask: number) => {
    options.writePort(command, 0x11);
    options.writePort(data, base);
    options.writePort(data, cascade);
    options.writePort(data, 0x01);
    options.writePort(data, mask);
  };
  program(0x20, 0x21, PIC_MASTER_VECTOR_BASE, 0x04, PIC_MASTER_MASK);
  program(0xa0, 0xa1, PIC_SLAVE_VECTOR_BASE, 0x02, PIC_SLAVE_MASK);
}
