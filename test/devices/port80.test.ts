import { describe, expect, it } from 'vitest';
import { Port80 } from '../../src/devices/port80.js';
import { ports } from './helpers.js';

describe('POST port 0x80', () => {
  it('keeps the last value written and reads it back', () => {
    const post = new Port80();
    const io = ports([0x80, 1, post]);
    expect(io.inb(0x80)).toBe(0);
    io.outb(0x80, 0x12);
    io.outb(0x80, 0x34);
    expect(io.inb(0x80)).toBe(0x34);
    expect(post.lastValue).toBe(0x34);
    expect(post.writes).toBe(2);
    const other = new Port80();
    other.restore(post.snapshot());
    expect(other.read(0, 1)).toBe(0x34);
  });
});
