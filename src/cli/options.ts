// Parsing of command-line values, each failing with a one-line UserError.
import { MAX_RAM_MIB, MIN_RAM_MIB } from '../vmm/layout.js';
import { UserError } from './user-error.js';

/** RAM size in MiB: "64", "64M", "64MiB", "1G", "1GiB". */
export function parseRamMiB(text: string): number {
  const match = /^\s*(\d+)\s*(m|mb|mib|g|gb|gib)?\s*$/i.exec(text);
  if (!match) throw new UserError(`invalid RAM size '${text}': give MiB, for example 64 or 1G`);
  const unit = (match[2] ?? 'm').toLowerCase();
  const mib = Number(match[1]) * (unit.startsWith('g') ? 1024 : 1);
  if (mib < MIN_RAM_MIB) throw new UserError(`RAM size ${mib} MiB is too small (minimum ${MIN_RAM_MIB} MiB)`);
  if (mib > MAX_RAM_MIB) throw new UserError(`RAM size ${mib} MiB is larger than the ${MAX_RAM_MIB} MiB maximum`);
  return mib;
}

export function parsePositiveNumber(what: string, text: string): number {
  const value = Number(text);
  if (text.trim() === '' || !Number.isFinite(value) || value <= 0) {
    throw new UserError(`invalid ${what} '${text}': give a positive number`);
  }
  return value;
}

export function parsePositiveInteger(what: string, text: string): number {
  const value = parsePositiveNumber(what, text);
  if (!Number.isInteger(value)) throw new UserError(`invalid ${what} '${text}': give a whole number`);
  return value;
}

/** An address: decimal or 0x-prefixed hexadecimal, below 4 GiB. */
export function parseAddress(what: string, text: string): number {
  const value = /^0x[0-9a-f]+$/i.test(text) ? parseInt(text, 16) : /^\d+$/.test(text) ? Number(text) : NaN;
  if (!Number.isFinite(value) || value > 0xffffffff) {
    throw new UserError(`invalid ${what} '${text}': give an address such as 0x7c00`);
  }
  return value;
}
