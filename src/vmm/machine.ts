// The virtual machine: guest RAM, one vCPU, the port and MMIO buses and the devices on them.
// It turns the native core's inline exits (port I/O, MMIO, CPUID) into bus accesses.
import type { LoadPlan } from '../boot/load-plan.js';
import { DebugConsole } from '../devices/debug-console.js';
import { DebugExit } from '../devices/debug-exit.js';
import { Uart16550 } from '../devices/uart16550.js';
import { applyLoadPlan } from './cpu-setup.js';
import { cpuid } from './cpuid.js';
import { Field, InlineKind } from './exit-record.js';
import { IoBus, PortBus } from './io-bus.js';
import { COM1_PORT, DEBUG_CONSOLE_PORT, DEBUG_EXIT_PORT, DEBUG_EXIT_PORT_COUNT, UART_PORT_COUNT } from './layout.js';
import { nativeCore, type NativeVcpu } from './native.js';

export interface MachineConfig {
  ramBytes: number;
  /** Where the serial port and the debug console print. */
  consoleOutput: (byte: number) => void;
}

/** Why the machine asked the vCPU to stop, set by a device or a limit. */
export type StopCause = { kind: 'debug-exit'; status: number; value: number } | { kind: 'exit-limit' };

export interface InlineCounters {
  portIn: number;
  portOut: number;
  mmioRead: number;
  mmioWrite: number;
  cpuid: number;
}

export class Machine {
  readonly vcpu: NativeVcpu;
  readonly ram: Uint8Array;
  readonly ports = new PortBus();
  readonly mmio = new IoBus('mmio');
  readonly uart: Uart16550;
  readonly debugConsole: DebugConsole;
  readonly counters: InlineCounters = { portIn: 0, portOut: 0, mmioRead: 0, mmioWrite: 0, cpuid: 0 };
  stopCause: StopCause | undefined;
  /** Inline exits allowed before the machine stops itself (the `--max-exits` limit). */
  inlineExitBudget = Infinity;
  private readonly record: Uint32Array;

  constructor(config: MachineConfig) {
    const { Vcpu } = nativeCore();
    this.vcpu = new Vcpu(config.ramBytes);
    this.ram = new Uint8Array(this.vcpu.ram);
    this.record = new Uint32Array(this.vcpu.exitRecord);
    this.uart = new Uart16550('com1', config.consoleOutput);
    this.debugConsole = new DebugConsole(config.consoleOutput);
    this.ports.attach(COM1_PORT, UART_PORT_COUNT, this.uart);
    this.ports.attach(DEBUG_CONSOLE_PORT, 1, this.debugConsole);
    this.ports.attach(
      DEBUG_EXIT_PORT,
      DEBUG_EXIT_PORT_COUNT,
      new DebugExit((status, value) => this.stop({ kind: 'debug-exit', status, value })),
    );
    this.vcpu.setInlineHandler((kind) => this.onInlineExit(kind));
  }

  load(plan: LoadPlan): void {
    applyLoadPlan(this.vcpu, this.ram, plan);
  }

  stop(cause: StopCause): void {
    if (this.stopCause) return; // the first cause wins; the vCPU may run a few more instructions
    this.stopCause = cause;
    this.vcpu.requestStop();
  }

  get inlineExits(): number {
    const c = this.counters;
    return c.portIn + c.portOut + c.mmioRead + c.mmioWrite + c.cpuid;
  }

  private onInlineExit(kind: number): void {
    const r = this.record;
    if (this.stopCause) return; // stopping: the rest of the translated block must not touch devices
    if (--this.inlineExitBudget < 0) {
      this.stop({ kind: 'exit-limit' });
      return;
    }
    switch (kind) {
      case InlineKind.portIn:
        this.counters.portIn++;
        r[Field.value] = this.ports.read(r[Field.address], r[Field.size]);
        return;
      case InlineKind.portOut:
        this.counters.portOut++;
        this.ports.write(r[Field.address], r[Field.size], r[Field.value]);
        return;
      case InlineKind.mmioRead:
        this.counters.mmioRead++;
        r[Field.value] = this.mmio.read(r[Field.address], r[Field.size]);
        return;
      case InlineKind.mmioWrite:
        this.counters.mmioWrite++;
        this.mmio.write(r[Field.address], r[Field.size], r[Field.value]);
        return;
      case InlineKind.cpuid: {
        this.counters.cpuid++;
        const result = cpuid(r[Field.cpuidLeaf], r[Field.cpuidSubleaf]);
        r[Field.cpuidEax] = result.eax;
        r[Field.cpuidEbx] = result.ebx;
        r[Field.cpuidEcx] = result.ecx;
        r[Field.cpuidEdx] = result.edx;
        return;
      }
      default:
        throw new Error(`native core sent an unknown inline exit ${kind}`);
    }
  }

  close(): void {
    this.vcpu.close();
  }
}
