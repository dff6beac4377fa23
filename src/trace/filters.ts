// Which instructions a trace records: address ranges, privilege level, a start address, a
// mnemonic match, and a window (skip the first N, stop after M). Each bad value is one clear error.
export class TraceFilterError extends Error {}

export interface TraceFilterOptions {
  range?: string;
  cpl?: string;
  skip?: string;
  count?: string;
  startAt?: string;
  match?: string;
}

export interface TraceFilter {
  ranges: { start: number; end: number }[]; // inclusive ends; empty means everything
  cpl?: number[];
  skip: number;
  count: number;
  startAt?: number;
  match?: RegExp;
}

function address(option: string, text: string): number {
  const value = /^0x[0-9a-f]+$/i.test(text) ? parseInt(text, 16) : /^\d+$/.test(text) ? Number(text) : NaN;
  if (!Number.isFinite(value) || value > 0xffffffff) {
    throw new TraceFilterError(`invalid ${option} '${text}': give an address such as 0x100000`);
  }
  return value;
}

function wholeNumber(option: string, text: string, minimum: number): number {
  if (!/^\d+$/.test(text) || Number(text) < minimum) {
    throw new TraceFilterError(`invalid ${option} '${text}': give a whole number of instructions${minimum > 0 ? ' (at least 1)' : ''}`);
  }
  return Number(text);
}

function parseRanges(text: string): { start: number; end: number }[] {
  return text.split(',').map((part) => {
    const span = /^([^-+]+)([-+])(.+)$/.exec(part.trim());
    if (!span) throw new TraceFilterError(`invalid --range '${part}': give START-END or START+LENGTH, e.g. 0x100000-0x100fff`);
    const start = address('--range', span[1]);
    const second = address('--range', span[3]);
    const end = span[2] === '-' ? second : start + second - 1;
    if (end < start || (span[2] === '+' && second === 0)) {
      throw new TraceFilterError(`invalid --range '${part}': the range is empty`);
    }
    return { start, end };
  });
}

function parseCpl(text: string): number[] {
  switch (text) {
    case 'user':
      return [3];
    case 'kernel':
      return [0];
    default:
      if (/^[0-3]$/.test(text)) return [Number(text)];
      throw new TraceFilterError(`invalid --cpl '${text}': give user, kernel or a privilege level 0-3`);
  }
}

function parseMatch(text: string): RegExp {
  const regex = /^\/(.*)\/([a-z]*)$/.exec(text);
  try {
    return regex ? new RegExp(regex[1], regex[2]) : new RegExp(`^${text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}\\b`, 'i');
  } catch (error) {
    throw new TraceFilterError(`invalid --match '${text}': ${(error as Error).message}`);
  }
}

export function parseTraceFilter(options: TraceFilterOptions): TraceFilter {
  return {
    ranges: options.range === undefined ? [] : parseRanges(options.range),
    cpl: options.cpl === undefined ? undefined : parseCpl(options.cpl),
    skip: options.skip === undefined ? 0 : wholeNumber('--skip', options.skip, 0),
    count: options.count === undefined ? Infinity : wholeNumber('--count', options.count, 1),
    startAt: options.startAt === undefined ? undefined : address('--start-at', options.startAt),
    match: options.match === undefined ? undefined : parseMatch(options.match),
  };
}

/** Whether one instruction passes the address, privilege and mnemonic filters. */
export function selects(filter: TraceFilter, linear: number, cpl: number, text: string): boolean {
  if (filter.ranges.length > 0 && !filter.ranges.some((r) => linear >= r.start && linear <= r.end)) return false;
  if (filter.cpl && !filter.cpl.includes(cpl)) return false;
  if (filter.match && !filter.match.test(text)) return false;
  return true;
}
