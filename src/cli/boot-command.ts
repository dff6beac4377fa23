// `vmm boot [image]`: load a guest, run it under an engine, report how it ended.
import { openSync } from 'node:fs';
import { devNull } from 'node:os';
import { LoadError, type LoadPlan } from '../boot/load-plan.js';
import { planImage } from '../boot/detect.js';
import { hasMultibootHeader, type BootModule } from '../boot/multiboot.js';
import { parseModuleList } from './boot-modules.js';
import { DRIVE_SHORTHANDS, parseDriveSpec, placeDrives, type DriveSpec } from './drive-options.js';
import { createEngine, engineNames, UnknownEngine } from '../engines/index.js';
import { Machine, OPTIONAL_DEVICES, PARAVIRT_INTERFACES, type DriveConfig, type MachineConfig, type OptionalDevice, type ParavirtInterface } from '../vmm/machine.js';
import { cpuModel, UnknownCpuModel } from '../vmm/cpu-model.js';
import { engineCoreFor, NativeCoreMissing, STOP_MECHANISMS, type StopMechanism } from '../vmm/native.js';
import { DiskImageError } from '../devices/ide/disk-image.js';
import { runMachine, type RunLimits, type RunResult } from '../vmm/run-loop.js';
import { Reg } from '../vmm/registers.js';
import { csEip } from '../util/hex.js';
import type { Engine } from '../vmm/engine.js';
import { DEFAULT_RAM_MIB, MAX_SHADOW_POOL_KIB, MAX_TRANSLATION_CACHE_KIB, MIN_SHADOW_POOL_KIB, MIN_TRANSLATION_CACHE_KIB } from '../vmm/layout.js';
import { BACKLOG_LIMIT, ConsoleOutput } from './console-output.js';
import { describeErrno } from '../util/errno.js';
import { BROKEN_PIPE_STATUS, RunStopper, type StopRequest } from './run-stop.js';
import { attachSerialInput } from './serial-input.js';
import { attachKeyboardInput } from './keyboard-input.js';
import { CursesDisplay } from './curses-display.js';
import { ESCAPE_HELP } from './console-escape.js';
import { screenSetup, type ScreenOptions, type ScreenSetup } from './screen-options.js';
import type { Screen } from '../devices/vga/text-screen.js';
import { StopSignals } from './signals.js';
import { defaultGuestPath, readGuestImage } from './guest-image.js';
import { parseAddress, parsePositiveInteger, parsePositiveNumber, parseRamMiB } from './options.js';
import { USAGE_ERROR_STATUS, UserError } from './user-error.js';
import { DEFAULT_GDB_PORT, GdbAddressError, GdbServer, isLoopback, parseGdbAddress, type GdbAddress } from '../debug/gdb-server.js';
import { GuestDebugger } from '../debug/guest-debugger.js';
import { ControlServer, ControlSocketError } from '../control/control-server.js';
import { machineCommands, type ControlledRun } from '../control/machine-commands.js';
import { RunControl } from '../vmm/run-control.js';
import { packageVersion } from '../util/package-version.js';
import { firmwareConfig, firmwarePath, type FirmwareOptions } from './firmware-options.js';
import { planFirmware } from '../boot/firmware.js';
import { readVgaBios, VgaBiosError } from '../firmware/vga-bios.js';
import { basename } from 'node:path';

export interface BootOptions extends FirmwareOptions, ScreenOptions {
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
  stopMechanism: string;
  /** bt: the translation cache's size in KiB. */
  translationCache?: string;
  shadowPool?: string;
  /** The GDB stub (boot only): where it listens, QEMU's -s, and QEMU's -S. */
  gdb?: string;
  s?: boolean;
  gdbWait?: boolean;
  /** --device NAME, repeatable: optional devices (pc-testdev). */
  device?: string[];
  /** False (--no-reboot): a guest that resets the machine ends the run, as QEMU's -no-reboot. */
  reboot?: boolean;
  /** --cpu MODEL: the CPU the guest is told it runs on. */
  cpu: string;
  /** --pv NAME: a paravirtual interface offered to the guest (kvm). */
  pv?: string;
  /** --control PATH: the control socket (line-delimited JSON commands and events). */
  control?: string;
  /** --drive SPEC, repeatable: disks on the IDE controller, in QEMU's -drive vocabulary. */
  drive?: string[];
  /** -hda to -hdd: a raw disk at index 0 to 3. */
  hda?: string;
  hdb?: string;
  hdc?: string;
  hdd?: string;
}

export const bootDefaults = {
  memory: String(DEFAULT_RAM_MIB),
  engine: 'direct',
  append: '',
  format: 'auto',
  cpu: 'qemu32',
  // VMM_STOP_MECHANISM lets a whole test suite run with the other mechanism.
  stopMechanism: process.env.VMM_STOP_MECHANISM ?? 'exact',
};

const FORMATS = ['auto', 'flat', 'bootsector', 'multiboot', 'linux'] as const;

/** A size option in KiB for a part only some engines have, between its bounds; in bytes. */
interface SizeOption {
  flag: string; // --translation-cache
  what: string; // translation cache
  whichEngines: string; // an engine with a translation cache (bt)
  min: number;
  max: number;
}

/** The registered engines that have something, by name: the one list the messages give. */
function enginesThat(has: (engine: Engine) => boolean): string {
  return engineNames.filter((name) => has(createEngine(name))).join(', ');
}

const TRANSLATION_CACHE: SizeOption = {
  flag: '--translation-cache',
  what: 'translation cache',
  whichEngines: `an engine with a translation cache (${enginesThat((e) => e.requires.translationCache)})`,
  min: MIN_TRANSLATION_CACHE_KIB,
  max: MAX_TRANSLATION_CACHE_KIB,
};
const SHADOW_POOL: SizeOption = {
  flag: '--shadow-pool',
  what: 'shadow pool',
  whichEngines: `an engine with shadow page tables (${enginesThat((e) => e.requires.vmmRegion)})`,
  min: MIN_SHADOW_POOL_KIB,
  max: MAX_SHADOW_POOL_KIB,
};

function sizeOption(size: SizeOption, option: string | undefined, engineHasOne: boolean): number | undefined {
  if (option === undefined) return undefined;
  if (!engineHasOne) throw new UserError(`${size.flag} applies to ${size.whichEngines} only`);
  const kib = Number(option);
  if (!/^\d+$/.test(option) || kib < size.min || kib > size.max) {
    throw new UserError(`invalid ${size.what} size '${option}': give KiB from ${size.min} to ${size.max}`);
  }
  return kib * 1024;
}

/** What goes with the kernel: a Linux initrd, or a multiboot kernel's name and modules. */
export interface BootExtras {
  initrd?: Uint8Array;
  modules?: BootModule[];
  kernelName?: string;
}

export function planFromOptions(image: Uint8Array, ramBytes: number, options: BootOptions, extras: BootExtras = {}): LoadPlan {
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
    return planImage(image, { ramSize: ramBytes, cmdline: options.append, format, flat, ...extras });
  } catch (error) {
    if (error instanceof LoadError) throw new UserError(error.message);
    throw error;
  }
}

/**
 * `--initrd` is one file for a Linux kernel (its whole value, spaces and commas included) and a
 * module list for a multiboot kernel (boot-modules.ts), which also finds its own file name first
 * on its command line.
 */
function bootExtras(image: Uint8Array, path: string, options: BootOptions, ramBytes: number): BootExtras {
  const multiboot = options.format === 'multiboot' || (options.format === 'auto' && hasMultibootHeader(image));
  if (!multiboot) {
    return { initrd: options.initrd === undefined ? undefined : readGuestImage(options.initrd, 'initrd', ramBytes) };
  }
  if (options.initrd === undefined) return { kernelName: path };
  const modules = parseModuleList(options.initrd).map((entry, i) => {
    if (entry.path === '') throw new UserError(`--initrd: module ${i + 1} has no file name`);
    return { bytes: readGuestImage(entry.path, `module ${i + 1}`, ramBytes), cmdline: entry.cmdline };
  });
  return { kernelName: path, modules };
}

/** A machine ready to run, with its console and the host's ways of ending the run. */
export interface RunSetup {
  machine: Machine;
  engine: Engine;
  limits: RunLimits;
  output: ConsoleOutput;
  /** Closes the --serial file, once its output is written. */
  closeSerial: () => void;
  /** Where signals, the quit key and broken outputs ask for the end of the run. */
  stopper: RunStopper;
  /** SIGINT, SIGTERM, SIGHUP: handled from the end of prepareRun. */
  signals: StopSignals;
  /**
   * A new machine and engine with the image loaded again: the machine after a reset. Undefined
   * for a machine that has no image to boot again (a restored one): a reset ends its run.
   */
  rebuild?: () => { machine: Machine; engine: Engine };
  /** Where the VGA's screen goes: the terminal (--display curses), a file at the end (--screen-dump). */
  screen?: ScreenSetup;
}

/** A guest loaded into a machine, ready to run: what `vmm boot` and `vmm trace` share. */
export interface PreparedRun extends RunSetup {
  plan: LoadPlan;
  image: Uint8Array;
  imagePath: string;
}

/**
 * How long a reader gets to take the guest's last output when vmm ended the run (a limit, a
 * signal, the quit key) rather than the guest: a reader that is not reading must not keep
 * vmm from exiting.
 */
export const DRAIN_GRACE_MS = 1000;

/**
 * What a failed write means: a reader that went away (EPIPE) ends the run quietly, as SIGPIPE
 * ends other tools; anything else (ENOSPC...) is an error naming the output.
 */
export function outputFailure(error: NodeJS.ErrnoException, output: string): StopRequest {
  if (error.code === 'EPIPE') return { status: BROKEN_PIPE_STATUS, kind: 'quiet', message: `${output}: broken pipe` };
  return { status: USAGE_ERROR_STATUS, kind: 'error', message: `cannot write ${output}: ${describeErrno(error)}` };
}

/**
 * Checks every option, loads the image and builds the machine. `serialFd` is where the serial
 * console goes unless --serial names a file. Signals end the run cleanly from here on.
 */
/** An engine by name, or a one-line error naming the registered ones. */
export function engineNamed(name: string): Engine {
  try {
    return createEngine(name);
  } catch (error) {
    if (error instanceof UnknownEngine) throw new UserError(error.message);
    throw error;
  }
}

export function stopMechanismOption(name: string): StopMechanism {
  if (!(STOP_MECHANISMS as readonly string[]).includes(name)) {
    throw new UserError(`unknown stop mechanism '${name}'; choose one of ${STOP_MECHANISMS.join(', ')}`);
  }
  return name as StopMechanism;
}

/** --time-limit and --max-exits. */
export function runLimits(options: Pick<BootOptions, 'timeLimit' | 'maxExits'>): RunLimits {
  return {
    timeLimitSeconds: options.timeLimit === undefined ? Infinity : parsePositiveNumber('time limit', options.timeLimit),
    maxExits: options.maxExits === undefined ? Infinity : parsePositiveInteger('exit limit', options.maxExits),
  };
}

/**
 * The console: --serial's file, or `serialFd`; a failed write asks `stopper` to end the run.
 * `discard`: without --serial, the output goes nowhere (the terminal shows the VGA's screen).
 */
export function openConsole(options: Pick<BootOptions, 'serial'>, serialFd: number, stopper: RunStopper, discard = false): { output: ConsoleOutput; closeSerial: () => void } {
  let fd = serialFd;
  if (options.serial !== undefined) {
    try {
      fd = openSync(options.serial, 'w');
    } catch (error) {
      throw new UserError(`cannot write serial output to '${options.serial}': ${describeErrno(error)}`);
    }
  } else if (discard) {
    fd = openSync(devNull, 'w');
  }
  const outputName =
    options.serial !== undefined ? `serial output to '${options.serial}'` : fd === 1 ? 'standard output' : fd === 2 ? 'standard error' : devNull;
  const output = new ConsoleOutput(fd, fd !== serialFd, (error) => stopper.stop(outputFailure(error, outputName)));
  return { output, closeSerial: () => output.close() };
}

/** --translation-cache and --shadow-pool, for an engine that has them. */
export function engineSizes(options: Pick<BootOptions, 'translationCache' | 'shadowPool'>, engine: Engine): { translationCacheBytes?: number; shadowPoolBytes?: number } {
  return {
    translationCacheBytes: sizeOption(TRANSLATION_CACHE, options.translationCache, engine.requires.translationCache),
    shadowPoolBytes: sizeOption(SHADOW_POOL, options.shadowPool, engine.requires.vmmRegion),
  };
}

/** Debian's SeaVGABIOS for the standard VGA, or a one-line error. */
function firmwareVgaBios(): Uint8Array {
  try {
    return readVgaBios();
  } catch (error) {
    if (error instanceof VgaBiosError) throw new UserError(error.message);
    throw error;
  }
}

/** What only a kernel loaded by vmm takes: refused on a boot through firmware, which loads its own. */
function refuseLoaderOptions(options: BootOptions): void {
  const given = [
    options.kernel !== undefined && '--kernel', options.initrd !== undefined && '--initrd', options.append !== '' && '--append',
    options.format !== 'auto' && '--format', options.loadAddress !== undefined && '--load-address', options.entry !== undefined && '--entry',
  ].filter((flag): flag is string => typeof flag === 'string');
  if (given.length > 0) throw new UserError(`${given.join(', ')}: the firmware loads what it boots from the disks; give these only to a boot without --bios`);
}

/** A Machine, with a native core that is missing or stale, or a drive image it cannot open, reported as a one-line error. */
export function newMachine(config: MachineConfig): Machine {
  try {
    return new Machine(config);
  } catch (error) {
    if (error instanceof NativeCoreMissing || error instanceof DiskImageError) throw new UserError(error.message);
    throw error;
  }
}

/** --drive and -hda to -hdd, placed on the IDE controller; undefined when none is given (no controller). */
export function driveOptions(options: Pick<BootOptions, 'drive' | (typeof DRIVE_SHORTHANDS)[number]>, first: DriveSpec[] = []): DriveConfig[] | undefined {
  const specs: DriveSpec[] = [...first];
  DRIVE_SHORTHANDS.forEach((flag, index) => {
    const file = options[flag];
    if (file !== undefined) specs.push({ file, index, readOnly: false });
  });
  for (const text of options.drive ?? []) specs.push(parseDriveSpec(text));
  if (specs.length === 0) return undefined;
  return placeDrives(specs, (line) => process.stderr.write(`vmm: ${line}\n`));
}

export function prepareRun(
  imagePath: string | undefined,
  options: BootOptions,
  serialFd: number,
  { translationBufferBytes, stopper = new RunStopper() }: { translationBufferBytes?: number; stopper?: RunStopper } = {},
): PreparedRun {
  const ramMiB = parseRamMiB(options.memory);
  const engine = engineNamed(options.engine);
  const stopMechanism = stopMechanismOption(options.stopMechanism);
  const devices = (options.device ?? []).map((name) => {
    if (!(OPTIONAL_DEVICES as readonly string[]).includes(name)) {
      throw new UserError(`unknown device '${name}'; choose one of ${OPTIONAL_DEVICES.join(', ')}`);
    }
    return name as OptionalDevice;
  });
  const model = (() => {
    try {
      return cpuModel(options.cpu ?? bootDefaults.cpu);
    } catch (error) {
      if (error instanceof UnknownCpuModel) throw new UserError(error.message);
      throw error;
    }
  })();
  const paravirt = (() => {
    if (options.pv === undefined) return undefined;
    if (!(PARAVIRT_INTERFACES as readonly string[]).includes(options.pv)) {
      throw new UserError(`unknown paravirtual interface '${options.pv}'; choose one of ${PARAVIRT_INTERFACES.join(', ')}`);
    }
    return options.pv as ParavirtInterface;
  })();
  const { translationCacheBytes, shadowPoolBytes } = engineSizes(options, engine);
  const limits = runLimits(options);
  if (imagePath !== undefined && options.kernel !== undefined) {
    throw new UserError(`give the kernel either as the image argument or with --kernel, not both`);
  }
  const ramBytes = ramMiB * 1024 * 1024;
  // Disks and no kernel: the PC boots from them through its firmware, as `qemu -drive` does.
  const givesDisks = options.drive !== undefined || DRIVE_SHORTHANDS.some((flag) => options[flag] !== undefined);
  const biosPath = firmwarePath(options, givesDisks && imagePath === undefined && options.kernel === undefined);
  const firmware = biosPath === undefined ? undefined : firmwareConfig(biosPath, options);
  // With firmware, the image argument is the first hard disk (QEMU's `qemu-system-i386 disk.img`).
  const drives = firmware
    ? driveOptions(options, imagePath === undefined ? [] : [{ file: imagePath, readOnly: false }]) ?? []
    : driveOptions(options);
  let path: string;
  let image: Uint8Array;
  let plan: LoadPlan;
  if (biosPath !== undefined && firmware) {
    refuseLoaderOptions(options);
    path = biosPath;
    image = firmware.image;
    try {
      plan = planFirmware(image, basename(biosPath));
    } catch (error) {
      if (error instanceof LoadError) throw new UserError(error.message);
      throw error;
    }
  } else {
    path = imagePath ?? options.kernel ?? defaultGuestPath();
    image = readGuestImage(path, 'image', ramBytes);
    plan = planFromOptions(image, ramBytes, options, bootExtras(image, path, options, ramBytes));
  }
  const refused = engine.refusesKernel?.(plan.notes ?? []);
  if (refused !== undefined) throw new UserError(`${path}: ${refused}`);

  // (The screen dump's file is opened here, after the checks that could still refuse the run.)
  const screen = screenSetup(options);
  // A PC booted through firmware has a VGA, and its BIOS, unless --vga none says otherwise.
  const vga = firmware ? options.vga !== 'none' : screen.vga;
  const vgaBios = firmware && vga ? firmwareVgaBios() : undefined;
  const { output, closeSerial } = openConsole(options, serialFd, stopper, screen.curses);
  const build = (forEngine: Engine): Machine => {
    const machine = newMachine({
      ramBytes, consoleOutput: output.push, translationBufferBytes, engineCore: engineCoreFor(forEngine.requires), stopMechanism,
      translationCacheBytes, shadowPoolBytes, devices, cpuModel: model, paravirt, firmware, vga, vgaBios, drives,
    });
    machine.load(plan);
    return machine;
  };
  const machine = build(engine);
  const rebuild = () => {
    const next = createEngine(options.engine);
    return { machine: build(next), engine: next };
  };
  const signals = new StopSignals(stopper);
  signals.install();
  return { machine, engine, limits, plan, image, imagePath: path, output, closeSerial, stopper, signals, rebuild, screen };
}

/** A finished run, before it is reported. */
export interface FinishedRun {
  result: RunResult;
  /** Whether vmm (a StopRequest) ended the run rather than the guest or a limit. */
  stoppedByHost: boolean;
  /** CS:EIP where the guest was when the run ended. */
  where: string;
  /** Lines about the guest's output (dropped, unwritten), printed after the summary. */
  notes: string[];
}

/** Runs a prepared guest to its end and waits for its console output to be written. */
export async function executeRun(prepared: RunSetup, options: Pick<BootOptions, 'gdb' | 's' | 'gdbWait' | 'stdin' | 'reboot' | 'control'>): Promise<FinishedRun> {
  const { limits, output, stopper } = prepared;
  let { machine, engine } = prepared;
  const gdbAddress = gdbAddressFromOptions(options);
  if (gdbAddress && engine.debuggerUnsupported) throw new UserError(engine.debuggerUnsupported);
  const control = new RunControl();
  const controlServer = options.control === undefined ? undefined : await startControlServer(options.control, {
    machine: () => machine,
    engine: () => engine,
    control,
    quit: () => stopper.stop({ status: 0, kind: 'report', message: 'quit on the control socket' }),
  });
  const debuggee = gdbAddress ? new GuestDebugger(machine, engine, options.gdbWait === true) : undefined;
  const gdbServer = debuggee && new GdbServer(debuggee);
  const curses = prepared.screen?.curses ? newCursesDisplay(() => machine, stopper) : undefined;
  const attachInput = () => {
    if (curses) {
      if (!options.stdin) return () => {};
      return attachKeyboardInput(machine, stopper, () => curses.setStatus(`vmm: ${ESCAPE_HELP}`), () => curses.setStatus(''));
    }
    machine.mayReceiveInput = options.stdin;
    return options.stdin ? attachSerialInput(machine, stopper) : () => {};
  };
  let detachInput = attachInput();
  stopper.attach(() => {
    machine.stop({ kind: 'host-request' });
    debuggee?.hostStopped();
    control.resume(); // a paused run ends too
  });
  const flushTimer = setInterval(() => output.flush(), 50);
  let result: RunResult;
  let where: string;
  let finalScreen: Screen | undefined;
  try {
    await engine.prepare?.();
    if (gdbServer && gdbAddress) await listenForDebugger(gdbServer, gdbAddress, options.gdbWait === true);
    curses?.start();
    const started = process.hrtime.bigint();
    result = await runMachine(machine, engine, limits, debuggee, control);
    // A reset boots the machine again from its image, as a PC's reset does, unless --no-reboot
    // says to end there. A trace or a debugger follows one boot: there the reset ends the run.
    while (result.outcome.kind === 'reset' && options.reboot !== false && !debuggee && !machine.observer && prepared.rebuild) {
      // The time limit covers every boot, and the time taken to build each machine.
      const spentSeconds = Number(process.hrtime.bigint() - started) / 1e9;
      if (spentSeconds >= limits.timeLimitSeconds) {
        const message = `wall-clock limit of ${limits.timeLimitSeconds} s reached; ${result.outcome.message} and was to boot again`;
        result = { ...result, outcome: { kind: 'limit', status: 6, message } };
        break;
      }
      process.stderr.write(`vmm: ${result.outcome.message}; booting it again\n`);
      curses?.invalidate(); // that line went over the screen
      detachInput();
      machine.close();
      ({ machine, engine } = prepared.rebuild());
      prepared.machine = machine;
      prepared.engine = engine;
      detachInput = attachInput();
      await engine.prepare?.();
      result = await runMachine(machine, engine, { ...limits, timeLimitSeconds: limits.timeLimitSeconds - spentSeconds }, undefined, control);
    }
    where = csEip(machine.vcpu.readRegister(Reg.cs), machine.vcpu.readRegister(Reg.eip));
  } finally {
    controlServer?.close();
    gdbServer?.close();
    stopper.detach();
    clearInterval(flushTimer);
    detachInput();
    // The screen as the run left it, read before the machine's memory goes.
    finalScreen = machine.vga?.screen();
    curses?.stop();
    if (!finalScreen) prepared.screen?.dump?.close();
    machine.close();
  }
  const stoppedByHost = result.outcome.kind === 'host-stop';

  // The guest's own end waits for the reader as any program writing to a pipe does, until a
  // signal; an end vmm chose waits DRAIN_GRACE_MS at most.
  const notes: string[] = [];
  let graceTimer: NodeJS.Timeout | undefined;
  const giveUp =
    stoppedByHost || result.outcome.kind === 'limit'
      ? new Promise<void>((resolve) => (graceTimer = setTimeout(resolve, DRAIN_GRACE_MS)))
      : stopper.requested();
  output.endLine();
  const unwritten = await output.finish(giveUp);
  clearTimeout(graceTimer);
  prepared.closeSerial();
  if (output.dropped > 0) {
    notes.push(`${output.dropped} bytes of guest output were dropped: its reader fell more than ${BACKLOG_LIMIT >> 20} MiB behind`);
  }
  if (unwritten > 0) notes.push(`${unwritten} bytes of guest output were not written: its reader did not take them`);
  const dump = prepared.screen?.dump;
  if (dump && finalScreen) {
    try {
      const note = dump.write(finalScreen);
      if (note) notes.push(note);
    } catch (error) {
      stopper.stop({ status: USAGE_ERROR_STATUS, kind: 'error', message: `cannot write the screen dump to '${dump.path}': ${describeErrno(error)}` });
    }
  }
  return { result, stoppedByHost, where, notes };
}

/** `--display curses` on standard output, showing the VGA of whichever machine runs now. */
function newCursesDisplay(machine: () => Machine, stopper: RunStopper): CursesDisplay {
  return new CursesDisplay(
    1,
    () => machine().vga!.screen(),
    () => ({ columns: process.stdout.columns || 80, rows: process.stdout.rows || 25 }), // 0: a terminal that does not say
    (error) => stopper.stop(outputFailure(error, 'the terminal')),
  );
}

/**
 * Reports how the run ended on stderr and returns vmm's exit status: the guest's, or that of the
 * request that ended the run (a signal, the quit key, a broken pipe). An output that could not be
 * written is reported alone, as an error.
 */
export function reportRun(run: FinishedRun, engine: Engine, stopper: RunStopper): number {
  const request = stopper.request;
  if (request?.kind === 'quiet') return request.status;
  if (request?.kind === 'error') throw new UserError(request.message);
  const outcome =
    request && run.stoppedByHost ? `${request.message}; the guest was running at ${run.where}` : describeOutcome(run.result);
  process.stderr.write(`vmm: ${outcome}\n`);
  process.stderr.write(`vmm: ${summaryLine(run.result)}\n`);
  const fallback = /^block-hook \((.*)\)$/.exec(run.result.stopMechanism);
  if (fallback) process.stderr.write(`vmm: exact stops are not available here (${fallback[1]}): stops went through the block hook\n`);
  for (const line of engine.report?.() ?? []) process.stderr.write(`vmm: ${line}\n`);
  for (const note of run.notes) process.stderr.write(`vmm: ${note}\n`);
  return request?.status ?? run.result.outcome.status;
}

/** The control socket at `path`, its events following the run's status. */
async function startControlServer(path: string, run: ControlledRun): Promise<ControlServer> {
  const server = new ControlServer(machineCommands(run), { vmm: { version: packageVersion() }, capabilities: [] });
  try {
    await server.listen(path);
  } catch (error) {
    if (error instanceof ControlSocketError) throw new UserError(error.message);
    throw error;
  }
  run.control.onStatus = (status) => server.event(status === 'paused' ? 'STOP' : status === 'running' ? 'RESUME' : 'SHUTDOWN');
  return server;
}

/** --gdb, or -s (QEMU's shorthand for tcp::1234); --gdb-wait alone listens where -s does. */
function gdbAddressFromOptions(options: Pick<BootOptions, 'gdb' | 's' | 'gdbWait'>): GdbAddress | undefined {
  if (options.gdb !== undefined && options.s) throw new UserError('give either --gdb or -s, not both');
  const spec = options.gdb ?? (options.s || options.gdbWait ? `tcp::${DEFAULT_GDB_PORT}` : undefined);
  if (spec === undefined) return undefined;
  try {
    return parseGdbAddress(spec);
  } catch (error) {
    if (error instanceof GdbAddressError) throw new UserError(error.message);
    throw error;
  }
}

async function listenForDebugger(server: GdbServer, address: GdbAddress, wait: boolean): Promise<void> {
  let bound: GdbAddress;
  try {
    bound = await server.listen(address);
  } catch (error) {
    if (error instanceof GdbAddressError) throw new UserError(error.message);
    throw error;
  }
  const where = `${bound.host.includes(':') ? `[${bound.host}]` : bound.host}:${bound.port}`;
  const what = wait ? 'the guest waits for a debugger' : 'a debugger may attach';
  process.stderr.write(`vmm: GDB stub listening on ${where}; ${what} (in GDB: target remote ${where})\n`);
  if (!isLoopback(bound.host)) {
    process.stderr.write(`vmm: the GDB stub is reachable from other hosts: whoever connects controls the guest\n`);
  }
}

export async function bootCommand(imagePath: string | undefined, options: BootOptions): Promise<number> {
  const prepared = prepareRun(imagePath, options, 1);
  const run = await executeRun(prepared, options);
  return reportRun(run, prepared.engine, prepared.stopper);
}

export function describeOutcome(result: RunResult): string {
  const o = result.outcome;
  switch (o.kind) {
    case 'debug-exit':
      return `guest exited through the debug-exit port with value 0x${o.value.toString(16)} (status ${o.status})`;
    case 'guest-exit':
      return `${o.message} (status ${o.status})`;
    case 'halted':
    case 'reset':
    case 'guest-crashed':
    case 'limit':
    case 'host-stop':
    case 'no-boot-device':
      return `${o.message}${o.kind === 'no-boot-device' ? ` (status ${o.status})` : ''}`;
  }
}

/** The one-line summary: engine, guest run time, exits by reason, how the guest was stopped. */
export function summaryLine(result: RunResult): string {
  const reasons = Object.entries(result.exits)
    .filter(([, count]) => count > 0)
    .map(([reason, count]) => `${reason}=${count}`)
    .join(' ');
  const stops = result.stopMechanism.split(' ')[0];
  return `engine=${result.engine} time=${result.guestSeconds.toFixed(3)}s exits=${result.totalExits} ${reasons} stops=${stops}`.replace('  ', ' ');
}
