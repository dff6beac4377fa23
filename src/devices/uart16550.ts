// A 16550A UART (National Semiconductor PC16550D datasheet): the registers at offsets 0-7, the
// divisor latch, 16-byte receive FIFO, interrupt identification with the datasheet's priorities,
// loopback mode, and OUT2 gating the interrupt line as on a PC's serial card.
// Transmission is instantaneous: THR is always empty, so THRE and TEMT always read as set.
//
// Host input (the user's keys, a pipe) reaches the receiver only while the guest has it ready:
// the received-data interrupt or the FIFO enabled, or the guest polling LSR (two LSR reads in a
// row with no other UART access between: a polled receive loop, as memtest86+ has; a transmit
// loop writes THR after each LSR read). Until then it waits in the host queue, and bytes the
// guest has not read go back to that queue when it clears or resets the FIFO, enters loopback
// or makes the receiver not ready again. On a real line they would be lost, but here they are
// what the user typed before the guest was listening: Linux's 8250 driver clears the FIFO and
// reads RBR blindly while it starts up.
import { checkSnapshotVersion, noIrq, type Device, type DeviceSnapshot, type IrqLine } from './device.js';

const IER_RDA = 0x01;
const IER_THRE = 0x02;
const IER_RLS = 0x04;
const IER_MSR = 0x08;

const IIR_NONE = 0x01;
const IIR_MSR = 0x00;
const IIR_THRE = 0x02;
const IIR_RDA = 0x04;
const IIR_RLS = 0x06;
const IIR_TIMEOUT = 0x0c;
const IIR_FIFO_ENABLED = 0xc0;

const LCR_DLAB = 0x80;
const LSR_DR = 0x01;
const LSR_OE = 0x02;
const LSR_THRE = 0x20;
const LSR_TEMT = 0x40;
const MCR_DTR = 0x01;
const MCR_RTS = 0x02;
const MCR_OUT1 = 0x04;
const MCR_OUT2 = 0x08;
const MCR_LOOP = 0x10;
const FCR_ENABLE = 0x01;
const FCR_CLEAR_RX = 0x02;

const FIFO_DEPTH = 16;
const TRIGGER_LEVELS = [1, 4, 8, 14];
const SNAPSHOT_VERSION = 2;
/** LSR reads in a row that mark a polled receiver. */
const POLLED_LSR_READS = 2;

export class Uart16550 implements Device {
  private rbrFifo: number[] = [];
  /** Host input not yet in the FIFO: held back rather than overrun, so pasted input survives. */
  private hostQueue: number[] = [];
  /** How many bytes at the end of rbrFifo came from the host queue (loopback bytes come first). */
  private hostInFifo = 0;
  /** LSR reads since the last access to another register. */
  private lsrReadsInRow = 0;
  /** The guest polls LSR for input (see the top of the file); cleared when it reconfigures. */
  private polling = false;
  private ier = 0;
  private lcr = 0x03;
  private mcr = 0;
  private lsrErrors = 0;
  private msrDeltas = 0;
  private scr = 0;
  private fcr = 0;
  private divisor = 12; // 9600 baud, as a BIOS leaves it
  private thrEmptyPending = true;
  private irqLevel = false;
  bytesTransmitted = 0;

  constructor(
    readonly name: string,
    private readonly output: (byte: number) => void,
    private readonly irq: IrqLine = noIrq,
  ) {}

  /** Bytes from the host side of the line (the user's keyboard, a pipe). */
  receive(bytes: Uint8Array): void {
    for (const b of bytes) this.hostQueue.push(b);
    this.refillFifo();
    this.updateIrq();
  }

  get pendingInput(): number {
    return this.rbrFifo.length + this.hostQueue.length;
  }

  private get fifoEnabled(): boolean {
    return (this.fcr & FCR_ENABLE) !== 0;
  }

  /** Whether host input may enter the receiver now (see the top of the file). */
  private get receiverReady(): boolean {
    if (this.mcr & MCR_LOOP) return false; // in loopback the receiver is cut off from the line
    return (this.ier & IER_RDA) !== 0 || this.fifoEnabled || this.polling;
  }

  private refillFifo(): void {
    if (!this.receiverReady) return;
    const depth = this.fifoEnabled ? FIFO_DEPTH : 1;
    while (this.rbrFifo.length < depth && this.hostQueue.length > 0) {
      this.rbrFifo.push(this.hostQueue.shift()!);
      this.hostInFifo++;
    }
  }

  /** Host bytes the guest has not read go back to the front of the host queue, in order. */
  private returnHostBytes(): void {
    if (this.hostInFifo === 0) return;
    this.hostQueue.unshift(...this.rbrFifo.splice(this.rbrFifo.length - this.hostInFifo));
    this.hostInFifo = 0;
  }

  /** After a change to what makes the receiver ready: take host input in, or give it back. */
  private settleReceiver(): void {
    if (this.receiverReady) this.refillFifo();
    else this.returnHostBytes();
  }

  private pushReceived(byte: number): void {
    const depth = this.fifoEnabled ? FIFO_DEPTH : 1;
    if (this.rbrFifo.length >= depth) {
      this.lsrErrors |= LSR_OE;
      return;
    }
    this.rbrFifo.push(byte);
  }

  private interruptId(): number {
    if (this.ier & IER_RLS && this.lsrErrors) return IIR_RLS;
    if (this.ier & IER_RDA && this.rbrFifo.length > 0) {
      const trigger = TRIGGER_LEVELS[this.fcr >> 6];
      return this.fifoEnabled && this.rbrFifo.length < trigger ? IIR_TIMEOUT : IIR_RDA;
    }
    if (this.ier & IER_THRE && this.thrEmptyPending) return IIR_THRE;
    if (this.ier & IER_MSR && this.msrDeltas) return IIR_MSR;
    return IIR_NONE;
  }

  private updateIrq(): void {
    const level = this.interruptId() !== IIR_NONE && (this.mcr & MCR_OUT2) !== 0;
    if (level !== this.irqLevel) {
      this.irqLevel = level;
      this.irq.set(level);
    }
  }

  private modemStatus(): number {
    if (this.mcr & MCR_LOOP) {
      // Loopback: CTS=RTS, DSR=DTR, RI=OUT1, DCD=OUT2 (datasheet, MCR bit 4).
      return (
        ((this.mcr & MCR_RTS) << 3) |
        ((this.mcr & MCR_DTR) << 5) |
        ((this.mcr & MCR_OUT1) << 4) |
        ((this.mcr & MCR_OUT2) << 4) |
        this.msrDeltas
      );
    }
    return 0xb0 | this.msrDeltas; // DCD, DSR, CTS: a terminal is always attached
  }

  read(offset: number, _size: number): number {
    if (offset === 5) {
      if (++this.lsrReadsInRow >= POLLED_LSR_READS && !this.polling) {
        this.polling = true;
        this.refillFifo();
      }
    } else {
      this.lsrReadsInRow = 0;
    }
    let value: number;
    switch (offset) {
      case 0:
        if (this.lcr & LCR_DLAB) return this.divisor & 0xff;
        value = this.rbrFifo.shift() ?? 0;
        this.hostInFifo = Math.min(this.hostInFifo, this.rbrFifo.length);
        this.refillFifo();
        break;
      case 1:
        return this.lcr & LCR_DLAB ? this.divisor >> 8 : this.ier;
      case 2: {
        const id = this.interruptId();
        value = id | (this.fifoEnabled ? IIR_FIFO_ENABLED : 0);
        if (id === IIR_THRE) this.thrEmptyPending = false;
        break;
      }
      case 3:
        return this.lcr;
      case 4:
        return this.mcr;
      case 5:
        value = (this.rbrFifo.length > 0 ? LSR_DR : 0) | LSR_THRE | LSR_TEMT | this.lsrErrors;
        this.lsrErrors = 0;
        break;
      case 6:
        value = this.modemStatus();
        this.msrDeltas = 0;
        break;
      case 7:
        return this.scr;
      default:
        return 0xff;
    }
    this.updateIrq();
    return value;
  }

  write(offset: number, _size: number, value: number): void {
    value &= 0xff;
    this.lsrReadsInRow = 0;
    // Reconfiguring: whether the guest polls for input is seen again from its next reads.
    if (offset >= 1 && offset <= 4) this.polling = false;
    switch (offset) {
      case 0:
        if (this.lcr & LCR_DLAB) {
          this.divisor = (this.divisor & 0xff00) | value;
          return;
        }
        if (this.mcr & MCR_LOOP) this.pushReceived(value);
        else {
          this.output(value);
          this.bytesTransmitted++;
        }
        this.thrEmptyPending = true; // transmitted at once: THR is empty again
        break;
      case 1:
        if (this.lcr & LCR_DLAB) {
          this.divisor = (this.divisor & 0xff) | (value << 8);
          return;
        }
        // Enabling THRE while THR is empty raises it at once (what Linux's 8250 driver probes).
        if (value & IER_THRE && !(this.ier & IER_THRE)) this.thrEmptyPending = true;
        this.ier = value & 0x0f;
        this.settleReceiver();
        break;
      case 2:
        if ((value & FCR_ENABLE) !== (this.fcr & FCR_ENABLE) || value & FCR_CLEAR_RX) {
          this.returnHostBytes();
          this.rbrFifo = [];
        }
        this.fcr = value & 0xc1;
        this.settleReceiver();
        break;
      case 3:
        this.lcr = value;
        this.settleReceiver();
        return;
      case 4:
        this.mcr = value & 0x1f;
        this.settleReceiver();
        break;
      case 7:
        this.scr = value;
        return;
      default:
        return; // LSR and MSR are read-only
    }
    this.updateIrq();
  }

  snapshot(): DeviceSnapshot {
    return {
      version: SNAPSHOT_VERSION,
      rbrFifo: [...this.rbrFifo],
      hostQueue: [...this.hostQueue],
      hostInFifo: this.hostInFifo,
      lsrReadsInRow: this.lsrReadsInRow,
      polling: this.polling,
      ier: this.ier,
      lcr: this.lcr,
      mcr: this.mcr,
      lsrErrors: this.lsrErrors,
      msrDeltas: this.msrDeltas,
      scr: this.scr,
      fcr: this.fcr,
      divisor: this.divisor,
      thrEmptyPending: this.thrEmptyPending,
    };
  }

  restore(s: DeviceSnapshot): void {
    checkSnapshotVersion(this.name, SNAPSHOT_VERSION, s);
    this.rbrFifo = [...(s.rbrFifo as number[])];
    this.hostQueue = [...(s.hostQueue as number[])];
    this.hostInFifo = s.hostInFifo as number;
    this.lsrReadsInRow = s.lsrReadsInRow as number;
    this.polling = s.polling as boolean;
    this.ier = s.ier as number;
    this.lcr = s.lcr as number;
    this.mcr = s.mcr as number;
    this.lsrErrors = s.lsrErrors as number;
    this.msrDeltas = s.msrDeltas as number;
    this.scr = s.scr as number;
    this.fcr = s.fcr as number;
    this.divisor = s.divisor as number;
    this.thrEmptyPending = s.thrEmptyPending as boolean;
    this.irqLevel = false;
    this.updateIrq();
  }
}
