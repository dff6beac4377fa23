// `vmm restore FILE` and `vmm restore --incoming tcp:HOST:PORT`: a saved or migrating machine,
// built again from its description, given its state, and run on from where it stood.
import { cpuModel, missingFeatures, UnknownCpuModel } from '../vmm/cpu-model.js';
import type { Engine } from '../vmm/engine.js';
import { drivesProblem, OPTIONAL_DEVICES, PARAVIRT_INTERFACES, type Machine } from '../vmm/machine.js';
import { engineCoreFor } from '../vmm/native.js';
import { MAX_RAM_MIB, MIN_RAM_MIB } from '../vmm/layout.js';
import { MachineStateError, type StateHello } from '../snapshot/machine-state.js';
import { readSnapshot } from '../snapshot/snapshot-file.js';
import { StateStreamError } from '../snapshot/state-records.js';
import { MigrationRefused, receiveMigration, type IncomingMigration } from '../migration/migration-destination.js';
import { LinkBroken } from '../migration/migration-link.js';
import { describeErrno } from '../util/errno.js';
import { parseTcpAddress, TcpAddressError } from '../util/tcp-address.js';
import {
  engineNamed, engineSizes, executeRun, newMachine, openConsole, reportRun, runLimits, stopMechanismOption, type BootOptions,
} from './boot-command.js';
import { RunStopper } from './run-stop.js';
import { StopSignals } from './signals.js';
import { UserError } from './user-error.js';
import { engineNames } from '../engines/index.js';

export interface RestoreOptions
  extends Pick<BootOptions, 'serial' | 'timeLimit' | 'maxExits' | 'stdin' | 'stopMechanism' | 'translationCache' | 'shadowPool' | 'control' | 'reboot'> {
  /** The engine to run under: the saved one unless given. */
  engine?: string;
  incoming?: string;
  /**
   * The CPU this host offers (a model spec; `max` unless given): the guest keeps the model it was
   * given, and is refused if it was given a feature this one lacks.
   */
  cpu?: string;
}

export async function restoreCommand(file: string | undefined, options: RestoreOptions): Promise<number> {
  if (file !== undefined && options.incoming !== undefined) throw new UserError('give either a snapshot file or --incoming, not both');
  if (file === undefined && options.incoming === undefined) throw new UserError('give a snapshot file, or --incoming tcp:HOST:PORT to receive a migration');
  if (options.engine !== undefined) engineNamed(options.engine);
  const hostModel = (() => {
    try {
      return cpuModel(options.cpu ?? 'max');
    } catch (error) {
      if (error instanceof UnknownCpuModel) throw new UserError(error.message);
      throw error;
    }
  })();
  const stopMechanism = stopMechanismOption(options.stopMechanism);
  const limits = runLimits(options);
  const address = (() => {
    if (options.incoming === undefined) return undefined;
    try {
      return parseTcpAddress(options.incoming, 'migration address');
    } catch (error) {
      if (error instanceof TcpAddressError) throw new UserError(error.message);
      throw error;
    }
  })();
  const stopper = new RunStopper();
  const { output, closeSerial } = openConsole(options, 1, stopper);
  const signals = new StopSignals(stopper);
  signals.install();

  let engine: Engine | undefined;
  const build = (hello: StateHello): Machine => {
    engine = engineNamed(options.engine ?? hello.engine);
    const saved = engineNamed(hello.engine);
    if (engine.paravirtual !== saved.paravirtual) {
      throw new MachineStateError(`the machine ran under ${saved.name}, whose guests do not run under ${engine.name}`);
    }
    if (saved.deprivilegesKernel && !engine.deprivilegesKernel) {
      throw new MachineStateError(
        `the machine ran under ${saved.name}, whose guest kernel runs on ring 1: the frames on its stacks hold ring-1 selectors, ` +
          `which ${engine.name} would fault on; restore it under ${engineNames.filter((name) => engineNamed(name).deprivilegesKernel && !engineNamed(name).paravirtual).join(' or ')}`,
      );
    }
    const { description } = hello;
    const mib = description.ramBytes / 1048576;
    if (!Number.isInteger(mib) || mib < MIN_RAM_MIB || mib > MAX_RAM_MIB) throw new MachineStateError(`the saved machine's RAM size (${description.ramBytes} bytes) is not one vmm builds`);
    const unknownDevice = description.devices.find((d) => !(OPTIONAL_DEVICES as readonly string[]).includes(d));
    if (unknownDevice !== undefined) throw new MachineStateError(`the saved machine has a device this vmm does not know: ${unknownDevice}`);
    if (description.paravirt !== undefined && !(PARAVIRT_INTERFACES as readonly string[]).includes(description.paravirt)) {
      throw new MachineStateError(`the saved machine offers a paravirtual interface this vmm does not know: ${description.paravirt}`);
    }
    if (description.drives !== undefined) {
      const problem = Array.isArray(description.drives) ? drivesProblem(description.drives) : 'not a list';
      if (problem) throw new MachineStateError(`the saved machine's drives are not valid: ${problem}`);
    }
    let model;
    try {
      model = cpuModel(description.cpuModel);
    } catch (error) {
      if (error instanceof UnknownCpuModel) throw new MachineStateError(`the saved machine's CPU model '${description.cpuModel}' is not one this vmm has`);
      throw error;
    }
    // VMotion's check: the guest keeps the CPU it was given, which this host must be able to offer.
    const missing = missingFeatures(model, hostModel);
    if (missing.length > 0) {
      throw new MachineStateError(
        `the guest was given CPU model ${model.spec}, with ${missing.join(', ')}, which this host's model ${hostModel.spec} lacks ` +
          `(start the guest with a model both hosts have, such as ${hostModel.spec} or a mask like ${model.name},${missing.map((f) => `-${f}`).join(',')})`,
      );
    }
    const machine = newMachine({
      ramBytes: description.ramBytes, consoleOutput: output.push, engineCore: engineCoreFor(engine.requires), stopMechanism,
      ...engineSizes(options, engine), devices: description.devices, cpuModel: model, paravirt: description.paravirt, vga: description.vga === true,
      drives: description.drives,
    });
    if (machine.vcpu.cpuStateFormat !== hello.cpuStateFormat) {
      machine.close();
      throw new MachineStateError(`the saved vCPU state is of format ${hello.cpuStateFormat}; this vmm's is ${machine.vcpu.cpuStateFormat}`);
    }
    return machine;
  };

  let machine: Machine;
  let incoming: IncomingMigration | undefined;
  try {
    if (file !== undefined) {
      const started = process.hrtime.bigint();
      let pages = 0;
      machine = readSnapshot(file, build, (count) => (pages = count));
      process.stderr.write(`vmm: restored '${file}' (${pages} pages) in ${(Number(process.hrtime.bigint() - started) / 1e9).toFixed(3)} s; the guest runs under ${engine!.name}\n`);
    } else {
      const received = receiveMigration(address!, build, (where) => process.stderr.write(`vmm: waiting for an incoming migration on tcp:${where}\n`));
      const interrupted = stopper.requested().then(() => undefined);
      const result = await Promise.race([received, interrupted]);
      if (!result) {
        received.catch(() => {});
        process.stderr.write(`vmm: ${stopper.request!.message} while waiting for an incoming migration\n`);
        return stopper.request!.status;
      }
      incoming = result;
      machine = incoming.machine;
    }
  } catch (error) {
    closeSerial();
    const what = file !== undefined ? `'${file}'` : 'incoming migration';
    if (error instanceof TcpAddressError) throw new UserError(error.message);
    if (error instanceof StateStreamError || error instanceof MachineStateError || error instanceof MigrationRefused || error instanceof LinkBroken) {
      throw new UserError(`${what}: ${error.message}`);
    }
    if (error instanceof UserError) throw new UserError(`${what}: ${error.message}`);
    const code = (error as NodeJS.ErrnoException).code;
    if (typeof code === 'string' && file !== undefined) throw new UserError(`cannot read snapshot '${file}': ${describeErrno(error)}`);
    throw error;
  }
  const runEngine = engine!;
  if (incoming) {
    incoming.link.reply({ ok: 'resumed' });
    incoming.link.close();
    const pages = incoming.postcopy ? 'the vCPU and devices; RAM follows by post-copy' : `${incoming.pagesReceived} pages`;
    process.stderr.write(`vmm: migration received (${pages}, in ${incoming.seconds.toFixed(2)} s); the guest runs here under ${runEngine.name}\n`);
  }
  const watch = incoming?.postcopy ? watchPostcopy(machine) : undefined;
  try {
    const run = await executeRun({ machine, engine: runEngine, limits, output, closeSerial, stopper, signals }, options);
    // Whatever the guest did after its memory stopped coming (it read zeros where its pages were
    // to be: a crash, a hang, a wrong answer) is the loss, not something it did.
    const failure = incoming?.postcopy ? postcopyLoss(machine) : undefined;
    if (failure && !stopper.request) run.result = { ...run.result, outcome: { kind: 'guest-crashed', status: 4, message: `the guest is lost: ${failure}` } };
    return reportRun(run, runEngine, stopper);
  } finally {
    if (watch) clearInterval(watch);
  }
}

/**
 * While RAM comes by post-copy: a source that fails before every page has come ends the run as
 * the guest's loss (a page it touches next would be zero, not its own); the end is told on stderr.
 */
function watchPostcopy(machine: Machine): NodeJS.Timeout {
  const watch = setInterval(() => {
    const status = machine.vcpu.postcopyStatus();
    if (!status) return;
    const loss = postcopyLoss(machine);
    if (loss) {
      clearInterval(watch);
      machine.stop({ kind: 'guest-lost', reason: loss });
    } else if (status.done) {
      clearInterval(watch);
      process.stderr.write(`vmm: post-copy complete: ${status.pagesReceived} pages, ${status.pagesPulled} of them pulled on first touch\n`);
    }
  }, 20);
  return watch;
}

/** Why post-copy left the guest without part of its memory, if it did. */
function postcopyLoss(machine: Machine): string | undefined {
  const status = machine.vcpu.postcopyStatus();
  if (!status || status.failure === '') return undefined;
  return `the post-copy source failed (${status.failure}) when ${status.pagesReceived} pages had come`;
}
