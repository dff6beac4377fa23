// Instruction decoding with Capstone (capstone-wasm): each guest instruction is decoded once and
// cached by mode, linear address and bytes, since a JS call into the WASM decoder costs ~2 µs.
import { Capstone, Const, loadCapstone } from 'capstone-wasm';

export interface DecodedInstruction {
  mnemonic: string;
  operands: string;
  /** "mnemonic operands" */
  text: string;
  size: number;
}

const MAX_CACHE_ENTRIES = 1 << 16;

export class Decoder {
  private readonly engines: Record<16 | 32, Capstone>;
  // Keyed by address and mode; the bytes are compared, so rewritten code is decoded again.
  private readonly cache = new Map<number, CacheEntry>();

  private constructor() {
    this.engines = { 16: new Capstone(Const.CS_ARCH_X86, Const.CS_MODE_16), 32: new Capstone(Const.CS_ARCH_X86, Const.CS_MODE_32) };
  }

  static async create(): Promise<Decoder> {
    await loadCapstone();
    return new Decoder();
  }

  decode(bits: 16 | 32, linear: number, bytes: Uint8Array): DecodedInstruction {
    const key = linear * 2 + (bits === 32 ? 1 : 0);
    const hit = this.cache.get(key);
    if (hit && sameBytes(hit.bytes, bytes)) return hit.decoded;
    let decoded: DecodedInstruction;
    try {
      const [insn] = this.engines[bits].disasm(bytes, { address: linear, count: 1 });
      decoded = insn
        ? { mnemonic: insn.mnemonic, operands: insn.opStr, text: insn.opStr ? `${insn.mnemonic} ${insn.opStr}` : insn.mnemonic, size: insn.size }
        : undecodable(bytes.length);
    } catch {
      decoded = undecodable(bytes.length);
    }
    if (this.cache.size >= MAX_CACHE_ENTRIES) this.cache.clear(); // bounded memory on self-modifying guests
    this.cache.set(key, { bytes: bytes.slice(), decoded });
    return decoded;
  }
}

interface CacheEntry {
  bytes: Uint8Array;
  decoded: DecodedInstruction;
}

function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

function undecodable(size: number): DecodedInstruction {
  return { mnemonic: '(bad)', operands: '', text: '(bad)', size };
}
