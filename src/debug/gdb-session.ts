// One debugger connection speaking GDB's Remote Serial Protocol in all-stop mode (GDB manual,
// Appendix E): it reads packets, answers them from a DebugTarget, and tells the debugger when a
// resumed guest stops. It owns no socket and no guest: bytes come in through receive(), go out
// through the send function it was given, and the VMM side reports stops with reportStop().
import type { BreakpointType, DebugTarget, StopReason, WritableRegister } from './debug-target.js';
import {
  encodeRegisterFile,
  readRegisterHex,
  registerByNumber,
  registerBytes,
  splitRegisterFile,
  TARGET_XML,
} from './i386-target.js';
import {
  bytesToHex,
  framePacket,
  hexToBytes,
  hexToText,
  PacketReader,
  parseHex32le,
  parseHexNumber,
  xferWindow,
} from './rsp-packets.js';

/** The largest packet we take, advertised in qSupported as PacketSize (hex); replies keep to it too. */
export const PACKET_SIZE = 0x4000;

/** GDB's signal numbers (include/gdb/signals.def), as stop replies carry them. */
export const GDB_SIGNAL_INT = 0x02;
export const GDB_SIGNAL_TRAP = 0x05;
/**
 * A run that ended other than by the guest exiting (a crash such as a triple fault, or a limit) is
 * reported as "terminated with signal SIGSEGV": GDB then says the program died, which is the
 * nearest thing it has to "the machine failed". The reason itself goes to the console first.
 */
export const GDB_SIGNAL_SEGV = 0x0b;

/** What the debugger said it understands, from its qSupported. */
export interface ClientFeatures {
  swbreak: boolean;
  hwbreak: boolean;
}

/** The only thread: the guest's one vCPU. */
const THREAD_ID = 1;

// "E NN" replies: GDB only shows the number, so they follow QEMU's errno-style choice: EFAULT
// for memory that is not there, EINVAL for a request that does not parse, 01 for a refusal.
const ERROR_TARGET = 'E01';
const ERROR_MEMORY = 'E14';
const ERROR_REQUEST = 'E22';

const WATCH_NAMES = { 2: 'watch', 3: 'rwatch', 4: 'awatch' } as const;

function hex2(value: number): string {
  return (value & 0xff).toString(16).padStart(2, '0');
}

/**
 * The stop reply for a reason ("Stop Reply Packets"). Breakpoint reasons are only named to a
 * debugger that asked for them in qSupported, as the manual requires; others get a plain SIGTRAP.
 */
export function stopReply(reason: StopReason, client: ClientFeatures): string {
  const trap = `T${hex2(GDB_SIGNAL_TRAP)}`;
  switch (reason.kind) {
    case 'breakpoint':
      if (reason.type === 0) return client.swbreak ? `${trap}swbreak:;` : trap;
      return client.hwbreak ? `${trap}hwbreak:;` : trap;
    case 'watchpoint':
      return `${trap}${WATCH_NAMES[reason.type]}:${(reason.address >>> 0).toString(16)};`;
    case 'step':
      return trap;
    case 'interrupted':
      return `T${hex2(GDB_SIGNAL_INT)}`;
    case 'exited':
      return `W${hex2(reason.status)}`;
    case 'terminated':
      return `X${hex2(GDB_SIGNAL_SEGV)}`;
  }
}

/**
 * Whether a thread-id names our one thread ("thread-id syntax"): `1`, `0` (any), `-1` (all), or
 * the multiprocess forms `pPID.TID` and `pPID`.
 */
function isOurThread(id: string): boolean {
  const match = /^(?:p(?:-1|[0-9a-fA-F]+)(?:\.(-1|[0-9a-fA-F]+))?|(-1|[0-9a-fA-F]+))$/.exec(id);
  if (!match) return false;
  const tid = match[1] ?? match[2];
  if (tid === undefined || tid === '-1') return true;
  const number = parseInt(tid, 16);
  return number === 0 || number === THREAD_ID;
}

/** `ADDR,LENGTH` as m, M and X write them. */
function parseAddressLength(text: string): { address: number; length: number } | undefined {
  const [addressText, lengthText, extra] = text.split(',');
  if (extra !== undefined || lengthText === undefined) return undefined;
  const address = parseHexNumber(addressText);
  const length = parseHexNumber(lengthText);
  return address === undefined || length === undefined ? undefined : { address, length };
}

export type SessionState = 'stopped' | 'running' | 'detached' | 'killed';

export class GdbSession {
  private readonly reader = new PacketReader();
  private readonly queue: Buffer[] = [];
  private readonly client: ClientFeatures = { swbreak: false, hwbreak: false };
  private noAck = false;
  /** Qqemu.PhyMemMode: m, M and X take physical addresses. */
  private physical = false;
  private running = false;
  private ended: 'detached' | 'killed' | undefined;
  private pumping = false;
  /** Why the guest last stopped; before any report, the initial stop GDB expects is a SIGTRAP. */
  private lastStop: StopReason = { kind: 'step' };

  constructor(
    private readonly target: DebugTarget,
    private readonly send: (bytes: Buffer) => void,
  ) {}

  /** Stopped, running (a c/s/vCont is waiting for its stop reply), or over: the VMM side closes
   *  the connection once the debugger detached or killed the guest. */
  get state(): SessionState {
    return this.ended ?? (this.running ? 'running' : 'stopped');
  }

  /** Bytes from the debugger, in any chunking. */
  receive(chunk: Uint8Array): void {
    for (const event of this.reader.feed(chunk)) {
      if (this.ended) return;
      switch (event.kind) {
        case 'packet':
          // "Packet Acknowledgment": '+' says the packet arrived intact, whether or not it can be
          // answered yet.
          if (!this.noAck) this.send(Buffer.from('+'));
          if (this.running && event.payload.toString('latin1') === 'k') {
            // 'k' has no reply to get in the way of the stop reply, so it need not wait.
            this.handle(event.payload);
          } else {
            this.queue.push(event.payload);
            this.pump();
          }
          break;
        case 'nack':
          if (!this.noAck) this.send(Buffer.from('-'));
          break;
        case 'ack':
          // Over TCP nothing arrives damaged, so a '-' never needs a packet sent again.
          break;
        case 'interrupt':
          // "Interrupts": Ctrl-C only means something while the guest runs; one arriving just
          // after a stop crossed the stop reply on the wire and is dropped.
          if (this.running) this.target.interrupt();
          break;
      }
    }
  }

  /**
   * The guest stopped. If the debugger is waiting (after c, s or vCont) it gets the stop reply;
   * otherwise the reason is only kept for its next `?` (all-stop mode has no unasked replies).
   */
  reportStop(reason: StopReason): void {
    if (this.ended) return;
    this.lastStop = reason;
    if (!this.running) return;
    this.running = false;
    if (reason.kind === 'terminated' && reason.message !== '') this.consoleOutput(`${reason.message}\n`);
    this.reply(stopReply(reason, this.client));
    this.pump();
  }

  /** Handles queued packets while the guest is stopped. In all-stop mode GDB sends nothing but
   *  Ctrl-C while the guest runs; anything else waits until the guest has stopped and the stop
   *  reply has gone out, so that replies never cross a stop reply. */
  private pump(): void {
    if (this.pumping) return;
    this.pumping = true;
    try {
      while (!this.running && !this.ended && this.queue.length > 0) this.handle(this.queue.shift()!);
    } finally {
      this.pumping = false;
    }
  }

  private reply(payload: string | Buffer): void {
    this.send(framePacket(payload));
  }

  /** Console output for the user, as `O` packets ("Stop Reply Packets"), each within PACKET_SIZE. */
  private consoleOutput(text: string): void {
    const bytes = Buffer.from(text, 'utf8');
    const chunk = (PACKET_SIZE - 1) >> 1;
    for (let offset = 0; offset < bytes.length; offset += chunk) {
      this.reply(`O${bytesToHex(bytes.subarray(offset, offset + chunk))}`);
    }
  }

  private handle(payload: Buffer): void {
    const text = payload.toString('latin1');
    switch (text[0]) {
      case '?':
        return this.reply(stopReply(this.lastStop, this.client));
      case 'q':
        return this.reply(this.query(text));
      case 'Q':
        return this.setting(text);
      case 'H':
        return this.reply(isOurThread(text.slice(2)) && (text[1] === 'g' || text[1] === 'c') ? 'OK' : ERROR_REQUEST);
      case 'T':
        return this.reply(isOurThread(text.slice(1)) ? 'OK' : ERROR_REQUEST);
      case 'g':
        return this.reply(encodeRegisterFile(this.target.readRegisters()));
      case 'G':
        return this.reply(this.writeRegisterFile(text.slice(1)));
      case 'p':
        return this.reply(this.readRegister(text.slice(1)));
      case 'P':
        return this.reply(this.writeRegister(text.slice(1)));
      case 'm':
        return this.reply(this.readMemory(text.slice(1)));
      case 'M':
        return this.reply(this.writeMemoryHex(text.slice(1)));
      case 'X':
        return this.reply(this.writeMemoryBinary(payload));
      case 'c':
      case 's':
        return this.resumeAt(text[0] === 's' ? 'step' : 'continue', text.slice(1));
      case 'C':
      case 'S': {
        // "C sig[;addr]": a bare-metal guest has no signals to deliver, so the signal is dropped.
        const semicolon = text.indexOf(';');
        return this.resumeAt(text[0] === 'S' ? 'step' : 'continue', semicolon < 0 ? '' : text.slice(semicolon + 1));
      }
      case 'v':
        return this.vPacket(text);
      case 'Z':
      case 'z':
        return this.reply(this.breakpoint(text));
      case 'D':
        // "D": answer first, then let the guest go; the debugger closes the connection.
        this.reply('OK');
        this.ended = 'detached';
        this.queue.length = 0;
        return this.target.detach();
      case 'k':
        // "k" has no reply.
        this.ended = 'killed';
        this.running = false;
        this.queue.length = 0;
        return this.target.kill();
      default:
        // "Standard Replies": the empty reply means "not supported".
        return this.reply('');
    }
  }

  private query(text: string): string | Buffer {
    if (text.startsWith('qSupported')) {
      const features = text.slice('qSupported:'.length).split(';');
      this.client.swbreak = features.includes('swbreak+');
      this.client.hwbreak = features.includes('hwbreak+');
      return [
        `PacketSize=${PACKET_SIZE.toString(16)}`,
        'qXfer:features:read+',
        'QStartNoAckMode+',
        'swbreak+',
        'hwbreak+',
        'vContSupported+',
      ].join(';');
    }
    if (text.startsWith('qXfer:')) return this.readFeatures(text);
    if (text.startsWith('qRcmd,')) return this.monitor(text.slice('qRcmd,'.length));
    switch (text) {
      case 'qAttached':
        // The guest existed before the debugger came: on quitting, GDB detaches rather than kills.
        return '1';
      case 'qC':
        return `QC${THREAD_ID.toString(16)}`;
      case 'qfThreadInfo':
        return `m${THREAD_ID.toString(16)}`;
      case 'qsThreadInfo':
        return 'l';
      case 'qqemu.PhyMemMode':
        return this.physical ? '1' : '0';
      case 'qqemu.Supported':
        return 'PhyMemMode';
    }
    if (text.startsWith('qAttached:')) return '1';
    return '';
  }

  private setting(text: string): void {
    if (text === 'QStartNoAckMode') {
      // The OK is still acknowledged by GDB; from the next packet on neither side sends '+'.
      this.reply('OK');
      this.noAck = true;
      return;
    }
    // QEMU's physical-memory mode (`maint packet Qqemu.PhyMemMode:1`): any non-zero number is on.
    const mode = /^Qqemu\.PhyMemMode:([0-9a-fA-F]+)$/.exec(text);
    if (mode) {
      this.physical = parseInt(mode[1], 16) !== 0;
      return this.reply('OK');
    }
    if (text.startsWith('Qqemu.PhyMemMode')) return this.reply(ERROR_REQUEST);
    this.reply('');
  }

  /** "qXfer:features:read:annex:offset,length" (General Query Packets). */
  private readFeatures(text: string): string | Buffer {
    const match = /^qXfer:features:read:([^:]*):([0-9a-fA-F]+),([0-9a-fA-F]+)$/.exec(text);
    if (!match) return text.startsWith('qXfer:features:read:') ? 'E00' : '';
    if (match[1] !== 'target.xml') return 'E00';
    const offset = parseHexNumber(match[2]);
    const length = parseHexNumber(match[3]);
    if (offset === undefined || length === undefined) return 'E00';
    return xferWindow(Buffer.from(TARGET_XML, 'utf8'), offset, Math.min(length, PACKET_SIZE - 1));
  }

  /**
   * "qRcmd,command" (`monitor ...`): the output as O packets, then OK. An unknown command gets
   * the empty reply, which GDB reports as "Target does not support this command."
   */
  private monitor(hex: string): string {
    const command = hexToText(hex);
    if (command === undefined) return ERROR_REQUEST;
    const output = this.target.monitor(command);
    if (output === undefined) return '';
    if (output !== '') this.consoleOutput(output.endsWith('\n') ? output : `${output}\n`);
    return 'OK';
  }

  private readRegister(text: string): string {
    const number = parseHexNumber(text);
    const value = number === undefined ? undefined : readRegisterHex(this.target.readRegisters(), number);
    return value ?? ERROR_REQUEST;
  }

  /** "P n...=r...": only the general and segment registers are writable. */
  private writeRegister(text: string): string {
    const [numberText, valueText] = text.split('=');
    const number = parseHexNumber(numberText);
    const register = number === undefined ? undefined : registerByNumber(number);
    if (!register || valueText === undefined) return ERROR_REQUEST;
    if (!register.writable) return ERROR_TARGET;
    const value = parseHex32le(valueText);
    if (value === undefined) return ERROR_REQUEST;
    return this.target.writeRegister(register.writable, value) ? 'OK' : ERROR_TARGET;
  }

  /**
   * "G XX...": GDB sends every register. Read-only registers must come back unchanged (GDB
   * rewrites the whole file when the user sets one register); the writable ones that changed are
   * written. Nothing is written when some read-only register would change.
   */
  private writeRegisterFile(hex: string): string {
    const data = hexToBytes(hex);
    if (!data) return ERROR_REQUEST;
    const current = this.target.readRegisters();
    const writes: { name: WritableRegister; value: number }[] = [];
    for (const { register, bytes } of splitRegisterFile(data)) {
      const now = registerBytes(current, register);
      if (Buffer.compare(Buffer.from(now), Buffer.from(bytes)) === 0) continue;
      if (!register.writable) return ERROR_TARGET;
      writes.push({ name: register.writable, value: Buffer.from(bytes).readUInt32LE(0) });
    }
    for (const { name, value } of writes) {
      if (!this.target.writeRegister(name, value)) return ERROR_TARGET;
    }
    return 'OK';
  }

  /** "m addr,length": as many bytes as are readable from addr (GDB asks again for the rest). */
  private readMemory(text: string): string {
    const request = parseAddressLength(text);
    if (!request) return ERROR_REQUEST;
    const length = Math.min(request.length, (PACKET_SIZE - 1) >> 1);
    if (length === 0) return '';
    const bytes = this.target.readMemory(request.address, length, this.physical);
    return bytes && bytes.length > 0 ? bytesToHex(bytes.subarray(0, length)) : ERROR_MEMORY;
  }

  /** "M addr,length:XX...". */
  private writeMemoryHex(text: string): string {
    const colon = text.indexOf(':');
    const request = colon < 0 ? undefined : parseAddressLength(text.slice(0, colon));
    const data = colon < 0 ? undefined : hexToBytes(text.slice(colon + 1));
    if (!request || !data || data.length !== request.length) return ERROR_REQUEST;
    return this.writeMemory(request.address, data);
  }

  /** "X addr,length:XX..." with binary data (the reader has undone the escapes). GDB probes for
   *  X support with a zero-length write, which must answer OK. */
  private writeMemoryBinary(payload: Buffer): string {
    const colon = payload.indexOf(0x3a);
    const request = colon < 0 ? undefined : parseAddressLength(payload.subarray(1, colon).toString('latin1'));
    if (!request) return ERROR_REQUEST;
    const data = new Uint8Array(payload.subarray(colon + 1));
    if (data.length !== request.length) return ERROR_REQUEST;
    return this.writeMemory(request.address, data);
  }

  private writeMemory(address: number, data: Uint8Array): string {
    if (data.length === 0) return 'OK';
    return this.target.writeMemory(address, data, this.physical) ? 'OK' : ERROR_MEMORY;
  }

  /** "Z type,addr,kind" / "z type,addr,kind"; a `;cond...` tail (never asked for) is ignored. */
  private breakpoint(text: string): string {
    const [type, address, kind] = text.slice(1).split(';')[0].split(',');
    const parsedType = /^[0-4]$/.test(type) ? (Number(type) as BreakpointType) : undefined;
    const parsedAddress = address === undefined ? undefined : parseHexNumber(address);
    const length = kind === undefined ? undefined : parseHexNumber(kind);
    if (parsedType === undefined || parsedAddress === undefined || length === undefined) return ERROR_REQUEST;
    const done =
      text[0] === 'Z'
        ? this.target.insertBreakpoint(parsedType, parsedAddress, length)
        : this.target.removeBreakpoint(parsedType, parsedAddress, length);
    // An error, not the empty reply: the empty reply would make GDB stop using this packet type
    // for the whole session, where the failure may be this address or length only.
    return done ? 'OK' : ERROR_TARGET;
  }

  private vPacket(text: string): void {
    if (text === 'vCont?') {
      // GDB only uses vCont when c, C, s and S are all there (remote.c checks).
      return this.reply('vCont;c;C;s;S');
    }
    if (text.startsWith('vCont;')) {
      const mode = this.vContMode(text.slice('vCont;'.length));
      if (mode === undefined) return this.reply(ERROR_REQUEST);
      return this.resume(mode);
    }
    // vMustReplyEmpty, vKill (GDB then sends 'k'), vFile, vRun...: the empty reply.
    this.reply('');
  }

  /** "vCont[;action[:thread-id]]...": our thread takes the leftmost action that names it or
   *  names no thread; `vCont;s:1;c` steps. */
  private vContMode(actions: string): 'continue' | 'step' | undefined {
    for (const action of actions.split(';')) {
      const colon = action.indexOf(':');
      const thread = colon < 0 ? undefined : action.slice(colon + 1);
      if (thread !== undefined && !isOurThread(thread)) continue;
      const letter = action[0];
      if (letter === 'c' || letter === 'C') return 'continue';
      if (letter === 's' || letter === 'S') return 'step';
      return undefined;
    }
    return undefined;
  }

  /** "c [addr]" / "s [addr]": resume at addr when one is given. */
  private resumeAt(mode: 'continue' | 'step', addressText: string): void {
    if (addressText !== '') {
      const address = parseHexNumber(addressText);
      if (address === undefined) return this.reply(ERROR_REQUEST);
      if (!this.target.writeRegister('eip', address)) return this.reply(ERROR_TARGET);
    }
    this.resume(mode);
  }

  private resume(mode: 'continue' | 'step'): void {
    if (this.lastStop.kind === 'exited' || this.lastStop.kind === 'terminated') {
      // The run is over: say so again rather than resume a guest that is gone.
      return this.reply(stopReply(this.lastStop, this.client));
    }
    // Running before resume(): a target may report the stop from inside resume().
    this.running = true;
    this.target.resume(mode);
  }
}
