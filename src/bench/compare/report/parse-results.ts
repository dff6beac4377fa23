// Reads a result set back from its JSON (`vmm bench compare --from results.json`): checks the
// schema version and every field the reports read, so a file from another version or one cut
// short is refused with a one-line error naming the file and the field, instead of drawing a
// report with holes in it.
import { COMPARE_SCHEMA, type CompareResults } from '../results.js';

/** A result file that cannot be read; the message is one line and names the file. */
export class ResultsFileError extends Error {
  override name = 'ResultsFileError';
}

type Json = Record<string, unknown>;

const KINDS: Record<string, string> = { nano: 'ns', macro: 's' };
const UNMEASURED = ['unfaithful', 'not-applicable', 'failed'];

function kindOf(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'an array';
  return `a ${typeof value}`;
}

/** Checks fields of one JSON object; `where` names it in errors ("benchmark popf (benchmarks[4])"). */
class Fields {
  constructor(
    private readonly source: string,
    readonly where: string,
    readonly value: Json,
  ) {}

  fail(problem: string): never {
    const where = this.where ? `${this.where}: ` : '';
    throw new ResultsFileError(`${this.source}: ${where}${problem}`.replace(/\s*\n\s*/g, ' '));
  }

  private present(key: string): unknown {
    if (!(key in this.value)) this.fail(`${key} is missing`);
    return this.value[key];
  }

  private typed<T>(key: string, expected: string, ok: (v: unknown) => boolean, optional: boolean): T | undefined {
    if (optional && !(key in this.value)) return undefined;
    const value = this.present(key);
    if (!ok(value)) this.fail(`${key} is ${kindOf(value)}, expected ${expected}`);
    return value as T;
  }

  string(key: string): string {
    return this.typed<string>(key, 'a string', (v) => typeof v === 'string', false)!;
  }

  optionalString(key: string): void {
    this.typed<string>(key, 'a string', (v) => typeof v === 'string', true);
  }

  number(key: string): number {
    return this.typed<number>(key, 'a number', (v) => typeof v === 'number', false)!;
  }

  optionalNumber(key: string): void {
    this.typed<number>(key, 'a number', (v) => typeof v === 'number', true);
  }

  oneOf(key: string, allowed: readonly string[]): string {
    const value = this.string(key);
    if (!allowed.includes(value)) this.fail(`${key} is "${value}", expected one of ${allowed.join(', ')}`);
    return value;
  }

  numbers(key: string, length?: number): void {
    const list = this.typed<unknown[]>(key, 'an array of numbers', Array.isArray, false)!;
    if (length !== undefined && list.length !== length) this.fail(`${key} has ${list.length} numbers, expected ${length}`);
    const bad = list.findIndex((n) => typeof n !== 'number');
    if (bad >= 0) this.fail(`${key}[${bad}] is ${kindOf(list[bad])}, expected a number`);
  }

  strings(key: string): string[] {
    const list = this.typed<unknown[]>(key, 'an array of strings', Array.isArray, false)!;
    const bad = list.findIndex((s) => typeof s !== 'string');
    if (bad >= 0) this.fail(`${key}[${bad}] is ${kindOf(list[bad])}, expected a string`);
    return list as string[];
  }

  array(key: string): unknown[] {
    return this.typed<unknown[]>(key, 'an array', Array.isArray, false)!;
  }

  /** The object at `key`, checked under the name `where`. */
  object(key: string, where = this.inner(key)): Fields {
    return this.asObject(this.present(key), key, where);
  }

  asObject(value: unknown, name: string, where: string): Fields {
    if (typeof value !== 'object' || value === null || Array.isArray(value)) this.fail(`${name} is ${kindOf(value)}, expected an object`);
    return new Fields(this.source, where, value as Json);
  }

  private inner(key: string): string {
    return this.where ? `${this.where}.${key}` : key;
  }
}

function checkCell(cell: Fields): void {
  const status = cell.oneOf('status', ['ok', ...UNMEASURED]);
  if (status !== 'ok') {
    cell.string('reason');
    return;
  }
  for (const key of ['median', 'min', 'max']) cell.number(key);
  cell.numbers('samples');
  for (const key of ['exitsPerOp', 'vmmCallsPerOp', 'ratio']) cell.optionalNumber(key);
}

function checkBenchmark(top: Fields, value: unknown, index: number, columns: string[]): void {
  const position = `benchmarks[${index}]`;
  const name = top.asObject(value, position, position).string('name');
  const b = top.asObject(value, position, `benchmark ${name} (${position})`);
  const kind = b.oneOf('kind', Object.keys(KINDS));
  const unit = b.oneOf('unit', Object.values(KINDS));
  if (unit !== KINDS[kind]) b.fail(`unit is "${unit}", but a ${kind} benchmark is timed in ${KINDS[kind]}`);
  b.string('description');
  const cells = b.object('cells');
  for (const column of columns) checkCell(cells.object(column));
  const extra = Object.keys(cells.value).find((column) => !columns.includes(column));
  if (extra !== undefined) cells.fail(`a cell for "${extra}", which is not one of the columns (${columns.join(', ')})`);
}

export function parseResults(text: string, source: string): CompareResults {
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (error) {
    throw new ResultsFileError(`${source}: not JSON (${(error as Error).message})`.replace(/\s*\n\s*/g, ' '));
  }
  const top = new Fields(source, '', {}).asObject(parsed, 'the file', '');
  if (!('schema' in top.value)) top.fail(`no schema field: not a vmm bench compare result set (expected schema "${COMPARE_SCHEMA}")`);
  const schema = top.string('schema');
  if (schema !== COMPARE_SCHEMA) top.fail(`schema is "${schema}", this vmm reads "${COMPARE_SCHEMA}"`);
  top.string('date');
  top.string('command');
  const machine = top.object('machine');
  machine.string('cpu');
  machine.number('cores');
  machine.number('tscHz');
  machine.numbers('loadBefore', 3);
  machine.numbers('loadAfter', 3);
  const versions = top.object('versions');
  for (const key of ['vmm', 'node', 'unicorn']) versions.string(key);
  versions.optionalString('qemu');
  top.number('repetitions');
  const columns = top.strings('columns');
  const twice = columns.find((column, i) => columns.indexOf(column) !== i);
  if (twice !== undefined) top.fail(`columns has "${twice}" twice`);
  top.array('benchmarks').forEach((b, i) => checkBenchmark(top, b, i, columns));
  return parsed as CompareResults;
}
