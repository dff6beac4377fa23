import { BtEngine } from './bt/bt-engine.js';
import { DirectEngine } from './direct.js';
import type { Engine } from '../vmm/engine.js';
import { TrapEngine } from './trap/trap-engine.js';

const AVAILABLE = ['direct', 'trap', 'bt'] as const;
const PLANNED = ['paravirt'];

export class UnknownEngine extends Error {}

export function createEngine(name: string): Engine {
  switch (name) {
    case 'direct':
      return new DirectEngine();
    case 'trap':
      return new TrapEngine();
    case 'bt':
      return new BtEngine();
    default:
      if (PLANNED.includes(name)) {
        throw new UnknownEngine(`engine '${name}' is not implemented yet; available: ${AVAILABLE.join(', ')}`);
      }
      throw new UnknownEngine(`unknown engine '${name}'; available: ${AVAILABLE.join(', ')}`);
  }
}

export const engineNames: readonly string[] = AVAILABLE;
