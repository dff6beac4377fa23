import { describe, expect, it } from 'vitest';
import type {
  BreakpointType,
  DebugTarget,
  GuestRegisters,
  StopReason,
  WritableRegister,
} from '../../src/debug/debug-target.js';
import { GdbSession, stopReply } from '../../src/debug/gdb-session.js';
import { TARGET_XML } from '../../src/debug/i386-target.js';

/** A guest for the protocol alone: a register file, 64 KiB of memory, and a log of every call. */
class FakeTarget implements DebugTarget {
  regs: GuestRegisters = {
    eax: 0x11223344, ecx: 2, edx: 3, ebx: 4, esp: 0x7ff0, ebp: 0x7ff8, esi: 6, edi: 7,
    eip: 0x1000, eflags: 0x202, cs: 0x08, ss: 0x10, ds: 0x10, es: 0x10, fs: 0x10, gs: 0x10,
    st: new Uint8Array(80), fctrl: 0x37f, fstat: 0, ftag: 0xffff, fiseg: 0, fioff: 0, foseg: 0, fooff: 0, fop: 0,
    xmm: new Uint8Array(128), mxcsr: 0x1f80,
    cr0: 0x11, cr2: 0, cr3: 0x9000, cr4: 0, gdtrBase: 0x500, gdtrLimit: 0x17, idtrBase: 0, idtrLimit: 0x3ff, ldtr: 0, tr: 0,
  };
  readonly memory = new Uint8Array(0x10000);
  readonly calls: string[] = [];
  accepts = true;
  onResume: ((mode: 'continue' | 'step') => void) | undefined;
  onInterrupt: (() => void) | undefined;

  readRegisters(): GuestRegisters {
    return { ...this.regs, st: this.regs.st.slice(), xmm: this.regs.xmm.slice() };
  }
  writeRegister(name: WritableRegister, value: number): boolean {
    this.calls.push(`writeRegister ${name}=${value.toString(16)}`);
    if (this.accepts) this.regs[name] = value >>> 0;
    return this.accepts;
  }
  readMemory(address: number, length: number, physical: boolean): Uint8Array | undefined {
    this.calls.push(`readMemory ${address.toString(16)},${length}${physical ? ' physical' : ''}`);
    if (address >= this.memory.length) return undefined;
    return this.memory.slice(address, Math.min(address + length, this.memory.length));
  }
  writeMemory(address: number, data: Uint8Array, physical: boolean): boolean {
    this.calls.push(`writeMemory ${address.toString(16)} ${Buffer.from(data).toString('hex')}${physical ? ' physical' : ''}`);
    if (address + data.length > this.memory.length) return false;
    this.memory.set(data, address);
    return true;
  }
  insertBreakpoint(type: BreakpointType, address: number, length: number): boolean {
    this.calls.push(`insertBreakpoint ${type} ${address.toString(16)} ${length}`);
    return this.accepts;
  }
  removeBreakpoint(type: BreakpointType, address: number, length: number): boolean {
    this.calls.push(`removeBreakpoint ${type} ${address.toString(16)} ${length}`);
    return this.accepts;
  }
  resume(mode: 'continue' | 'step'): void {
    this.calls.push(`resume ${mode}`);
    this.onResume?.(mode);
  }
  interrupt(): void {
    this.calls.push('interrupt');
    this.onInterrupt?.();
  }
  detach(): void {
    this.calls.push('detach');
  }
  kill(): void {
    this.calls.push('kill');
  }
  monitor(command: string): string | undefined {
    this.calls.push(`monitor ${command}`);
    if (command === 'info') return 'engine: trap\nCPL 0';
    if (command === 'long') return 'x'.repeat(0x3000);
    return undefined;
  }
}

/** `$payload#cs`, computed here rather than by the code under test. */
function frame(payload: string): string {
  let sum = 0;
  for (const byte of Buffer.from(payload, 'latin1')) sum = (sum + byte) & 0xff;
  return `$${payload}#${sum.toString(16).padStart(2, '0')}`;
}

/** A session over a fake target, with everything it sends collected as text. */
class Harness {
  readonly target = new FakeTarget();
  private sent = '';
  readonly session = new GdbSession(this.target, (bytes) => {
    this.sent += bytes.toString('latin1');
  });

  /** Feeds raw bytes and returns what the session sent in answer. */
  raw(bytes: string): string {
    this.sent = '';
    this.session.receive(Buffer.from(bytes, 'latin1'));
    return this.sent;
  }

  /** Sends one well-formed packet and returns the answer. */
  request(payload: string): string {
    return this.raw(frame(payload));
  }

  /** Collects what the session sends during `action` (for reportStop). */
  during(action: () => void): string {
    this.sent = '';
    action();
    return this.sent;
  }

  /** The usual start of a GDB connection: features, then no-ack mode. */
  static connected(features = 'swbreak+;hwbreak+;vContSupported+'): Harness {
    const h = new Harness();
    h.request(`qSupported:${features}`);
    expect(h.request('QStartNoAckMode')).toBe(`+${frame('OK')}`);
    return h;
  }
}

describe('acknowledgments and no-ack mode (E.11 "Packet Acknowledgment")', () => {
  it("acknowledges each good packet with '+' before the reply", () => {
    const h = new Harness();
    expect(h.request('?')).toBe(`+${frame('T05')}`);
  });

  it("answers a bad checksum with '-' and nothing else", () => {
    const h = new Harness();
    expect(h.raw('$?#00')).toBe('-');
    expect(h.target.calls).toEqual([]);
  });

  it("stops sending '+' after QStartNoAckMode, whose own OK is still acknowledged", () => {
    const h = new Harness();
    expect(h.request('QStartNoAckMode')).toBe(`+${frame('OK')}`);
    expect(h.request('?')).toBe(frame('T05'));
    expect(h.raw('$?#00')).toBe('');
  });

  it("ignores the debugger's own acks", () => {
    const h = new Harness();
    expect(h.raw('+-+')).toBe('');
  });
});

describe('connection queries', () => {
  it('offers its features in reply to qSupported', () => {
    const h = new Harness();
    expect(h.request('qSupported:multiprocess+;swbreak+;hwbreak+;xmlRegisters=i386')).toBe(
      `+${frame('PacketSize=4000;qXfer:features:read+;QStartNoAckMode+;swbreak+;hwbreak+;vContSupported+')}`,
    );
  });

  it('reports one thread, id 1, attached to an existing process', () => {
    const h = Harness.connected();
    expect(h.request('qAttached')).toBe(frame('1'));
    expect(h.request('qC')).toBe(frame('QC1'));
    expect(h.request('qfThreadInfo')).toBe(frame('m1'));
    expect(h.request('qsThreadInfo')).toBe(frame('l'));
    expect(h.request('Hg0')).toBe(frame('OK'));
    expect(h.request('Hc-1')).toBe(frame('OK'));
    expect(h.request('Hg1')).toBe(frame('OK'));
    expect(h.request('Hg2')).toBe(frame('E22'));
    expect(h.request('T1')).toBe(frame('OK'));
    expect(h.request('T2')).toBe(frame('E22'));
  });

  it('gives the empty reply to what it does not support', () => {
    const h = Harness.connected();
    expect(h.request('vMustReplyEmpty')).toBe(frame(''));
    expect(h.request('qTStatus')).toBe(frame(''));
    expect(h.request('!')).toBe(frame(''));
    expect(h.request('vKill;1')).toBe(frame(''));
    expect(h.request('qXfer:auxv:read::0,100')).toBe(frame(''));
  });

  it('starts stopped with SIGTRAP', () => {
    expect(Harness.connected().request('?')).toBe(frame('T05'));
  });
});

describe('qXfer:features:read:target.xml', () => {
  it('serves the description in windows, m while more follows and l at the end', () => {
    const h = Harness.connected();
    expect(h.request('qXfer:features:read:target.xml:0,10')).toBe(frame(`m${TARGET_XML.slice(0, 16)}`));
    const length = TARGET_XML.length;
    expect(h.request(`qXfer:features:read:target.xml:${(length - 4).toString(16)},100`)).toBe(frame(`l${TARGET_XML.slice(-4)}`));
    expect(h.request(`qXfer:features:read:target.xml:${length.toString(16)},100`)).toBe(frame('l'));
  });

  it('gives the whole document to a reader that follows the windows', () => {
    const h = Harness.connected();
    let document = '';
    for (;;) {
      const reply = h.request(`qXfer:features:read:target.xml:${document.length.toString(16)},3e8`);
      const payload = reply.slice(1, -3);
      document += payload.slice(1);
      if (payload[0] === 'l') break;
      expect(payload[0]).toBe('m');
    }
    expect(document).toBe(TARGET_XML);
  });

  it('answers E00 for another annex or a malformed request', () => {
    const h = Harness.connected();
    expect(h.request('qXfer:features:read:i386-core.xml:0,100')).toBe(frame('E00'));
    expect(h.request('qXfer:features:read:target.xml:zz')).toBe(frame('E00'));
  });
});

describe('registers', () => {
  it('sends the whole register file for g', () => {
    const h = Harness.connected();
    const reply = h.request('g');
    const payload = reply.slice(1, -3);
    expect(reply).toBe(frame(payload));
    expect(payload.length).toBe(348 * 2);
    expect(payload.slice(0, 16 * 8)).toBe(
      '44332211' + '02000000' + '03000000' + '04000000' + 'f07f0000' + 'f87f0000' + '06000000' + '07000000' +
        '00100000' + '02020000' + '08000000' + '10000000' + '10000000' + '10000000' + '10000000' + '10000000',
    );
    expect(payload.slice(308 * 2, 316 * 2)).toBe('11000000' + '00000000'); // cr0, cr2
  });

  it('reads single registers by number with p', () => {
    const h = Harness.connected();
    expect(h.request('p8')).toBe(frame('00100000'));
    expect(h.request('p28')).toBe(frame('801f0000')); // mxcsr, 0x28 = 40
    expect(h.request('p2b')).toBe(frame('00900000')); // cr3
    expect(h.request('p33')).toBe(frame('E22'));
    expect(h.request('pzz')).toBe(frame('E22'));
  });

  it('writes the general registers with P, and refuses the others', () => {
    const h = Harness.connected();
    expect(h.request('P0=78563412')).toBe(frame('OK'));
    expect(h.target.regs.eax).toBe(0x12345678);
    expect(h.request('Pa=1b000000')).toBe(frame('OK'));
    expect(h.target.calls).toEqual(['writeRegister eax=12345678', 'writeRegister cs=1b']);
    expect(h.request('P10=00000000000000c0ff3f')).toBe(frame('E01')); // st0
    expect(h.request('P29=00000000')).toBe(frame('E01')); // cr0
    expect(h.request('P0=1234')).toBe(frame('E22'));
    expect(h.request('P60=00000000')).toBe(frame('E22'));
    h.target.accepts = false;
    expect(h.request('P8=00200000')).toBe(frame('E01'));
  });

  it('writes only the changed writable registers from G', () => {
    const h = Harness.connected();
    const g = h.request('g').slice(1, -3);
    const changed = 'efbeadde' + g.slice(8, 64) + '00200000' + g.slice(72);
    expect(h.request(`G${changed}`)).toBe(frame('OK'));
    expect(h.target.calls).toEqual(['writeRegister eax=deadbeef', 'writeRegister eip=2000']);
  });

  it('refuses a G that changes a read-only register, writing nothing', () => {
    const h = Harness.connected();
    const g = h.request('g').slice(1, -3);
    const changed = 'efbeadde' + g.slice(8, 64 * 2) + 'ff' + g.slice(64 * 2 + 2); // eax and st0
    expect(h.request(`G${changed}`)).toBe(frame('E01'));
    expect(h.target.calls).toEqual([]);
    expect(h.request('Gzz')).toBe(frame('E22'));
  });
});

describe('memory', () => {
  it('reads with m, shorter at the end of memory, E14 where nothing is mapped', () => {
    const h = Harness.connected();
    h.target.memory.set([0xde, 0xad, 0xbe, 0xef], 0x2000);
    expect(h.request('m2000,4')).toBe(frame('deadbeef'));
    expect(h.request('mfffe,4')).toBe(frame('0000'));
    expect(h.request('m10000,4')).toBe(frame('E14'));
    expect(h.request('m2000')).toBe(frame('E22'));
    expect(h.target.calls).toEqual(['readMemory 2000,4', 'readMemory fffe,4', 'readMemory 10000,4']);
  });

  it('keeps an m reply within the packet size', () => {
    const h = Harness.connected();
    h.request('m0,10000');
    expect(h.target.calls).toEqual(['readMemory 0,8191']);
  });

  it('writes hex data with M', () => {
    const h = Harness.connected();
    expect(h.request('M3000,3:010203')).toBe(frame('OK'));
    expect(Array.from(h.target.memory.subarray(0x3000, 0x3003))).toEqual([1, 2, 3]);
    expect(h.request('M3000,4:010203')).toBe(frame('E22'));
    expect(h.request('Mfffe,4:01020304')).toBe(frame('E14'));
  });

  it('writes escaped binary data with X, and answers the zero-length probe with OK', () => {
    const h = Harness.connected();
    expect(h.request('X3000,0:')).toBe(frame('OK'));
    expect(h.target.calls).toEqual([]);
    // The bytes 24 23 7d 2a 03 0a: the first four escaped, 0x03 raw.
    expect(h.request('X3000,6:}\x04}\x03}]}\x0a\x03\x0a')).toBe(frame('OK'));
    expect(h.target.calls).toEqual(['writeMemory 3000 24237d2a030a']);
    expect(h.request('X3000,2:a')).toBe(frame('E22'));
  });

  it('uses physical addresses after Qqemu.PhyMemMode:1, as QEMU does', () => {
    const h = Harness.connected();
    expect(h.request('qqemu.PhyMemMode')).toBe(frame('0'));
    expect(h.request('Qqemu.PhyMemMode:1')).toBe(frame('OK'));
    expect(h.request('qqemu.PhyMemMode')).toBe(frame('1'));
    h.request('m100,1');
    h.request('M100,1:ff');
    h.request('X100,1:a');
    expect(h.request('Qqemu.PhyMemMode:0')).toBe(frame('OK'));
    h.request('m100,1');
    expect(h.request('Qqemu.PhyMemMode:')).toBe(frame('E22'));
    expect(h.target.calls).toEqual([
      'readMemory 100,1 physical',
      'writeMemory 100 ff physical',
      'writeMemory 100 61 physical',
      'readMemory 100,1',
    ]);
  });
});

describe('breakpoints and watchpoints (Z/z packets)', () => {
  it('passes type, address and kind to the target', () => {
    const h = Harness.connected();
    expect(h.request('Z0,1008,1')).toBe(frame('OK'));
    expect(h.request('Z1,1010,1')).toBe(frame('OK'));
    expect(h.request('Z2,2000,4')).toBe(frame('OK'));
    expect(h.request('Z3,2004,2')).toBe(frame('OK'));
    expect(h.request('Z4,2008,8')).toBe(frame('OK'));
    expect(h.request('z0,1008,1')).toBe(frame('OK'));
    expect(h.request('Z0,100c,1;X2,0a')).toBe(frame('OK'));
    expect(h.target.calls).toEqual([
      'insertBreakpoint 0 1008 1',
      'insertBreakpoint 1 1010 1',
      'insertBreakpoint 2 2000 4',
      'insertBreakpoint 3 2004 2',
      'insertBreakpoint 4 2008 8',
      'removeBreakpoint 0 1008 1',
      'insertBreakpoint 0 100c 1',
    ]);
  });

  it('answers E01 when the target refuses and E22 for a malformed request', () => {
    const h = Harness.connected();
    h.target.accepts = false;
    expect(h.request('Z2,2001,3')).toBe(frame('E01'));
    expect(h.request('z1,1010,1')).toBe(frame('E01'));
    expect(h.request('Z5,1000,1')).toBe(frame('E22'));
    expect(h.request('Z0,1000')).toBe(frame('E22'));
  });
});

describe('running and stopping', () => {
  it('continues with no reply until the guest stops, then sends the stop reply', () => {
    const h = Harness.connected();
    expect(h.request('c')).toBe('');
    expect(h.target.calls).toEqual(['resume continue']);
    expect(h.session.state).toBe('running');
    expect(h.during(() => h.session.reportStop({ kind: 'breakpoint', type: 0 }))).toBe(frame('T05swbreak:;'));
    expect(h.session.state).toBe('stopped');
    expect(h.request('?')).toBe(frame('T05swbreak:;'));
  });

  it('sets eip before resuming when c or s names an address', () => {
    const h = Harness.connected();
    expect(h.request('s2000')).toBe('');
    expect(h.target.calls).toEqual(['writeRegister eip=2000', 'resume step']);
    expect(h.during(() => h.session.reportStop({ kind: 'step' }))).toBe(frame('T05'));
    expect(h.request('c3000')).toBe('');
    expect(h.target.calls.slice(2)).toEqual(['writeRegister eip=3000', 'resume continue']);
  });

  it('drops the signal of C and S (a bare-metal guest has none to deliver)', () => {
    const h = Harness.connected();
    h.request('S05');
    h.session.reportStop({ kind: 'step' });
    h.request('C02;4000');
    expect(h.target.calls).toEqual(['resume step', 'writeRegister eip=4000', 'resume continue']);
  });

  it('does not resume when eip cannot be set', () => {
    const h = Harness.connected();
    h.target.accepts = false;
    expect(h.request('c2000')).toBe(frame('E01'));
    expect(h.session.state).toBe('stopped');
    expect(h.request('cxyz')).toBe(frame('E22'));
  });

  it('offers vCont with c, C, s and S, and applies the leftmost action for thread 1', () => {
    const h = Harness.connected();
    expect(h.request('vCont?')).toBe(frame('vCont;c;C;s;S'));
    const modes: string[] = [];
    h.target.onResume = (mode) => modes.push(mode);
    for (const packet of ['vCont;s:1;c', 'vCont;c', 'vCont;c:2;s', 'vCont;S05:1', 'vCont;s:p1.1;c:-1', 'vCont;c:-1']) {
      expect(h.request(packet)).toBe('');
      h.session.reportStop({ kind: 'step' });
    }
    expect(modes).toEqual(['step', 'continue', 'step', 'step', 'step', 'continue']);
    expect(h.request('vCont;c:2')).toBe(frame('E22'));
    expect(h.request('vCont;t')).toBe(frame('E22'));
  });

  it('interrupts a running guest on Ctrl-C and reports SIGINT', () => {
    const h = Harness.connected();
    h.request('vCont;c');
    expect(h.raw('\x03')).toBe('');
    expect(h.target.calls).toEqual(['resume continue', 'interrupt']);
    expect(h.during(() => h.session.reportStop({ kind: 'interrupted' }))).toBe(frame('T02'));
    expect(h.request('?')).toBe(frame('T02'));
  });

  it('ignores Ctrl-C while the guest is stopped (it crossed the stop reply)', () => {
    const h = Harness.connected();
    expect(h.raw('\x03')).toBe('');
    expect(h.target.calls).toEqual([]);
  });

  it('takes a stop reported from inside resume() or interrupt()', () => {
    const h = Harness.connected();
    h.target.onResume = (mode) => h.session.reportStop(mode === 'step' ? { kind: 'step' } : { kind: 'breakpoint', type: 1 });
    expect(h.request('s')).toBe(frame('T05'));
    h.target.onResume = undefined;
    h.target.onInterrupt = () => h.session.reportStop({ kind: 'interrupted' });
    expect(h.request('c')).toBe('');
    expect(h.raw('\x03')).toBe(frame('T02'));
  });

  it('holds packets that arrive while the guest runs until after the stop reply', () => {
    const h = Harness.connected();
    h.request('c');
    expect(h.request('p8')).toBe('');
    expect(h.during(() => h.session.reportStop({ kind: 'step' }))).toBe(frame('T05') + frame('00100000'));
  });

  it('acknowledges a packet that arrives while the guest runs, in ack mode', () => {
    const h = new Harness();
    expect(h.request('c')).toBe('+');
    expect(h.request('g')).toBe('+');
    expect(h.raw('\x03')).toBe('');
    expect(h.target.calls).toEqual(['resume continue', 'interrupt']);
  });

  it('keeps a stop reported while stopped for the next ?, sending nothing', () => {
    const h = Harness.connected();
    expect(h.during(() => h.session.reportStop({ kind: 'interrupted' }))).toBe('');
    expect(h.request('?')).toBe(frame('T02'));
  });
});

describe('stop replies (E.3 "Stop Reply Packets")', () => {
  const both = { swbreak: true, hwbreak: true };
  const neither = { swbreak: false, hwbreak: false };
  const cases: [StopReason, string, string][] = [
    [{ kind: 'breakpoint', type: 0 }, 'T05swbreak:;', 'T05'],
    [{ kind: 'breakpoint', type: 1 }, 'T05hwbreak:;', 'T05'],
    [{ kind: 'watchpoint', type: 2, address: 0x2000 }, 'T05watch:2000;', 'T05watch:2000;'],
    [{ kind: 'watchpoint', type: 3, address: 0xc0001234 }, 'T05rwatch:c0001234;', 'T05rwatch:c0001234;'],
    [{ kind: 'watchpoint', type: 4, address: 0 }, 'T05awatch:0;', 'T05awatch:0;'],
    [{ kind: 'step' }, 'T05', 'T05'],
    [{ kind: 'interrupted' }, 'T02', 'T02'],
    [{ kind: 'exited', status: 0 }, 'W00', 'W00'],
    [{ kind: 'exited', status: 0x2a }, 'W2a', 'W2a'],
    [{ kind: 'terminated', status: 4, message: 'triple fault' }, 'X0b', 'X0b'],
  ];

  it.each(cases)('%o is %s (or %s to a debugger without swbreak+/hwbreak+)', (reason, withFeatures, without) => {
    expect(stopReply(reason, both)).toBe(withFeatures);
    expect(stopReply(reason, neither)).toBe(without);
  });

  it('names breakpoints only to a debugger that said swbreak+ / hwbreak+', () => {
    const h = Harness.connected('multiprocess+;xmlRegisters=i386');
    h.request('c');
    expect(h.during(() => h.session.reportStop({ kind: 'breakpoint', type: 0 }))).toBe(frame('T05'));
  });

  it('prints why the run was terminated before the X reply', () => {
    const h = Harness.connected();
    h.request('c');
    const message = 'triple fault at 0008:00001010';
    const output = h.during(() => h.session.reportStop({ kind: 'terminated', status: 4, message }));
    expect(output).toBe(frame(`O${Buffer.from(`${message}\n`).toString('hex')}`) + frame('X0b'));
  });

  it('does not resume a guest whose run is over: the exit is reported again', () => {
    const h = Harness.connected();
    h.request('c');
    expect(h.during(() => h.session.reportStop({ kind: 'exited', status: 3 }))).toBe(frame('W03'));
    expect(h.request('c')).toBe(frame('W03'));
    expect(h.request('vCont;s:1')).toBe(frame('W03'));
    expect(h.request('?')).toBe(frame('W03'));
    expect(h.target.calls).toEqual(['resume continue']);
  });
});

describe('monitor commands (qRcmd)', () => {
  it('sends the output as O packets, then OK', () => {
    const h = Harness.connected();
    const reply = h.request(`qRcmd,${Buffer.from('info').toString('hex')}`);
    expect(reply).toBe(frame(`O${Buffer.from('engine: trap\nCPL 0\n').toString('hex')}`) + frame('OK'));
    expect(h.target.calls).toEqual(['monitor info']);
  });

  it('splits long output so that every O packet fits the packet size', () => {
    const h = Harness.connected();
    const reply = h.request(`qRcmd,${Buffer.from('long').toString('hex')}`);
    const packets = reply.split('$').slice(1).map((p) => p.slice(0, -3));
    expect(packets.at(-1)).toBe('OK');
    expect(packets.slice(0, -1).every((p) => p[0] === 'O' && p.length <= 0x4000)).toBe(true);
    const text = Buffer.from(packets.slice(0, -1).map((p) => p.slice(1)).join(''), 'hex').toString();
    expect(text).toBe(`${'x'.repeat(0x3000)}\n`);
  });

  it('gives the empty reply for an unknown command ("Target does not support this command.")', () => {
    const h = Harness.connected();
    expect(h.request(`qRcmd,${Buffer.from('frobnicate').toString('hex')}`)).toBe(frame(''));
    expect(h.request('qRcmd,6')).toBe(frame('E22'));
  });
});

describe('ending the session', () => {
  it('replies OK to D, then detaches, and takes no further packets', () => {
    const h = Harness.connected();
    expect(h.request('D')).toBe(frame('OK'));
    expect(h.target.calls).toEqual(['detach']);
    expect(h.session.state).toBe('detached');
    expect(h.request('?')).toBe('');
    expect(h.during(() => h.session.reportStop({ kind: 'step' }))).toBe('');
  });

  it('kills the guest on k without a reply', () => {
    const h = new Harness();
    expect(h.request('k')).toBe('+');
    expect(h.target.calls).toEqual(['kill']);
    expect(h.session.state).toBe('killed');
  });

  it('acts on k at once even while the guest runs', () => {
    const h = Harness.connected();
    h.request('c');
    expect(h.request('k')).toBe('');
    expect(h.target.calls).toEqual(['resume continue', 'kill']);
    expect(h.during(() => h.session.reportStop({ kind: 'interrupted' }))).toBe('');
  });
});
