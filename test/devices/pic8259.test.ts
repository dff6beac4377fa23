import { beforeEach, describe, expect, it } from 'vitest';
import { PicPair } from '../../src/devices/pic8259.js';
import { ports, type Ports } from './helpers.js';

const MASTER_CMD = 0x20;
const MASTER_IMR = 0x21;
const SLAVE_CMD = 0xa0;
const SLAVE_IMR = 0xa1;

function machine(): { pics: PicPair; io: Ports; intr: boolean[] } {
  const intr: boolean[] = [];
  const pics = new PicPair((asserted) => intr.push(asserted));
  const io = ports([0x20, 2, pics.master], [0xa0, 2, pics.slave], [0x4d0, 2, pics.elcr]);
  return { pics, io, intr };
}

/** arch/x86/kernel/i8259.c init_8259A(0) with vectors 0x20/0x28, leaving every line unmasked. */
function initLikeLinux(io: Ports, icw4 = 0x01): void {
  io.outb(MASTER_IMR, 0xff);
  io.outb(SLAVE_IMR, 0xff);
  io.outb(MASTER_CMD, 0x11); // ICW1: edge, cascade, ICW4 needed
  io.outb(MASTER_IMR, 0x20); // ICW2: vectors 0x20-0x27
  io.outb(MASTER_IMR, 0x04); // ICW3: slave on IR2
  io.outb(MASTER_IMR, icw4); // ICW4: 8086 mode (+AEOI)
  io.outb(SLAVE_CMD, 0x11);
  io.outb(SLAVE_IMR, 0x28);
  io.outb(SLAVE_IMR, 0x02); // ICW3: slave id 2
  io.outb(SLAVE_IMR, 0x01);
  io.outb(MASTER_IMR, 0x00);
  io.outb(SLAVE_IMR, 0x00);
}

const readIrr = (io: Ports, cmd: number) => (io.outb(cmd, 0x0a), io.inb(cmd));
const readIsr = (io: Ports, cmd: number) => (io.outb(cmd, 0x0b), io.inb(cmd));

describe('8259A pair', () => {
  let pics: PicPair;
  let io: Ports;
  let intr: boolean[];
  beforeEach(() => {
    ({ pics, io, intr } = machine());
    initLikeLinux(io);
  });

  it('passes Linux probe_8259A: the IMR reads back what was written', () => {
    io.outb(MASTER_IMR, 0xfb);
    expect(io.inb(MASTER_IMR)).toBe(0xfb);
    io.outb(SLAVE_IMR, 0xff);
    expect(io.inb(SLAVE_IMR)).toBe(0xff);
  });

  it('delivers an IRQ with the ICW2 vector base and drives INTR', () => {
    expect(pics.hasInterrupt()).toBe(false);
    pics.irqLine(1).set(true);
    expect(pics.hasInterrupt()).toBe(true);
    expect(intr).toEqual([true]);
    expect(pics.acknowledge()).toBe(0x21);
    expect(pics.hasInterrupt()).toBe(false);
    expect(intr).toEqual([true, false]);
    expect(readIsr(io, MASTER_CMD)).toBe(0x02);
    io.outb(MASTER_CMD, 0x20); // non-specific EOI
    expect(readIsr(io, MASTER_CMD)).toBe(0);
  });

  it('holds masked requests in IRR until unmasked', () => {
    io.outb(MASTER_IMR, 0x02);
    pics.irqLine(1).set(true);
    expect(pics.hasInterrupt()).toBe(false);
    expect(readIrr(io, MASTER_CMD)).toBe(0x02);
    io.outb(MASTER_IMR, 0x00);
    expect(pics.hasInterrupt()).toBe(true);
    expect(pics.acknowledge()).toBe(0x21);
  });

  it('gives IRQ 0 priority over IRQ 1 and nests only higher priorities', () => {
    pics.irqLine(1).set(true);
    pics.irqLine(0).set(true);
    expect(pics.acknowledge()).toBe(0x20);
    expect(pics.hasInterrupt()).toBe(false); // IRQ 1 waits for IRQ 0's EOI
    io.outb(MASTER_CMD, 0x20);
    expect(pics.acknowledge()).toBe(0x21);
    // While IRQ 1 is in service a new IRQ 0 still nests.
    pics.irqLine(0).set(false);
    pics.irqLine(0).set(true);
    expect(pics.acknowledge()).toBe(0x20);
    expect(readIsr(io, MASTER_CMD)).toBe(0x03);
  });

  it('orders slave IRQs at the cascade position: IRQ 1 > IRQ 8-15 > IRQ 3', () => {
    pics.irqLine(3).set(true);
    pics.irqLine(10).set(true);
    pics.irqLine(1).set(true);
    expect(pics.acknowledge()).toBe(0x21);
    io.outb(MASTER_CMD, 0x20);
    expect(pics.acknowledge()).toBe(0x2a);
    expect(readIsr(io, MASTER_CMD)).toBe(0x04);
    expect(readIsr(io, SLAVE_CMD)).toBe(0x04);
    expect(pics.hasInterrupt()).toBe(false);
    // Linux's mask_and_ack for a slave IRQ: specific EOI to the slave, then to master IR2.
    io.outb(SLAVE_CMD, 0x60 + 2);
    io.outb(MASTER_CMD, 0x60 + 2);
    expect(readIsr(io, SLAVE_CMD)).toBe(0);
    expect(readIsr(io, MASTER_CMD)).toBe(0);
    expect(pics.acknowledge()).toBe(0x23);
  });

  it('lets a higher-priority slave IRQ wait behind an in-service slave IRQ until the master EOI', () => {
    pics.irqLine(12).set(true);
    expect(pics.acknowledge()).toBe(0x2c);
    pics.irqLine(8).set(true);
    expect(pics.hasInterrupt()).toBe(false); // master IR2 is in service (fully nested mode)
    io.outb(SLAVE_CMD, 0x20);
    io.outb(MASTER_CMD, 0x20);
    expect(pics.acknowledge()).toBe(0x28);
  });

  it('clears exactly the named level on a specific EOI', () => {
    pics.irqLine(4).set(true);
    expect(pics.acknowledge()).toBe(0x24);
    pics.irqLine(3).set(true);
    expect(pics.acknowledge()).toBe(0x23);
    expect(readIsr(io, MASTER_CMD)).toBe(0x18);
    io.outb(MASTER_CMD, 0x64); // specific EOI for IR4, though IR3 has higher priority
    expect(readIsr(io, MASTER_CMD)).toBe(0x08);
    io.outb(MASTER_CMD, 0x20); // non-specific EOI clears the highest in service: IR3
    expect(readIsr(io, MASTER_CMD)).toBe(0);
  });

  it('selects IRR or ISR for reads through OCW3 and keeps the selection', () => {
    pics.irqLine(5).set(true);
    pics.irqLine(6).set(true);
    expect(readIrr(io, MASTER_CMD)).toBe(0x60);
    pics.acknowledge();
    expect(io.inb(MASTER_CMD)).toBe(0x40); // still IRR
    io.outb(MASTER_CMD, 0x0b);
    expect(io.inb(MASTER_CMD)).toBe(0x20);
    expect(io.inb(MASTER_CMD)).toBe(0x20);
  });

  it('in automatic EOI mode never sets ISR', () => {
    initLikeLinux(io, 0x03);
    pics.irqLine(1).set(true);
    expect(pics.acknowledge()).toBe(0x21);
    expect(readIsr(io, MASTER_CMD)).toBe(0);
    pics.irqLine(3).set(true);
    expect(pics.hasInterrupt()).toBe(true); // nothing in service blocks the lower priority
    expect(pics.acknowledge()).toBe(0x23);
  });

  it('answers with IRQ 7 when the request vanishes before INTA, without setting ISR', () => {
    pics.irqLine(3).set(true);
    expect(pics.hasInterrupt()).toBe(true);
    pics.irqLine(3).set(false);
    expect(pics.acknowledge()).toBe(0x27);
    expect(readIsr(io, MASTER_CMD)).toBe(0); // how Linux recognises a spurious IRQ 7
    // A vanished slave request withdraws the cascade as well: the master's IR7 again.
    pics.irqLine(10).set(true);
    pics.irqLine(10).set(false);
    expect(pics.acknowledge()).toBe(0x27);
  });

  it('is edge triggered: a line held high does not request again without a falling edge', () => {
    const line = pics.irqLine(4);
    line.set(true);
    expect(pics.acknowledge()).toBe(0x24);
    io.outb(MASTER_CMD, 0x20);
    line.set(true);
    expect(pics.hasInterrupt()).toBe(false);
    line.set(false);
    expect(pics.hasInterrupt()).toBe(false);
    line.set(true);
    expect(pics.acknowledge()).toBe(0x24);
  });

  it('needs a new edge after ICW1 (the edge sense circuit is reset)', () => {
    pics.irqLine(4).set(true);
    initLikeLinux(io);
    expect(pics.hasInterrupt()).toBe(false);
    pics.irqLine(4).set(true);
    expect(pics.hasInterrupt()).toBe(false);
    pics.irqLine(4).set(false);
    pics.irqLine(4).set(true);
    expect(pics.hasInterrupt()).toBe(true);
  });

  it('makes ELCR lines level triggered: the request stays while the line is high', () => {
    io.outb(0x4d1, 0xff);
    expect(io.inb(0x4d1)).toBe(0xde); // IRQ 8 and 13 cannot be level triggered
    io.outb(0x4d0, 0xff);
    expect(io.inb(0x4d0)).toBe(0xf8);
    expect(io.inw(0x4d0)).toBe(0xdef8);
    const line = pics.irqLine(11);
    line.set(true);
    expect(pics.acknowledge()).toBe(0x2b);
    io.outb(SLAVE_CMD, 0x20);
    io.outb(MASTER_CMD, 0x20);
    expect(pics.acknowledge()).toBe(0x2b); // still high: requests again
    io.outb(SLAVE_CMD, 0x20);
    io.outb(MASTER_CMD, 0x20);
    line.set(false);
    expect(pics.hasInterrupt()).toBe(false);
  });

  it('accepts rotation: set priority makes the named level the lowest', () => {
    io.outb(MASTER_CMD, 0xc0 | 4); // IR4 lowest, so IR5 highest
    pics.irqLine(3).set(true);
    pics.irqLine(5).set(true);
    expect(pics.acknowledge()).toBe(0x25);
    io.outb(MASTER_CMD, 0xa0); // rotate on non-specific EOI: IR5 becomes the lowest
    expect(pics.acknowledge()).toBe(0x23);
    io.outb(MASTER_CMD, 0x20);
    pics.irqLine(5).set(false);
    pics.irqLine(5).set(true);
    pics.irqLine(6).set(true);
    expect(pics.acknowledge()).toBe(0x26);
  });

  it('answers a poll command with the highest request and acknowledges it', () => {
    pics.irqLine(6).set(true);
    io.outb(MASTER_CMD, 0x0c);
    expect(io.inb(MASTER_CMD)).toBe(0x86);
    expect(readIsr(io, MASTER_CMD)).toBe(0x40);
    io.outb(MASTER_CMD, 0x0c);
    expect(io.inb(MASTER_IMR)).toBe(0x00); // no request: poll word without bit 7
  });

  it('in special mask mode lets lower priorities through while a masked level is in service', () => {
    pics.irqLine(1).set(true);
    expect(pics.acknowledge()).toBe(0x21);
    pics.irqLine(5).set(true);
    expect(pics.hasInterrupt()).toBe(false);
    io.outb(MASTER_IMR, 0x02);
    io.outb(MASTER_CMD, 0x68); // OCW3: set special mask mode
    expect(pics.acknowledge()).toBe(0x25);
    io.outb(MASTER_CMD, 0x48); // reset special mask mode
  });

  it('rejects the cascade input and out-of-range IRQs', () => {
    expect(() => pics.irqLine(2)).toThrow(RangeError);
    expect(() => pics.irqLine(16)).toThrow(RangeError);
  });

  it('restores a snapshot, INTR included', () => {
    pics.irqLine(4).set(true);
    expect(pics.acknowledge()).toBe(0x24);
    pics.irqLine(9).set(true);
    const master = pics.master.snapshot();
    const slave = pics.slave.snapshot();
    const other = machine();
    other.pics.slave.restore(JSON.parse(JSON.stringify(slave)));
    other.pics.master.restore(JSON.parse(JSON.stringify(master)));
    expect(other.intr.at(-1)).toBe(true);
    expect(other.pics.acknowledge()).toBe(0x29); // IR2 outranks the IR4 in service
    expect(readIsr(other.io, MASTER_CMD)).toBe(0x14);
  });
});
