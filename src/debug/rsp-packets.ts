// The wire format of GDB's Remote Serial Protocol (GDB manual, Appendix E "GDB Remote Serial
// Protocol": "Overview", "Packet Acknowledgment", "Interrupts"): `$payload#cs` frames with a
// modulo-256 checksum, `+`/`-` acknowledgments, a bare 0x03 byte for Ctrl-C, the `}` escape for
// binary data and `*` run-length encoding. Nothing here knows what a packet means.

/** What a stream of bytes from the debugger amounts to, in arrival order. */
export type RspEvent =
  /** A whole packet with a good checksum: run-length encoding expanded, `}` escapes undone. */
  | { kind: 'packet'; payload: Buffer }
  /** A packet whose checksum was wrong (or that grew past the size limit): answer `-`. */
  | { kind: 'nack' }
  /** `+` (the peer received our packet) or `-` (it asks for it again). */
  | { kind: 'ack'; positive: boolean }
  /** A raw 0x03 between packets: the user pressed Ctrl-C ("Interrupts"). */
  | { kind: 'interrupt' };

const DOLLAR = 0x24;
const HASH = 0x23;
const ESCAPE = 0x7d;
const STAR = 0x2a;
const PLUS = 0x2b;
const MINUS = 0x2d;
const CTRL_C = 0x03;
const ESCAPE_XOR = 0x20;

/** A packet longer than this (on the wire) is dropped: far above the PacketSize we advertise. */
export const MAX_WIRE_PACKET = 0x10000;

/**
 * Splits the debugger's byte stream into events. Packets may arrive split across chunks or
 * several to a chunk; bytes between packets other than `+`, `-` and 0x03 are ignored, as a stub
 * must tolerate line noise. Inside a packet 0x03 is data (binary X payloads carry it raw).
 */
export class PacketReader {
  private state: 'idle' | 'payload' | 'checksum' = 'idle';
  private payload: number[] = [];
  private checksumDigits = '';

  feed(chunk: Uint8Array): RspEvent[] {
    const events: RspEvent[] = [];
    for (const byte of chunk) {
      switch (this.state) {
        case 'idle':
          if (byte === DOLLAR) this.startPacket();
          else if (byte === CTRL_C) events.push({ kind: 'interrupt' });
          else if (byte === PLUS) events.push({ kind: 'ack', positive: true });
          else if (byte === MINUS) events.push({ kind: 'ack', positive: false });
          break;
        case 'payload':
          if (byte === HASH) {
            this.state = 'checksum';
          } else if (byte === DOLLAR) {
            // '$' never appears unescaped inside a packet: the earlier one was cut short.
            this.startPacket();
          } else if (this.payload.length >= MAX_WIRE_PACKET) {
            this.state = 'idle';
            events.push({ kind: 'nack' });
          } else {
            this.payload.push(byte);
          }
          break;
        case 'checksum':
          this.checksumDigits += String.fromCharCode(byte);
          if (this.checksumDigits.length === 2) {
            this.state = 'idle';
            events.push(this.finishPacket());
          }
          break;
      }
    }
    return events;
  }

  private startPacket(): void {
    this.state = 'payload';
    this.payload = [];
    this.checksumDigits = '';
  }

  private finishPacket(): RspEvent {
    const wire = Buffer.from(this.payload);
    this.payload = [];
    const sent = /^[0-9a-fA-F]{2}$/.test(this.checksumDigits) ? parseInt(this.checksumDigits, 16) : -1;
    if (sent !== checksum(wire)) return { kind: 'nack' };
    const payload = unescapeBinary(expandRunLength(wire));
    return payload ? { kind: 'packet', payload } : { kind: 'nack' };
  }
}

/** The modulo-256 sum of the bytes between `$` and `#`, as sent on the wire. */
export function checksum(wire: Uint8Array): number {
  let sum = 0;
  for (const byte of wire) sum = (sum + byte) & 0xff;
  return sum;
}

/**
 * Undoes run-length encoding ("Overview"): `X*n` is X followed by `n - 29` more copies of X, the
 * count being one printable byte. A `*` with nothing before it is kept as it is.
 */
export function expandRunLength(wire: Uint8Array): Buffer {
  const out: number[] = [];
  for (let i = 0; i < wire.length; i++) {
    const byte = wire[i];
    if (byte === STAR && out.length > 0 && i + 1 < wire.length) {
      const repeats = wire[++i] - 29;
      const last = out[out.length - 1];
      for (let n = 0; n < repeats; n++) out.push(last);
    } else {
      out.push(byte);
    }
  }
  return Buffer.from(out);
}

/** Undoes the `}` escape of binary data ("Overview"); undefined when a packet ends in `}`. */
export function unescapeBinary(data: Uint8Array): Buffer | undefined {
  const out = Buffer.alloc(data.length);
  let length = 0;
  for (let i = 0; i < data.length; i++) {
    if (data[i] === ESCAPE) {
      if (++i === data.length) return undefined;
      out[length++] = data[i] ^ ESCAPE_XOR;
    } else {
      out[length++] = data[i];
    }
  }
  return out.subarray(0, length);
}

/** Escapes the bytes a packet body must not carry raw: `$`, `#`, `}` and `*` (which GDB would
 *  read as run-length encoding). Text replies never contain them, so escaping every reply only
 *  changes binary ones (qXfer data). */
export function escapeBinary(data: Uint8Array): Buffer {
  const out: number[] = [];
  for (const byte of data) {
    if (byte === DOLLAR || byte === HASH || byte === ESCAPE || byte === STAR) out.push(ESCAPE, byte ^ ESCAPE_XOR);
    else out.push(byte);
  }
  return Buffer.from(out);
}

/** A reply payload framed for the wire: `$` + escaped payload + `#` + two-digit checksum. */
export function framePacket(payload: string | Uint8Array): Buffer {
  const body = escapeBinary(typeof payload === 'string' ? Buffer.from(payload, 'latin1') : payload);
  const trailer = `#${checksum(body).toString(16).padStart(2, '0')}`;
  return Buffer.concat([Buffer.from('$'), body, Buffer.from(trailer)]);
}

/** Bytes as lower-case hex, two digits a byte (m replies, O packets). */
export function bytesToHex(bytes: Uint8Array): string {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('hex');
}

/** Hex digits back to bytes; undefined for an odd count or a non-hex digit. */
export function hexToBytes(text: string): Uint8Array | undefined {
  if (text.length % 2 !== 0 || !/^[0-9a-fA-F]*$/.test(text)) return undefined;
  return new Uint8Array(Buffer.from(text, 'hex'));
}

/** A 32-bit value as the g packet carries it: target byte order, i.e. little-endian on x86. */
export function hex32le(value: number): string {
  const bytes = Buffer.alloc(4);
  bytes.writeUInt32LE(value >>> 0);
  return bytes.toString('hex');
}

/** Eight hex digits in target (little-endian) byte order back to a number. */
export function parseHex32le(text: string): number | undefined {
  const bytes = text.length === 8 ? hexToBytes(text) : undefined;
  return bytes ? Buffer.from(bytes).readUInt32LE(0) : undefined;
}

/** Text as hex of its UTF-8 bytes (qRcmd commands, O console output). */
export function textToHex(text: string): string {
  return Buffer.from(text, 'utf8').toString('hex');
}

export function hexToText(hex: string): string | undefined {
  const bytes = hexToBytes(hex);
  return bytes ? Buffer.from(bytes).toString('utf8') : undefined;
}

/** A big-endian hex number as packets write addresses, lengths and register numbers, at most
 *  32 bits; undefined for anything else. */
export function parseHexNumber(text: string): number | undefined {
  if (!/^[0-9a-fA-F]{1,8}$/.test(text)) return undefined;
  return parseInt(text, 16);
}

/**
 * One window of a qXfer object ("qXfer:object:read:annex:offset,length"): `m` and the data when
 * more follows, `l` and the data when the window reaches the end (an offset at or past the end
 * gives a bare `l`).
 */
export function xferWindow(document: Uint8Array, offset: number, length: number): Buffer {
  const start = Math.min(offset, document.length);
  const end = Math.min(start + length, document.length);
  const prefix = end < document.length ? 'm' : 'l';
  return Buffer.concat([Buffer.from(prefix), document.subarray(start, end)]);
}
