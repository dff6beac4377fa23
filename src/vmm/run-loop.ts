// The VMM's run loop: re-enter the guest, dispatch each exit, and decide when the run is over.
// Runs in time slices so that host events (serial input, signals) are served between them.
import type { Engine, ExceptionOutcome } from './engine.js';
import { csEip, hex } from '../util/hex.js';
import { BIOS_SERVICES } from '../firmware/bios-state.js';
import { decodeExit, type Exit } from './exit-record.js';
import type { Machine } from './machine.js';
import { EFLAGS_IF } from '../x86/eflags.js';
import { Vector, vectorName } from '../x86/vectors.js';
import { Reg } from './registers.js';
import { deliverExternalInterrupt, deliverNmi, type DeliveryOutcome } from './event-delivery.js';
import type { RunDebugger } from './run-debugger.js';
import type { RunControl } from './run-control.js';

export interface RunLimits {
  /** Wall-clock seconds before the run is ended; Infinity for none. */
  timeLimitSeconds: number;
  /** Exits of any kind (including port I/O) before the run is ended; Infinity for none. */
  maxExits: number;
}

/** How a run ended; `status` is what `vmm` exits with (see README, "Exit status"). */
export type RunOutcome =
  | { kind: 'debug-exit'; status: number; value: number }
  /** The guest ended its run itself, with `value` (status (value << 1) | 1, as the debug-exit port's). */
  | { kind: 'guest-exit'; status: number; value: number; message: string }
  | { kind: 'halted'; status: 0; message: string }
  /** The guest reset the machine: the caller boots it again, or ends the run (--no-reboot). */
  | { kind: 'reset'; status: 0; by: string; message: string }
  | { kind: 'guest-crashed'; status: 4; message: string }
  | { kind: 'limit'; status: 6; message: string }
  /** The firmware found nothing to boot. */
  | { kind: 'no-boot-device'; status: 8; message: string }
  /** Ended on the host's request; the requester knows why and with which status vmm exits. */
  | { kind: 'host-stop'; status: 0; message: string };

export interface RunResult {
  outcome: RunOutcome;
  engine: string;
  /** How the guest was stopped: `exact` or `block-hook` (and why, when exact was not proven). */
  stopMechanism: string;
  guestSeconds: number;
  exits: Record<string, number>;
  totalExits: number;
}

const TIMESLICE_MICROS = 10_000;
const YIELD_INTERVAL_NS = BigInt(TIMESLICE_MICROS * 1000);

/**
 * Runs the guest until its run is over. With a debugger, the guest stops and goes on as the
 * debugger says; a step runs one guest instruction with no interrupt delivered (as QEMU's
 * gdbstub steps by default), and time stopped in the debugger is not guest time.
 */
export async function runMachine(machine: Machine, engine: Engine, limits: RunLimits, debuggee?: RunDebugger, control?: RunControl): Promise<RunResult> {
  const loopExits: Record<Exclude<Exit['kind'], 'engine-error'>, number> = {
    hlt: 0, exception: 0, timeslice: 0, stop: 0, 'unicorn-error': 0, 'interrupt-window': 0, 'vmm-hole': 0, debug: 0, 'protected-mode': 0,
  };
  let injected = 0;
  // Exceptions go to the guest's handlers inside the core, unless a trace or a debugger is to see each one.
  const reflecting = engine.reflectsExceptionsInCore === true && !machine.observer && !debuggee;
  machine.vcpu.setExceptionReflection(reflecting);
  const record = new Uint32Array(machine.vcpu.exitRecord);
  const started = process.hrtime.bigint();
  const pausedAtStart = control?.pausedSeconds ?? 0;
  const elapsedSeconds = () =>
    Number(process.hrtime.bigint() - started) / 1e9 - (debuggee?.stoppedSeconds ?? 0) - ((control?.pausedSeconds ?? 0) - pausedAtStart);
  const totalExits = () => machine.inlineExits + Object.values(loopExits).reduce((a, b) => a + b, 0);
  const exitCounts = (): Record<string, number> => ({
    'io-in': machine.counters.portIn,
    'io-out': machine.counters.portOut,
    'mmio-read': machine.counters.mmioRead,
    'mmio-write': machine.counters.mmioWrite,
    cpuid: machine.counters.cpuid,
    ...machine.kvm?.counters(),
    ...loopExits,
    'irq-injected': injected,
    'open-bus': machine.vcpu.openBusAccesses,
    ...(reflecting ? { 'exception-reflected': machine.vcpu.reflectedExceptions } : {}),
    ...engine.counters?.(machine.vcpu),
  });
  if (debuggee) debuggee.exitCounts = exitCounts;
  if (control) {
    control.exitCounts = exitCounts;
    control.stopGuest = () => machine.vcpu.requestStop();
  }
  machine.inlineExitBudget = limits.maxExits;
  const onNewBlock = engine.onNewBlock?.bind(engine);
  machine.onNewBlock = onNewBlock && ((linear, size) => onNewBlock(linear, size, machine.vcpu));
  let outcome: RunOutcome | undefined;
  let stepping = false;
  let lastYield = started;

  while (!outcome) {
    if (debuggee) {
      const mode = await debuggee.nextRun();
      if (mode === 'kill') {
        outcome = { kind: 'host-stop', status: 0, message: 'the debugger killed the guest' };
        break;
      }
      if (machine.stopCause?.kind === 'host-request') {
        outcome = { kind: 'host-stop', status: 0, message: `the host ended the run at ${csEip(machine.vcpu.readRegister(Reg.cs), machine.vcpu.readRegister(Reg.eip))}` };
        break;
      }
      stepping = mode === 'step';
    }
    machine.settleDeviceWrites();
    const taken = engine.beforeRun?.(machine);
    if (taken && taken.kind !== 'resume' && taken.kind !== 'halt') {
      outcome = endedByEngine(taken);
      break;
    }
    machine.updateTimers();
    if (stepping) machine.vcpu.setInterruptPending(false);
    // (A guest whose events are the engine's asks for no interrupt window either.)
    if (engine.ownsGuestEvents) machine.vcpu.setInterruptPending(false);
    const delivery = stepping || engine.ownsGuestEvents ? undefined : injectPendingInterrupt(machine);
    if (delivery && delivery.kind !== 'delivered') {
      const which = delivery.kind === 'task-switch' ? ' (the engine takes task gates for exceptions only)' : '';
      outcome = { kind: 'guest-crashed', status: 4, message: `guest could not take an interrupt: ${delivery.reason}${which}` };
      break;
    }
    if (delivery) injected++;
    // Each slice ends at the next timer event, so every timer edge reaches the interrupt
    // controller on time (a missed period would merge two ticks and the guest's clock would lag;
    // periods the host made the VMM miss are owed and raised later, src/devices/missed-ticks.ts).
    const runStarted = machine.clock.nowNs();
    const exit = decodeExit(machine.vcpu.run(sliceMicros(machine, engine)), record);
    machine.observer?.onExit(exit, machine.clock.nowNs() - runStarted);
    if (exit.kind !== 'engine-error') loopExits[exit.kind]++;
    machine.inlineExitBudget = limits.maxExits - totalExits();
    switch (exit.kind) {
      case 'hlt':
        outcome = await onHalt(machine, exit, engine);
        break;
      case 'exception': {
        // A device asked to stop (the debug-exit port) before this: the stop wins, as it does
        // over a HLT the guest reaches in the same block.
        if (machine.stopCause) break;
        const handled = engine.handleException(exit, machine.vcpu, machine);
        if (handled.kind === 'resume') {
          machine.observer?.onInjected(exit.vector, exit.softwareInterruptLength > 0 ? 'software' : 'exception', exit.errorCode, exit.cr2);
        } else if (handled.kind === 'halt') {
          // An emulated HLT: EIP is past it now, where the CPU's own HLT leaves it.
          outcome = await onHalt(machine, { kind: 'hlt', cs: exit.cs, eip: machine.vcpu.readRegister(Reg.eip) }, engine);
        } else {
          outcome = endedByEngine(handled);
        }
        break;
      }
      case 'vmm-hole': {
        const handled = engine.onReservedAccess?.(exit.address, exit.cs, exit.eip, machine) ?? {
          kind: 'fatal' as const, reason: `guest touched reserved memory at 0x${exit.address.toString(16)}`,
        };
        if (handled.kind === 'fatal' || handled.kind === 'shutdown') outcome = { kind: 'guest-crashed', status: 4, message: handled.reason };
        break;
      }
      case 'unicorn-error':
        outcome = {
          kind: 'guest-crashed',
          status: 4,
          message: `guest stopped at ${csEip(exit.cs, exit.eip)}: ${describeUnicornError(machine, exit)}`,
        };
        break;
      case 'debug':
        debuggee?.stopped(exit);
        break;
      case 'engine-error':
        outcome = {
          kind: 'guest-crashed',
          status: 4,
          message:
            `guest stopped at ${csEip(exit.cs, exit.eip)}: the ${engine.name} engine cannot deliver ${vectorName(exit.vector)} ` +
            `raised inside its translation of the guest instruction block at 0x${exit.address.toString(16)}`,
        };
        break;
      case 'timeslice':
      case 'stop':
      case 'interrupt-window':
      case 'protected-mode': // (the engine's beforeRun deprivileges the guest)
        break;
      default: {
        const unreachable: never = exit;
        throw new Error(`unhandled exit ${JSON.stringify(unreachable)}`);
      }
    }
    // A step is over once its instruction ran, trapped (and was emulated or reflected) or halted.
    if (stepping && !outcome && (exit.kind === 'exception' || exit.kind === 'hlt' || exit.kind === 'vmm-hole')) {
      debuggee?.stopped({ kind: 'step-complete' });
    }
    if (!outcome && machine.stopCause) {
      const cause = machine.stopCause;
      switch (cause.kind) {
        case 'debug-exit':
          outcome = { kind: 'debug-exit', status: cause.status, value: cause.value };
          break;
        case 'trace-complete':
          outcome = { kind: 'halted', status: 0, message: `trace complete: ${cause.instructions} instructions recorded (--count)` };
          break;
        case 'reset':
          outcome = { kind: 'reset', status: 0, by: cause.by, message: `guest reset the machine through ${cause.by}` };
          break;
        case 'poweroff':
          outcome = { kind: 'halted', status: 0, message: 'guest powered off (ACPI S5)' };
          break;
        case 'bios-call': {
          const service = BIOS_SERVICES.get(cause.vector) ?? 'a BIOS service';
          outcome = {
            kind: 'guest-crashed',
            status: 4,
            message: `guest called the BIOS (INT ${hex(cause.vector, 2)}h, ${service}, returning to ${cause.caller}): this boot has no firmware to serve it (boot the image as a disk through SeaBIOS with --bios)`,
          };
          break;
        }
        case 'host-request':
          outcome = { kind: 'host-stop', status: 0, message: `the host ended the run at ${csEip(exit.cs, exit.eip)}` };
          break;
        case 'no-boot-device': {
          const tried = cause.tried.length === 0 ? 'it tried no device' : `it tried: ${cause.tried.join(', ')}`;
          outcome = { kind: 'no-boot-device', status: 8, message: `the firmware found no bootable device (${tried})` };
          break;
        }
        case 'guest-lost':
          outcome = { kind: 'guest-crashed', status: 4, message: `the guest is lost: ${cause.reason}` };
          break;
        case 'exit-limit':
          // The stop the VMM asked for to end the run is its own, not one of the guest's exits.
          if (exit.kind === 'stop') loopExits.stop--;
          outcome = { kind: 'limit', status: 6, message: `stopped after ${limits.maxExits} exits (--max-exits) at ${csEip(exit.cs, exit.eip)}` };
          break;
      }
    }
    if (!outcome && totalExits() >= limits.maxExits) {
      outcome = { kind: 'limit', status: 6, message: `stopped after ${limits.maxExits} exits (--max-exits) at ${csEip(exit.cs, exit.eip)}` };
    }
    if (!outcome && elapsedSeconds() >= limits.timeLimitSeconds) {
      outcome = {
        kind: 'limit',
        status: 6,
        message: `wall-clock limit of ${limits.timeLimitSeconds} s reached; guest was running at ${csEip(exit.cs, exit.eip)}`,
      };
    }
    // The Paused state: the guest stands still (and so does its time) between two exits until
    // the host resumes it, or ends the run there (its state went elsewhere).
    if (!outcome && control?.wantsPause) {
      machine.clock.pause();
      const tscAtPause = machine.guestTsc();
      const ended = await control.holdPaused();
      machine.clock.resume();
      machine.setGuestTsc(tscAtPause);
      if (ended?.lost) outcome = { kind: 'guest-crashed', status: 4, message: ended.message };
      else if (ended !== undefined) outcome = { kind: 'host-stop', status: 0, message: ended.message };
      else if (machine.stopCause?.kind === 'host-request') outcome = { kind: 'host-stop', status: 0, message: `the host ended the run at ${csEip(exit.cs, exit.eip)}` };
      lastYield = process.hrtime.bigint();
      if (outcome) break;
    }
    // Let the host's event loop deliver serial input, signals and a debugger's packets between
    // time slices, and at least every slice's length when exits come faster than slices end (a
    // guest that traps all the time never reaches the end of a slice).
    if (!outcome && (exit.kind === 'timeslice' || process.hrtime.bigint() - lastYield > YIELD_INTERVAL_NS)) {
      await new Promise((resolve) => setImmediate(resolve));
      lastYield = process.hrtime.bigint();
    }
  }

  debuggee?.runEnded(outcome);
  control?.runEnded();
  const exits = exitCounts();
  return { outcome, engine: engine.name, stopMechanism: machine.vcpu.stopMechanism, guestSeconds: elapsedSeconds(), exits, totalExits: totalExits() };
}

/** How an engine's verdict ends the run. */
function endedByEngine(verdict: Exclude<ExceptionOutcome, { kind: 'resume' } | { kind: 'halt' }>): RunOutcome {
  if (verdict.kind === 'exit') {
    const value = verdict.value & 0xff;
    return { kind: 'guest-exit', status: ((value << 1) | 1) & 0xff, value, message: `guest ended its run through ${verdict.how} with value 0x${value.toString(16)}` };
  }
  return { kind: 'guest-crashed', status: 4, message: verdict.reason };
}

/** The next time slice: it ends at the next timer event of the machine or of the engine. */
function sliceMicros(machine: Machine, engine: Engine): number {
  const slice = machine.microsUntilNextEvent(TIMESLICE_MICROS);
  const engineNs = engine.nanosUntilEvent?.();
  return engineNs === undefined ? slice : Math.max(20, Math.min(slice, Math.ceil(engineNs / 1000)));
}

/**
 * Delivers the interrupt controller's pending interrupt if the guest can take it now; otherwise
 * asks the vCPU for an interrupt-window exit. Returns undefined when nothing was delivered.
 */
function injectPendingInterrupt(machine: Machine): DeliveryOutcome | undefined {
  // An NMI does not wait for IF, but one waits while the last one's handler has not run IRET
  // (SDM Vol. 3A §6.7.1); a maskable interrupt may still be taken meanwhile. (The vCPU keeps
  // that blocking under direct, the trap and bt engines in their cores, where IRET is emulated.)
  if (machine.localApic.hasNmi) {
    if (!machine.vcpu.nmiBlocked()) {
      machine.localApic.takeNmi();
      machine.vcpu.setNmiPending(false);
      const delivered = deliverNmi(machine.vcpu);
      if (delivered.kind === 'delivered') machine.observer?.onInjected(Vector.NMI, 'external');
      return delivered;
    }
    machine.vcpu.setNmiPending(true);
  }
  if (!machine.interrupts.hasInterrupt()) {
    machine.vcpu.setInterruptPending(false);
    return undefined;
  }
  if ((machine.vcpu.readRegister(Reg.eflags) & EFLAGS_IF) === 0 || machine.vcpu.inInterruptShadow()) {
    machine.vcpu.setInterruptPending(true);
    return undefined;
  }
  machine.vcpu.setInterruptPending(false);
  const vector = machine.interrupts.acknowledge();
  const delivered = deliverExternalInterrupt(machine.vcpu, vector);
  if (delivered.kind === 'delivered') machine.observer?.onInjected(vector, 'external');
  return delivered;
}

/** HLT: with IF=0 the run is over; with IF=1 the vCPU sleeps until the next timer event. */
async function onHalt(machine: Machine, exit: Extract<Exit, { kind: 'hlt' }>, engine: Engine): Promise<RunOutcome | undefined> {
  const interruptsEnabled = (machine.vcpu.readRegister(Reg.eflags) & EFLAGS_IF) !== 0;
  const where = csEip(exit.cs, exit.eip);
  if (!interruptsEnabled) {
    return { kind: 'halted', status: 0, message: `guest halted with interrupts disabled at ${where}` };
  }
  machine.updateTimers();
  const devicesWake = !engine.ownsGuestEvents;
  if (devicesWake && (machine.interrupts.hasInterrupt() || (machine.localApic.hasNmi && !machine.vcpu.nmiBlocked()))) return undefined;
  if (engine.hasPendingEvent?.()) return undefined;
  // Only a source the interrupt controllers let through can wake the CPU (a PIT whose IRQ is
  // masked keeps counting, but never interrupts), or an event of the engine's own.
  const deviceNs = devicesWake ? machine.nanosUntilNextWakeup() : undefined;
  const engineNs = engine.nanosUntilEvent?.();
  const waitNs = deviceNs === undefined ? engineNs : engineNs === undefined ? deviceNs : Math.min(deviceNs, engineNs);
  if (waitNs === undefined && !(devicesWake && machine.inputMayInterrupt)) {
    return {
      kind: 'halted',
      status: 0,
      message: `guest halted at ${where} waiting for an interrupt, and no device will ever raise one (none is unmasked)`,
    };
  }
  // Sleep on the host until the next timer event (or input), like a real CPU in HLT.
  const waitMs = Math.min(waitNs === undefined ? 10 : waitNs / 1e6, 10);
  await sleep(waitMs);
  // A guest blocked on the engine's events (the block hypercall) stays blocked until one is due,
  // in slices of at most 10 ms (host events are served between them) and 100 ms in all, so that
  // the run's limits are still checked; a native HLT goes on after one slice, as before.
  if (engine.ownsGuestEvents) {
    for (let slept = waitMs; slept < 100 && !machine.stopCause && !engine.hasPendingEvent?.(); ) {
      const ns = engine.nanosUntilEvent?.();
      const ms = Math.min(ns === undefined ? 10 : ns / 1e6, 10);
      await sleep(ms);
      slept += Math.max(ms, 0.01);
    }
  }
  return undefined;
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => (ms >= 1 ? setTimeout(resolve, ms) : setImmediate(resolve)));
}

function describeUnicornError(machine: Machine, exit: Extract<Exit, { kind: 'unicorn-error' }>): string {
  const text = machine.vcpu.unicornErrorText(exit.code);
  const at = `physical address 0x${exit.address.toString(16)}`;
  switch (exit.code) {
    case 8: // UC_ERR_FETCH_UNMAPPED
      return `instruction fetch from ${at}, outside guest RAM (a wild jump?)`;
    case 14: // UC_ERR_FETCH_PROT: code fetched from the open-bus region above RAM, or a device's
      // (CS:EIP is the start of the translated block, which may lie in RAM: the run went off its end)
      return `instruction fetch from ${at}, where there is no RAM (a wild jump, or running off the end of RAM?)`;
    case 6: // UC_ERR_READ_UNMAPPED
      return `${exit.size}-byte read of ${at}, outside guest RAM`;
    case 7: // UC_ERR_WRITE_UNMAPPED
      return `${exit.size}-byte write to ${at}, outside guest RAM`;
    case 10: // UC_ERR_INSN_INVALID
      return `invalid instruction: ${text}`;
    case 12: // UC_ERR_WRITE_PROT
    case 13: // UC_ERR_READ_PROT: the VMM region of trap and bt, closed until the guest is deprivileged
      return `a ${exit.code === 12 ? 'write' : 'read'} outside guest RAM, in the VMM region of this engine, refused (${text}): the guest runs as under direct until it is deprivileged, and no shadow page table keeps it out of the region`;
    default:
      return text;
  }
}
