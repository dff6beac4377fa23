import { describe, expect, it } from 'vitest';
import {
  bytesToHex,
  checksum,
  expandRunLength,
  framePacket,
  hex32le,
  hexToBytes,
  hexToText,
  MAX_WIRE_PACKET,
  PacketReader,
  parseHex32le,
  parseHexNumber,
  textToHex,
  unescapeBinary,
  xferWindow,
} from '../../src/debug/rsp-packets.js';

const latin1 = (text: string): Buffer => Buffer.from(text, 'latin1');

/** What a reader makes of some chunks, packets shown as text. */
function events(...chunks: string[]): unknown[] {
  const reader = new PacketReader();
  return chunks
    .flatMap((chunk) => reader.feed(latin1(chunk)))
    .map((event) => (event.kind === 'packet' ? { packet: event.payload.toString('latin1') } : event));
}

describe('RSP framing (GDB manual E.1 "Overview")', () => {
  it('frames a reply with a two-digit lower-case modulo-256 checksum', () => {
    expect(framePacket('OK').toString('latin1')).toBe('$OK#9a');
    expect(framePacket('').toString('latin1')).toBe('$#00');
    expect(framePacket('T05swbreak:;').toString('latin1')).toBe('$T05swbreak:;#1d');
    expect(checksum(latin1('qSupported'))).toBe(0x37);
  });

  it("escapes '$', '#', '}' and '*' as '}' and the byte XOR 0x20, checksumming the escaped bytes", () => {
    const framed = framePacket(Uint8Array.of(0x24, 0x23, 0x7d, 0x2a, 0x41, 0x03));
    const body = '}\x04}\x03}]}\x0aA\x03';
    expect(framed.toString('latin1')).toBe(`$${body}#${checksum(latin1(body)).toString(16).padStart(2, '0')}`);
  });
});

describe('PacketReader', () => {
  it('yields a packet whose checksum matches, in either hex case', () => {
    expect(events('$OK#9a')).toEqual([{ packet: 'OK' }]);
    expect(events('$qSupported#37')).toEqual([{ packet: 'qSupported' }]);
    expect(events('$T05swbreak:;#1D')).toEqual([{ packet: 'T05swbreak:;' }]);
  });

  it('reassembles a packet split across chunks, and splits several in one chunk', () => {
    expect(events('$q', 'Supported#', '3', '7')).toEqual([{ packet: 'qSupported' }]);
    expect(events('+$g#67$?#3f')).toEqual([{ kind: 'ack', positive: true }, { packet: 'g' }, { packet: '?' }]);
  });

  it("yields 'nack' for a bad checksum and carries on with the next packet", () => {
    expect(events('$g#68$g#67')).toEqual([{ kind: 'nack' }, { packet: 'g' }]);
    expect(events('$g#zz')).toEqual([{ kind: 'nack' }]);
  });

  it('yields acks and Ctrl-C between packets, and ignores other noise there', () => {
    expect(events('-\r\n+\x03')).toEqual([
      { kind: 'ack', positive: false },
      { kind: 'ack', positive: true },
      { kind: 'interrupt' },
    ]);
  });

  it('keeps 0x03, + and - inside a packet as data (binary X payloads carry them raw)', () => {
    const payload = 'X10,3:\x03+-';
    expect(events(`$${payload}#${checksum(latin1(payload)).toString(16).padStart(2, '0')}`)).toEqual([{ packet: payload }]);
  });

  it("restarts at a '$' inside a packet: the packet before it was cut short", () => {
    expect(events('$m10$g#67')).toEqual([{ packet: 'g' }]);
  });

  it('undoes the } escape of binary data', () => {
    const wire = 'X0,4:}\x04}\x03}]}\x0a';
    expect(events(`$${wire}#${checksum(latin1(wire)).toString(16).padStart(2, '0')}`)).toEqual([{ packet: 'X0,4:$#}*' }]);
  });

  it('expands run-length encoding: X*n repeats X n-29 more times', () => {
    const wire = '0* 1*"';
    expect(events(`$${wire}#${checksum(latin1(wire)).toString(16).padStart(2, '0')}`)).toEqual([{ packet: '0000111111' }]);
  });

  it("drops a packet that grows past the limit with a 'nack', then reads on", () => {
    const reader = new PacketReader();
    const first = reader.feed(Buffer.concat([latin1('$'), Buffer.alloc(MAX_WIRE_PACKET + 1, 0x61)]));
    expect(first).toEqual([{ kind: 'nack' }]);
    expect(reader.feed(latin1('#00$g#67')).map((e) => e.kind)).toEqual(['packet']);
  });
});

describe('escapes and run-length encoding on their own', () => {
  it('unescapes, and rejects a trailing escape byte', () => {
    expect(unescapeBinary(latin1('a}]b'))?.toString('latin1')).toBe('a}b');
    expect(unescapeBinary(latin1('a}'))).toBeUndefined();
  });

  it('expands the counts of the manual (" " is 3 more, "\\"" is 5 more)', () => {
    expect(expandRunLength(latin1('x* ')).toString('latin1')).toBe('xxxx');
    expect(expandRunLength(latin1('y*"')).toString('latin1')).toBe('yyyyyy');
    expect(expandRunLength(latin1('*a')).toString('latin1')).toBe('*a');
  });
});

describe('hex helpers', () => {
  it('turns bytes into two lower-case digits each and back', () => {
    expect(bytesToHex(Uint8Array.of(0x00, 0xab, 0x7f))).toBe('00ab7f');
    expect(Array.from(hexToBytes('00AB7f')!)).toEqual([0x00, 0xab, 0x7f]);
    expect(hexToBytes('abc')).toBeUndefined();
    expect(hexToBytes('zz')).toBeUndefined();
    expect(Array.from(hexToBytes('')!)).toEqual([]);
  });

  it('writes 32-bit values least significant byte first, as the g packet does on x86', () => {
    expect(hex32le(0x12345678)).toBe('78563412');
    expect(hex32le(-1)).toBe('ffffffff');
    expect(parseHex32le('78563412')).toBe(0x12345678);
    expect(parseHex32le('785634')).toBeUndefined();
  });

  it('hex-encodes text for qRcmd and O packets', () => {
    expect(textToHex('info\n')).toBe('696e666f0a');
    expect(hexToText('696e666f')).toBe('info');
    expect(hexToText('6')).toBeUndefined();
  });

  it('parses big-endian hex numbers of at most 32 bits', () => {
    expect(parseHexNumber('1000')).toBe(0x1000);
    expect(parseHexNumber('FFFFFFFF')).toBe(0xffffffff);
    expect(parseHexNumber('100000000')).toBeUndefined();
    expect(parseHexNumber('')).toBeUndefined();
    expect(parseHexNumber('-1')).toBeUndefined();
  });
});

describe('qXfer windows', () => {
  const document = latin1('0123456789');

  it("answers 'm' while more follows and 'l' for the last window", () => {
    expect(xferWindow(document, 0, 4).toString('latin1')).toBe('m0123');
    expect(xferWindow(document, 4, 6).toString('latin1')).toBe('l456789');
    expect(xferWindow(document, 8, 100).toString('latin1')).toBe('l89');
    expect(xferWindow(document, 10, 4).toString('latin1')).toBe('l');
    expect(xferWindow(document, 50, 4).toString('latin1')).toBe('l');
  });
});
