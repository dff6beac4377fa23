import { BtEngine } from './bt/bt-engine.js';
import { DirectEngine } from './direct.js';
import type { Engine } from '../vmm/engine.js';
import { ParavirtEngine } from './paravirt/paravirt-engine.js';
import { TrapEngine } from './trap/trap-engine.js';

const AVAILABLE = ['direct', 'trap', 'bt', 'paravirt'] as const;

export class UnknownEngine extends Error {}

export function createEngine(name: string): Engine {
  switch (name) {
    case 'direct':
      return new DirectEngine();
    case 'trap':
      return new TrapEngine();
    case 'bt':
      return new BtEngine();
    case 'paravirt':
      return new ParavirtEngine();
    default:
      throw new UnknownEngine(`unknown engine '${name}'; available: ${AVAILABLE.join(', ')}`);
  }
}

export const engineNames: readonly string[] = AVAILABLE;
/** The engines that run unmodified guests: every one but those that run only paravirtual kernels. */
export const unmodifiedGuestEngines: readonly string[] = AVAILABLE.filter((name) => !createEngine(name).paravirtual);
/** The engines that run only kernels written for their hypercall ABI (guests/pvkernel). */
export const paravirtualEngines: readonly string[] = AVAILABLE.filter((name) => createEngine(name).paravirtual);
