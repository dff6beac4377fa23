// Small pieces the trace writers share: a fixed register order (so every format lists changed
// registers the same way whatever order the producer filled them in), hex formatting, and the
// little-endian bytes of a memory access's value.
import { hex } from '../util/hex.js';
import type { MemoryAccess, TracedRegister } from './trace-record.js';

export { hex };

/** The order formats list registers in: general registers in encoding order, then EIP, EFLAGS,
 *  the segment registers and the control registers. */
export const REGISTER_ORDER: readonly TracedRegister[] = [
  'eax', 'ecx', 'edx', 'ebx', 'esp', 'ebp', 'esi', 'edi',
  'eip', 'eflags', 'cs', 'ss', 'ds', 'es', 'fs', 'gs',
  'cr0', 'cr2', 'cr3', 'cr4',
];

const SEGMENT_REGISTERS = new Set<TracedRegister>(['cs', 'ss', 'ds', 'es', 'fs', 'gs']);

/** A register's value as the text format prints it: selectors in 4 digits, the rest in 8. */
export function registerHex(name: TracedRegister, value: number): string {
  return hex(value, SEGMENT_REGISTERS.has(name) ? 4 : 8);
}

/** The value of an access as `size` bytes, least significant first (x86 memory order). */
export function valueBytes(access: MemoryAccess): Uint8Array {
  const bytes = new Uint8Array(access.size);
  let value = BigInt.asUintN(access.size * 8, BigInt(access.value));
  for (let i = 0; i < access.size; i++) {
    bytes[i] = Number(value & 0xffn);
    value >>= 8n;
  }
  return bytes;
}

/** The value of an access in hex, `size * 2` digits. */
export function valueHex(access: MemoryAccess): string {
  const digits = access.size * 2;
  if (typeof access.value === 'number' && access.size <= 4) {
    const value = access.size === 4 ? access.value >>> 0 : access.value & ((1 << (access.size * 8)) - 1);
    return value.toString(16).padStart(digits, '0');
  }
  return BigInt.asUintN(access.size * 8, BigInt(access.value)).toString(16).padStart(digits, '0');
}

export function bytesHex(bytes: Uint8Array, separator = ''): string {
  let text = '';
  for (let i = 0; i < bytes.length; i++) {
    if (i > 0) text += separator;
    text += (bytes[i] < 16 ? '0' : '') + bytes[i].toString(16);
  }
  return text;
}

/**
 * Whether an instruction ends a basic block: jumps, calls, returns, software interrupts, loops,
 * the fast system-call pairs and HLT. Capstone puts
 * prefixes into the mnemonic ("rep movsb", "bnd jmp"), so the last word is the instruction.
 */
export function endsBasicBlock(mnemonic: string): boolean {
  const space = mnemonic.lastIndexOf(' ');
  const name = space < 0 ? mnemonic : mnemonic.slice(space + 1);
  return TRANSFER.test(name);
}

const TRANSFER = /^(j|call|lcall|ljmp|ret|lret|iret|int|loop|sysenter|sysexit|syscall|sysret|hlt)/;
