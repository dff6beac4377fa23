// A machine as state: what is gathered from a paused machine and given back to a new one built
// from the same description. RAM travels as pages (state-records.ts); this is the rest: every
// stateful part by id, the vCPU's saved state and the clock.
import type { DeviceSnapshot } from '../devices/device.js';
import { NotAtInstructionBoundary, type Engine } from '../vmm/engine.js';
import type { RunControl } from '../vmm/run-control.js';
import type { Machine, MachineDescription } from '../vmm/machine.js';
import { nativeCore } from '../vmm/native.js';
import { STATE_FORMAT_VERSION, StateStreamError } from './state-records.js';

/** What a HELLO record says: enough to build the machine that will receive the state. */
export interface StateHello {
  version: number;
  description: MachineDescription;
  /** The engine the machine ran under (a restore may choose another, where that is sound). */
  engine: string;
  /** The vCPU state's layout (NativeVcpu.cpuStateFormat): only the same restores. */
  cpuStateFormat: string;
}

/** The non-RAM state: devices by id, the clock, the vCPU. */
export interface MachineState {
  devices: Record<string, DeviceSnapshot>;
  clock: {
    /** Guest time when the state was taken. */
    guestNs: number;
    /** The guest's TSC then, as a decimal string. */
    guestTsc: string;
    /** The host's TSC then: where a machine whose TSC cannot be offset goes on from. */
    hostTsc: string;
    tscHz: number;
  };
  cpu: Uint8Array;
}

export class MachineStateError extends Error {}

/** Why this machine's state cannot be taken now, or undefined when it can. */
export function whyStateCannotBeSaved(machine: Machine, engine: Engine): string | undefined {
  if (machine.kvm) return "the KVM paravirtual interface (--pv kvm) keeps state that snapshots do not carry yet";
  if (machine.observer) return 'a traced run cannot be saved';
  if (machine.bootsThroughFirmware) return 'a machine booted through firmware cannot be saved yet: its flash image and disks are not part of the saved machine';
  return engine.stateUnsavable?.();
}

export function hello(machine: Machine, engine: Engine): StateHello {
  return { version: STATE_FORMAT_VERSION, description: machine.description, engine: engine.name, cpuStateFormat: machine.vcpu.cpuStateFormat };
}

/** Checks a HELLO before a machine is built from it. */
export function checkHello(value: unknown): StateHello {
  const h = value as Partial<StateHello> | null;
  if (!h || typeof h !== 'object' || typeof h.version !== 'number') throw new StateStreamError('the machine state has no valid header');
  if (h.version !== STATE_FORMAT_VERSION) {
    throw new StateStreamError(`the machine state is format version ${h.version}; this vmm reads version ${STATE_FORMAT_VERSION}`);
  }
  const d = h.description;
  if (!d || typeof d.ramBytes !== 'number' || typeof d.cpuModel !== 'string' || !Array.isArray(d.devices) || typeof h.engine !== 'string' || typeof h.cpuStateFormat !== 'string') {
    throw new StateStreamError('the machine state has no valid header');
  }
  return h as StateHello;
}

/**
 * The state of a paused machine (RAM apart). Throws NotAtInstructionBoundary where the engine's
 * vCPU stands in its own code (captureAtBoundary runs the guest on a little and tries again).
 */
export function captureState(machine: Machine, engine: Engine): MachineState {
  let cpu: Uint8Array;
  try {
    cpu = engine.architecturalCpuState?.(machine.vcpu) ?? machine.vcpu.saveCpuState();
  } catch (error) {
    if (error instanceof NotAtInstructionBoundary) throw error;
    throw new MachineStateError(`cannot save the vCPU: ${(error as Error).message}`);
  }
  const devices: Record<string, DeviceSnapshot> = {};
  for (const [id, part] of machine.stateParts()) devices[id] = part.snapshot();
  const { hostTsc, hostTscHz } = nativeCore();
  const clock = { guestNs: machine.clock.nowNs(), guestTsc: machine.guestTsc().toString(), hostTsc: hostTsc().toString(), tscHz: hostTscHz() };
  return { devices, clock, cpu };
}

/** Tries at most this many pauses for one at a guest instruction boundary. */
const BOUNDARY_ATTEMPTS = 50;

/**
 * The state of a machine paused through `control`: where the engine's vCPU stands in its own
 * code (an event on its way into the guest), the guest runs on a little and is paused again.
 * Resolves with the machine paused.
 */
export async function captureAtBoundary(machine: Machine, engine: Engine, control: RunControl): Promise<MachineState> {
  for (let attempt = 1; ; attempt++) {
    try {
      return captureState(machine, engine);
    } catch (error) {
      if (!(error instanceof NotAtInstructionBoundary) || attempt === BOUNDARY_ATTEMPTS) {
        throw error instanceof NotAtInstructionBoundary ? new MachineStateError(`the vCPU was never paused at a guest instruction boundary in ${attempt} tries`) : error;
      }
    }
    control.resume();
    await new Promise((resolve) => setTimeout(resolve, 2));
    await control.pause();
  }
}

/**
 * Gives a state to a machine built from the same description. Guest time goes on from where it
 * stood when saved, for the devices' clock and the TSC alike, as QEMU's loadvm does: the time the
 * machine spent saved does not exist for the guest (its wall clock is that much behind). Without
 * a TSC offset (another Unicorn build) the TSC is the host's, and the devices' clock follows it
 * instead, so that the two stay in step.
 */
export function applyState(machine: Machine, state: MachineState): void {
  const parts = machine.stateParts();
  for (const id of Object.keys(state.devices)) {
    if (!parts.has(id)) throw new MachineStateError(`the saved machine has a device '${id}' that this machine lacks`);
  }
  for (const [id, part] of parts) {
    const saved = state.devices[id];
    if (!saved) throw new MachineStateError(`the saved machine has no state for its device '${id}'`);
    try {
      part.restore(saved);
    } catch (error) {
      throw new MachineStateError(`cannot restore the device '${id}': ${(error as Error).message}`);
    }
  }
  try {
    machine.vcpu.restoreCpuState(state.cpu);
  } catch (error) {
    throw new MachineStateError(`cannot restore the vCPU: ${(error as Error).message}`);
  }
  if (machine.setGuestTsc(BigInt(state.clock.guestTsc))) {
    machine.clock.continueFrom(state.clock.guestNs);
    return;
  }
  const ticks = nativeCore().hostTsc() - BigInt(state.clock.hostTsc);
  const sinceNs = state.clock.tscHz > 0 && ticks > 0n ? Number((ticks * 1_000_000_000n) / BigInt(Math.round(state.clock.tscHz))) : 0;
  machine.clock.continueFrom(state.clock.guestNs + sinceNs);
}

/** The STATE record's payload: u32 JSON length, the JSON of devices and clock, the vCPU state. */
export function encodeState(state: MachineState): Buffer {
  const json = Buffer.from(JSON.stringify({ devices: state.devices, clock: state.clock }), 'utf8');
  const head = Buffer.allocUnsafe(4);
  head.writeUInt32LE(json.length, 0);
  return Buffer.concat([head, json, state.cpu]);
}

export function decodeState(payload: Buffer): MachineState {
  if (payload.length < 4) throw new StateStreamError('the machine state record is too short');
  const length = payload.readUInt32LE(0);
  if (4 + length > payload.length) throw new StateStreamError('the machine state record is malformed');
  let parsed: { devices?: unknown; clock?: unknown };
  try {
    parsed = JSON.parse(payload.subarray(4, 4 + length).toString('utf8')) as typeof parsed;
  } catch {
    throw new StateStreamError('the machine state record is malformed');
  }
  const clock = parsed.clock as MachineState['clock'] | undefined;
  if (!parsed.devices || typeof parsed.devices !== 'object' || !clock || typeof clock.guestNs !== 'number' || !/^\d+$/.test(String(clock.hostTsc)) || !/^-?\d+$/.test(String(clock.guestTsc))) {
    throw new StateStreamError('the machine state record is malformed');
  }
  return { devices: parsed.devices as Record<string, DeviceSnapshot>, clock, cpu: new Uint8Array(payload.subarray(4 + length)) };
}
