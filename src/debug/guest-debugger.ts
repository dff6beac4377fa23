// The machine as a debugger sees it: a DebugTarget for the GDB session and a RunDebugger for the
// run loop. It keeps the debugger's breakpoints and watchpoints (handed to the native core as a
// whole set when the guest resumes, so GDB's remove-all / insert-all around every stop costs
// nothing), decides when the guest runs, and shows the guest's own view of its registers
// through the engine (never the VMM's, under an engine that deprivileges the guest).
import { hex } from '../util/hex.js';
import type { Engine } from '../vmm/engine.js';
import { HOLE_LINEAR } from '../vmm/layout.js';
import type { Machine } from '../vmm/machine.js';
import { Reg } from '../vmm/registers.js';
import type { DebugRunMode, DebuggerStop, RunDebugger } from '../vmm/run-debugger.js';
import type { RunOutcome } from '../vmm/run-loop.js';
import type { BreakpointType, DebugTarget, GuestRegisters, StopReason, WritableRegister } from './debug-target.js';
import { describeRegisters } from './register-report.js';

/** The largest read the native core makes at once (one call never crosses more than a page). */
const PAGE = 4096;

type State =
  /** The guest runs (freely, or one step). */
  | 'running'
  /** A stop was asked for; it is taken before the next run. */
  | 'stopping'
  | 'stopped';

export class GuestDebugger implements DebugTarget, RunDebugger {
  /** Told when the guest stops while a debugger waits for it (a stop reply). */
  onStop: ((reason: StopReason) => void) | undefined;
  exitCounts: (() => Record<string, number>) | undefined;
  private state: State;
  /** What the debugger is told when the asked-for stop is taken; undefined: nothing (an attach). */
  private pendingReason: StopReason | undefined;
  private stepping = false;
  /** Stepping off the VMM's own code onto the guest's next instruction before a stop is shown. */
  private settling = false;
  private killed = false;
  private wake: (() => void) | undefined;
  private readonly breakpoints = new Map<string, { type: BreakpointType; address: number; length: number }>();

  constructor(
    private readonly machine: Machine,
    private readonly engine: Engine,
    /** --gdb-wait: the guest does not start until a debugger lets it. */
    waitForDebugger: boolean,
  ) {
    this.state = waitForDebugger ? 'stopping' : 'running';
  }

  get stoppedSeconds(): number {
    // The clock stands still exactly while the guest is stopped for the debugger.
    return this.machine.clock.pausedSeconds;
  }

  // --- the debugger's side -------------------------------------------------------------------

  /** A debugger connected: the guest stops where it is (GDB expects a stopped target). */
  attach(): void {
    if (this.state === 'running') {
      this.state = 'stopping';
      this.pendingReason = undefined;
    }
  }

  readRegisters(): GuestRegisters {
    const r = (id: number) => this.register(id);
    const fpu = this.machine.vcpu.readFpu();
    return {
      eax: r(Reg.eax), ecx: r(Reg.ecx), edx: r(Reg.edx), ebx: r(Reg.ebx),
      esp: r(Reg.esp), ebp: r(Reg.ebp), esi: r(Reg.esi), edi: r(Reg.edi),
      eip: r(Reg.eip), eflags: r(Reg.eflags),
      cs: r(Reg.cs), ss: r(Reg.ss), ds: r(Reg.ds), es: r(Reg.es), fs: r(Reg.fs), gs: r(Reg.gs),
      st: fpu.st, fctrl: fpu.fctrl, fstat: fpu.fstat, ftag: fpu.ftag, fiseg: fpu.fiseg, fioff: fpu.fioff,
      foseg: fpu.foseg, fooff: fpu.fooff, fop: fpu.fop, xmm: fpu.xmm, mxcsr: fpu.mxcsr,
      cr0: r(Reg.cr0), cr2: r(Reg.cr2), cr3: r(Reg.cr3), cr4: r(Reg.cr4),
      gdtrBase: r(Reg.gdtrBase), gdtrLimit: r(Reg.gdtrLimit), idtrBase: r(Reg.idtrBase), idtrLimit: r(Reg.idtrLimit),
      ldtr: r(Reg.ldtr), tr: r(Reg.tr),
    };
  }

  writeRegister(name: WritableRegister, value: number): boolean {
    const id = Reg[name];
    const vcpu = this.machine.vcpu;
    const done = this.engine.writeGuestRegister?.(id, value >>> 0, vcpu);
    if (done === 'refused') return false;
    if (done === undefined) vcpu.writeRegister(id, value >>> 0);
    return true;
  }

  readMemory(address: number, length: number, physical: boolean): Uint8Array | undefined {
    if (physical) {
      const ram = this.machine.ram;
      if (address >= ram.length) return undefined;
      return ram.slice(address, Math.min(ram.length, address + length));
    }
    const parts: Uint8Array[] = [];
    let done = 0;
    while (done < length) {
      const at = (address + done) >>> 0;
      const chunk = Math.min(length - done, PAGE - (at & (PAGE - 1)));
      // Through the guest's own page tables, even where the VMM keeps its hole.
      const bytes = this.machine.vcpu.readGuestLinear(at, chunk, true);
      if (!bytes) break;
      parts.push(bytes);
      done += chunk;
      if (at + chunk > 0xffffffff) break;
    }
    if (done === 0) return undefined;
    const out = new Uint8Array(done);
    let offset = 0;
    for (const part of parts) {
      out.set(part, offset);
      offset += part.length;
    }
    return out;
  }

  writeMemory(address: number, data: Uint8Array, physical: boolean): boolean {
    const vcpu = this.machine.vcpu;
    let ok: boolean;
    if (physical) {
      ok = address + data.length <= this.machine.ram.length;
      if (ok) this.machine.ram.set(data, address);
    } else {
      ok = true;
      for (let done = 0; ok && done < data.length; ) {
        const at = (address + done) >>> 0;
        const chunk = Math.min(data.length - done, PAGE - (at & (PAGE - 1)));
        ok = vcpu.writeGuestLinear(at, data.subarray(done, done + chunk));
        done += chunk;
      }
    }
    // Code the debugger changed must not run from an old translation.
    vcpu.dropTranslations();
    return ok;
  }

  insertBreakpoint(type: BreakpointType, address: number, length: number): boolean {
    if (type >= 2 && ![1, 2, 4, 8].includes(length)) return false;
    this.breakpoints.set(`${type}:${address}:${length}`, { type, address: address >>> 0, length });
    return true;
  }

  removeBreakpoint(type: BreakpointType, address: number, length: number): boolean {
    this.breakpoints.delete(`${type}:${address}:${length}`);
    return true;
  }

  resume(mode: 'continue' | 'step'): void {
    if (this.state !== 'stopped' && this.state !== 'stopping') return;
    const vcpu = this.machine.vcpu;
    const all = [...this.breakpoints.values()];
    vcpu.setBreakpoints(all.filter((b) => b.type <= 1).map((b) => b.address));
    vcpu.setWatchpoints(all.filter((b) => b.type >= 2).flatMap((b) => [b.address, b.length, b.type]));
    this.stepping = mode === 'step';
    vcpu.debugStep(this.stepping ? 1 : -1);
    vcpu.debugResume();
    this.pendingReason = undefined;
    this.settling = false;
    this.run();
  }

  interrupt(): void {
    if (this.state !== 'running') return;
    this.state = 'stopping';
    this.pendingReason = { kind: 'interrupted' };
  }

  detach(): void {
    this.breakpoints.clear();
    this.onStop = undefined;
    this.applyNoStops();
    if (this.state === 'running') return;
    this.stepping = false;
    this.settling = false;
    this.run();
  }

  kill(): void {
    this.killed = true;
    this.onStop = undefined;
    this.run();
  }

  /** The host ends the run (a signal): a guest stopped in the debugger must not keep it waiting. */
  hostStopped(): void {
    if (this.state !== 'running') this.run();
  }

  monitor(command: string): string | undefined {
    const words = command.trim().split(/\s+/).filter((w) => w !== '');
    const [first, second] = words;
    if (first === 'help' || first === undefined) return MONITOR_HELP;
    if (first === 'info' && second === 'registers') return describeRegisters(this.readRegisters(), this.engine.name);
    if (first === 'exits' || (first === 'info' && second === 'exits')) {
      const counts = this.exitCounts?.() ?? {};
      const lines = Object.entries(counts).filter(([, n]) => n > 0).map(([name, n]) => `${name.padEnd(22)} ${n}`);
      return `${lines.length > 0 ? lines.join('\n') : 'no exits yet'}\n`;
    }
    if (first === 'engine') {
      return `engine ${this.engine.name}: ${this.engine.description}\nstops: ${this.machine.vcpu.stopMechanism}\n`;
    }
    if (first === 'shadow' || (first === 'info' && second === 'shadow')) return this.describeShadow();
    return undefined;
  }

  // --- the run loop's side -------------------------------------------------------------------

  nextRun(): DebugRunMode | Promise<DebugRunMode> {
    if (this.killed) return 'kill';
    if (this.state === 'running') return this.stepping ? 'step' : 'run';
    if (this.state === 'stopping') {
      // Not inside the VMM's own code (the trap engine's stubs): step onto the guest's next
      // instruction first, with no interrupt delivered.
      if (this.inVmmCode() && !this.settling) {
        this.settling = true;
        this.machine.vcpu.debugStep(0);
        return 'step';
      }
      this.becomeStopped(this.pendingReason);
    }
    return this.waitForResume();
  }

  stopped(stop: DebuggerStop): void {
    const vcpu = this.machine.vcpu;
    vcpu.debugStep(-1);
    if (this.settling) {
      this.settling = false;
      this.becomeStopped(this.pendingReason);
      return;
    }
    this.stepping = false;
    const reason = reasonFor(stop);
    // A hardware breakpoint (Z1) is reported as one, so that GDB matches it.
    if (reason.kind === 'breakpoint' && stop.kind === 'debug' && this.breakpoints.has(`1:${stop.address}:1`)) reason.type = 1;
    this.becomeStopped(reason);
  }

  runEnded(outcome: RunOutcome): void {
    this.machine.clock.resume();
    const report = this.onStop;
    this.onStop = undefined;
    if (!report) return;
    if (outcome.kind === 'debug-exit' || outcome.kind === 'guest-exit' || outcome.kind === 'halted') report({ kind: 'exited', status: outcome.status });
    else report({ kind: 'terminated', status: outcome.status, message: outcome.message });
  }

  // --- internals -----------------------------------------------------------------------------

  private register(id: number): number {
    const vcpu = this.machine.vcpu;
    return (this.engine.guestRegister?.(id, vcpu) ?? vcpu.readRegister(id)) >>> 0;
  }

  private inVmmCode(): boolean {
    if (!this.engine.requires.vmmRegion) return false;
    const vcpu = this.machine.vcpu;
    return vcpu.readRegister(Reg.eip) >>> 0 >= HOLE_LINEAR;
  }

  private becomeStopped(reason: StopReason | undefined): void {
    this.state = 'stopped';
    this.stepping = false;
    this.machine.clock.pause();
    if (reason) this.onStop?.(reason);
  }

  private waitForResume(): Promise<DebugRunMode> {
    return new Promise((resolve) => {
      this.wake = () => resolve(this.killed ? 'kill' : this.stepping ? 'step' : 'run');
    });
  }

  private run(): void {
    this.state = 'running';
    this.machine.clock.resume();
    const wake = this.wake;
    this.wake = undefined;
    wake?.();
  }

  private applyNoStops(): void {
    const vcpu = this.machine.vcpu;
    vcpu.setBreakpoints([]);
    vcpu.setWatchpoints([]);
    vcpu.debugStep(-1);
  }

  private describeShadow(): string {
    if (!this.engine.requires.vmmRegion) {
      return `engine ${this.engine.name} runs the guest on its own page tables: there are no shadow page tables\n`;
    }
    const counts = this.engine.counters?.(this.machine.vcpu) ?? {};
    const lines = Object.entries(counts).map(([name, n]) => `${name.padEnd(22)} ${n}`);
    return `shadow page tables of engine ${this.engine.name} (guest CR3 ${hex(this.register(Reg.cr3))}):\n${lines.join('\n')}\n`;
  }
}

function reasonFor(stop: DebuggerStop): StopReason {
  if (stop.kind === 'step-complete') return { kind: 'step' };
  switch (stop.reason) {
    case 'breakpoint':
      return { kind: 'breakpoint', type: 0 };
    case 'step':
      return { kind: 'step' };
    case 'watch-write':
      return { kind: 'watchpoint', type: 2, address: stop.address };
    case 'watch-read':
      return { kind: 'watchpoint', type: 3, address: stop.address };
    case 'watch-access':
      return { kind: 'watchpoint', type: 4, address: stop.address };
  }
}

const MONITOR_HELP = `vmm monitor commands:
  info registers   general, segment, control and descriptor-table registers, as the guest sees them
  exits            the VMM's exit counts so far
  engine           the engine running the guest and how it is stopped
  shadow           the shadow page tables' counters (engines with a VMM region)
  help             this text
Physical memory: maint packet Qqemu.PhyMemMode:1 (0 for linear addresses again)
`;
