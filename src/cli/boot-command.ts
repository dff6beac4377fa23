// `vmm boot [image]`: load a guest, run it under an engine, report how it ended.
import { closeSync, openSync } from 'node:fs';
import { LoadError, type LoadPlan } from '../boot/load-plan.js';
import { planImage } from '../boot/detect.js';
import { createEngine, UnknownEngine } from '../engines/index.js';
import { Machine } from '../vmm/machine.js';
import { NativeCoreMissing } from '../vmm/native.js';
import { runMachine, type RunLimits, type RunResult } from '../vmm/run-loop.js';
import type { Engine } from '../engines/engine.js';
import { DEFAULT_RAM_MIB } from '../vmm/layout.js';
import { ConsoleOutput } from './console-output.js';
import { defaultGuestPath, readGuestImage } from './guest-image.js';
import { parseAddress, parsePositiveInteger, parsePositiveNumber, parseRamMiB } from './options.js';
import { UserError } from './user-error.js';

export interface BootOptions {
  memory: string;
  engine: string;
  append: string;
  serial?: string;
  timeLimit?: string;
  maxExits?: string;
  format: string;
  loadAddress?: string;
  entry?: string;
  bits?: string;
  kernel?: string;
  initrd?: string;
  stdin: boolean;
}

export const bootDefaults = { memory: String(DEFAULT_RAM_MIB), engine: 'direct', append: '', format: 'auto' };

const FORMATS = ['auto', 'flat', 'bootsector', 'multiboot', 'linux'] as const;

export function planFromOptions(
  image: Uint8Array,
  ramBytes: number,
  options: BootOptions,
  initrd?: Uint8Array,
): LoadPlan {
  const format = options.format as (typeof FORMATS)[number];
  if (!FORMATS.includes(format)) {
    throw new UserError(`unknown image format '${options.format}'; choose one of ${FORMATS.join(', ')}`);
  }
  let flat: { loadAddress: number; entry?: number; bits: 16 | 32 } | undefined;
  if (format === 'flat') {
    if (options.loadAddress === undefined) throw new UserError('--format flat needs --load-address');
    const bits = Number(options.bits ?? '32');
    if (bits !== 16 && bits !== 32) throw new UserError(`invalid --bits '${options.bits}': give 16 or 32`);
    flat = {
      loadAddress: parseAddress('load address', options.loadAddress),
      entry: options.entry === undefined ? undefined : parseAddress('entry point', options.entry),
      bits,
    };
  }
  try {
    return planImage(image, { ramSize: ramBytes, cmdline: options.append, format, flat, initrd });
  } catch (error) {
    if (error instanceof LoadError) throw new UserError(error.message);
    throw error;
  }
}

/** A guest loaded into a machine, ready to run: what `vmm boot` and `vmm trace` share. */
export interface PreparedRun {
  machine: Machine;
  engine: Engine;
  limits: RunLimits;
  plan: LoadPlan;
  image: Uint8Array;
  imagePath: string;
}

/**
 * Checks every option, loads the image and builds the machine. `serialFd` is where the serial
 * console goes unless --serial names a file.
 */
export function prepareRun(
  imagePath: string | undefined,
  options: BootOptions,
  serialFd: number,
  translationBufferBytes?: number,
): PreparedRun & { output: ConsoleOutput; closeSerial: () => void } {
  const ramMiB = parseRamMiB(options.memory);
  const engine = (() => {
    try {
      return createEngine(options.engine);
    } catch (error) {
      if (error instanceof UnknownEngine) throw new UserError(error.message);
      throw error;
    }
  })();
  const limits = {
    timeLimitSeconds: options.timeLimit === undefined ? Infinity : parsePositiveNumber('time limit', options.timeLimit),
    maxExits: options.maxExits === undefined ? Infinity : parsePositiveInteger('exit limit', options.maxExits),
  };
  if (imagePath !== undefined && options.kernel !== undefined) {
    throw new UserError(`give the kernel either as the image argument or with --kernel, not both`);
  }
  const path = imagePath ?? options.kernel ?? defaultGuestPath();
  const ramBytes = ramMiB * 1024 * 1024;
  const image = readGuestImage(path, 'image', ramBytes);
  const initrd = options.initrd === undefined ? undefined : readGuestImage(options.initrd, 'initrd', ramBytes);
  const plan = planFromOptions(image, ramMiB * 1024 * 1024, options, initrd);

  let fd = serialFd;
  if (options.serial !== undefined) {
    try {
      fd = openSync(options.serial, 'w');
    } catch (error) {
      throw new UserError(`cannot write serial output to '${options.serial}': ${(error as NodeJS.ErrnoException).code}`);
    }
  }
  const output = new ConsoleOutput(fd);
  let machine: Machine;
  try {
    machine = new Machine({ ramBytes: ramMiB * 1024 * 1024, consoleOutput: output.push, translationBufferBytes, vmmRegion: engine.name === 'trap' });
  } catch (error) {
    if (error instanceof NativeCoreMissing) throw new UserError(error.message);
    throw error;
  }
  machine.load(plan);
  const closeSerial = () => {
    if (fd !== serialFd) closeSync(fd);
  };
  return { machine, engine, limits, plan, image, imagePath: path, output, closeSerial };
}

/** Runs a prepared guest to its end, then reports how it ended on stderr. */
export async function executeRun(
  prepared: ReturnType<typeof prepareRun>,
  options: BootOptions,
): Promise<RunResult> {
  const { machine, engine, limits, output } = prepared;
  const detachInput = options.stdin ? attachStdin(machine) : () => {};
  machine.mayReceiveInput = options.stdin;
  const flushTimer = setInterval(() => output.flush(), 50);
  let result: RunResult;
  try {
    await engine.prepare?.();
    result = await runMachine(machine, engine, limits);
  } finally {
    clearInterval(flushTimer);
    detachInput();
    output.flush();
    prepared.closeSerial();
    machine.close();
  }
  process.stderr.write(`vmm: ${describeOutcome(result)}\n`);
  process.stderr.write(`vmm: ${summaryLine(result)}\n`);
  for (const line of engine.report?.() ?? []) process.stderr.write(`vmm: ${line}\n`);
  return result;
}

export async function bootCommand(imagePath: string | undefined, options: BootOptions): Promise<number> {
  const result = await executeRun(prepareRun(imagePath, options, 1), options);
  return result.outcome.status;
}

function attachStdin(machine: Machine): () => void {
  const stdin = process.stdin;
  const onData = (data: Buffer) => machine.uart.receive(data);
  stdin.on('data', onData);
  stdin.on('error', () => {});
  return () => {
    stdin.off('data', onData);
    stdin.pause();
    stdin.unref?.();
  };
}

export function describeOutcome(result: RunResult): string {
  const o = result.outcome;
  switch (o.kind) {
    case 'debug-exit':
      return `guest exited through the debug-exit port with value 0x${o.value.toString(16)} (status ${o.status})`;
    case 'halted':
    case 'guest-crashed':
    case 'limit':
      return o.message;
  }
}

/** The one-line summary: engine, guest run time, exits by reason. */
export function summaryLine(result: RunResult): string {
  const reasons = Object.entries(result.exits)
    .filter(([, count]) => count > 0)
    .map(([reason, count]) => `${reason}=${count}`)
    .join(' ');
  return `engine=${result.engine} time=${result.guestSeconds.toFixed(3)}s exits=${result.totalExits} ${reasons}`.trimEnd();
}
