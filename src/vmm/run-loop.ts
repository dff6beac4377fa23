// The VMM's run loop: re-enter the guest, dispatch each exit, and decide when the run is over.
// Runs in time slices so that host events (serial input, signals) are served between them.
import type { Engine } from '../engines/engine.js';
import { csEip } from '../util/hex.js';
import { decodeExit, type Exit } from './exit-record.js';
import type { Machine } from './machine.js';
import { EFLAGS_IF, Reg } from './registers.js';

export interface RunLimits {
  /** Wall-clock seconds before the run is ended; Infinity for none. */
  timeLimitSeconds: number;
  /** Exits of any kind (including port I/O) before the run is ended; Infinity for none. */
  maxExits: number;
}

/** How a run ended; `status` is what `vmm` exits with (see README, "Exit status"). */
export type RunOutcome =
  | { kind: 'debug-exit'; status: number; value: number }
  | { kind: 'halted'; status: 0; message: string }
  | { kind: 'guest-crashed'; status: 4; message: string }
  | { kind: 'limit'; status: 6; message: string };

export interface RunResult {
  outcome: RunOutcome;
  engine: string;
  guestSeconds: number;
  exits: Record<string, number>;
  totalExits: number;
}

const TIMESLICE_MICROS = 10_000;

export async function runMachine(machine: Machine, engine: Engine, limits: RunLimits): Promise<RunResult> {
  const loopExits: Record<Exit['kind'], number> = {
    hlt: 0, exception: 0, timeslice: 0, stop: 0, 'unicorn-error': 0,
  };
  const record = new Uint32Array(machine.vcpu.exitRecord);
  const started = process.hrtime.bigint();
  const elapsedSeconds = () => Number(process.hrtime.bigint() - started) / 1e9;
  const totalExits = () => machine.inlineExits + Object.values(loopExits).reduce((a, b) => a + b, 0);
  machine.inlineExitBudget = limits.maxExits;
  let outcome: RunOutcome | undefined;

  while (!outcome) {
    const exit = decodeExit(machine.vcpu.run(TIMESLICE_MICROS), record);
    loopExits[exit.kind]++;
    machine.inlineExitBudget = limits.maxExits - totalExits();
    switch (exit.kind) {
      case 'hlt':
        outcome = onHalt(machine, exit);
        break;
      case 'exception': {
        const handled = engine.handleException(exit, machine.vcpu);
        if (handled.kind !== 'resume') outcome = { kind: 'guest-crashed', status: 4, message: handled.reason };
        break;
      }
      case 'unicorn-error':
        outcome = {
          kind: 'guest-crashed',
          status: 4,
          message: `guest stopped at ${csEip(exit.cs, exit.eip)}: ${describeUnicornError(machine, exit.code)}`,
        };
        break;
      case 'timeslice':
      case 'stop':
        break;
      default: {
        const unreachable: never = exit;
        throw new Error(`unhandled exit ${JSON.stringify(unreachable)}`);
      }
    }
    if (!outcome && machine.stopCause) {
      const cause = machine.stopCause;
      outcome =
        cause.kind === 'debug-exit'
          ? { kind: 'debug-exit', status: cause.status, value: cause.value }
          : { kind: 'limit', status: 6, message: `stopped after ${limits.maxExits} exits (--max-exits) at ${csEip(exit.cs, exit.eip)}` };
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
    // Let the host's event loop deliver serial input and signals between time slices.
    if (!outcome && exit.kind === 'timeslice') await new Promise((resolve) => setImmediate(resolve));
  }

  const exits: Record<string, number> = {
    'io-in': machine.counters.portIn,
    'io-out': machine.counters.portOut,
    'mmio-read': machine.counters.mmioRead,
    'mmio-write': machine.counters.mmioWrite,
    cpuid: machine.counters.cpuid,
    ...loopExits,
  };
  return { outcome, engine: engine.name, guestSeconds: elapsedSeconds(), exits, totalExits: totalExits() };
}

function onHalt(machine: Machine, exit: Extract<Exit, { kind: 'hlt' }>): RunOutcome {
  const interruptsEnabled = (machine.vcpu.readRegister(Reg.eflags) & EFLAGS_IF) !== 0;
  const where = csEip(exit.cs, exit.eip);
  if (!interruptsEnabled) {
    return { kind: 'halted', status: 0, message: `guest halted with interrupts disabled at ${where}` };
  }
  // With IF=1 a HLT waits for an interrupt, but this machine has no interrupt source yet.
  return {
    kind: 'halted',
    status: 0,
    message: `guest halted at ${where} waiting for an interrupt, and this machine has no interrupt source`,
  };
}

function describeUnicornError(machine: Machine, code: number): string {
  const text = machine.vcpu.unicornErrorText(code);
  switch (code) {
    case 8: // UC_ERR_FETCH_UNMAPPED
      return `instruction fetch outside guest RAM (a wild jump?): ${text}`;
    case 6: // UC_ERR_READ_UNMAPPED
    case 7: // UC_ERR_WRITE_UNMAPPED
      return `memory access outside guest RAM: ${text}`;
    case 10: // UC_ERR_INSN_INVALID
      return `invalid instruction: ${text}`;
    default:
      return text;
  }
}
