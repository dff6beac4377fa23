// Loads the native core (native/, C++ over Unicorn) and describes its interface.
import { createRequire } from 'node:module';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { projectRoot } from '../util/project-root.js';
import type { EmulatedCpu } from './cpu-model.js';

/**
 * How a running guest is stopped: `exact` (the default) turns Unicorn's load/store exit checks off
 * and stops from the timer's thread at the next block start, when the native core proves that on
 * this Unicorn build (else it falls back to the block hook, and says why); `block-hook` acts on a
 * stop in a hook called for every executed block (docs/design.md, "Stopping the guest").
 */
export type StopMechanism = 'exact' | 'block-hook';
export const STOP_MECHANISMS: readonly StopMechanism[] = ['exact', 'block-hook'];

export interface NativeVcpu {
  /** `exact`, `block-hook`, or `block-hook (why exact stops are not available)`. */
  readonly stopMechanism: string;
  /** How a new translation re-arms the checks for stores into its pages: `index` (its pages' TLB
   *  slots and victim entries) or `walk (why)` (Unicorn's walk of the whole TLB); docs/design.md. */
  readonly codeWriteMarks: string;
  /** Guest RAM, shared with the native core without copies. */
  readonly ram: ArrayBuffer;
  /** The exit record (see exit-record.ts), shared with the native core. */
  readonly exitRecord: ArrayBuffer;
  /** Runs the guest until an exit; a time slice of 0 means no slice. Returns the exit kind. */
  run(timesliceMicros: number): number;
  requestStop(): void;
  readRegister(id: number): number;
  writeRegister(id: number, value: number): void;
  readMsr(index: number): bigint;
  writeMsr(index: number, value: bigint): void;
  /** Called synchronously, inside the guest's instruction, for port I/O, MMIO and CPUID. */
  setInlineHandler(handler: (inlineKind: number) => void): void;
  /** While true, run() ends with an interrupt-window exit as soon as the guest has IF = 1. */
  setInterruptPending(pending: boolean): void;
  /** While true, run() ends with an interrupt-window exit as soon as NMIs are unblocked (IRET). */
  setNmiPending(pending: boolean): void;
  /** The CPU runs a 32-bit code segment: not in real mode, nor between setting CR0.PE and the far jump. */
  codeSegmentIs32(): boolean;
  /** An NMI was delivered and its handler has not run IRET yet; kept under direct only. */
  nmiBlocked(): boolean;
  /** The CR4 bits a MOV to CR4 may set; under direct any other raises #GP(0). */
  setCr4SupportedBits(mask: number): void;
  /** The MSRs the guest's CPU lacks: its RDMSR and WRMSR of one raise #GP(0). */
  setAbsentMsrs(indices: number[]): void;
  /** How windows are found: "exact", "polled: <why>" (direct) or "engine" (trap, bt). */
  readonly windowMechanism: string;
  mapMmio(base: number, size: number): void;
  invalidateCode(start: number, end: number): void;
  /** A device wrote guest-physical [start, end) (DMA), between runs: translated code from there is dropped. */
  invalidatePhysical(start: number, end: number): void;
  unicornErrorText(code: number): string;
  /** Delivers an event through the guest's IVT/IDT now; returns a DeliveryResult. */
  inject(vector: number, source: number, hasErrorCode: boolean, errorCode: number): number;
  /** Reads and writes of physical addresses with nothing behind them (all ones / ignored). */
  readonly openBusAccesses: number;
  /**
   * With no engine core: deliver each exception the guest raises to its own handler inside run(),
   * with no exit (false: every exception ends the run, for the run loop to reflect).
   */
  setExceptionReflection(on: boolean): void;
  /**
   * VMCALL and VMMCALL of the guest are hypercalls (native/src/hypercall.h), answered through an
   * inline exit instead of the #UD the CPU raises for them.
   */
  setHypercalls(on: boolean): void;
  /** Exceptions delivered that way so far. */
  readonly reflectedExceptions: number;
  /** Why the core reads the CPL through CS on this Unicorn build: '' when it found the live CPU state. */
  readonly liveCpuStateMissing: string;
  /** The last instruction was STI, MOV SS or POP SS: interrupts wait one instruction. */
  inInterruptShadow(): boolean;
  /** The VMM has just emulated an STI (with IF clear) or a MOV SS: the shadow holds at EIP. */
  holdInterruptShadow(): void;
  /** The instruction the shadow covered has been carried out by the VMM: interrupts may come now. */
  endInterruptShadow(): void;
  /** Per-instruction (and memory) recording into traceBuffer; off by default. */
  setTracing(instructions: boolean, memory: boolean): void;
  readonly traceBuffer: ArrayBuffer | undefined;
  /** Why the last inject() ended in shutdown or was unsupported. */
  readonly injectionDetail: string;
  /** The event the last inject() answered with a task switch for (the trap engine's kernel), and its gate's TSS selector. */
  readonly taskSwitch: TaskSwitchRequest;
  close(): void;

  /** The trap engine's core (a vCPU created with a VMM region: the trap or bt core); undefined otherwise. */
  readonly trap: NativeTrapCore | undefined;
  /**
   * Dirty-page logging: through the shadow MMU's write-protected entries (a vCPU with a VMM
   * region), by comparing pages with a copy of RAM without one, or with `byContent` (what a
   * migration needs: every writer, the VMM's own stores included; native/src/content-dirty-log.h).
   */
  setDirtyLogging(on: boolean, byContent?: boolean): void;
  /**
   * One bit per guest page written since logging began or the last call (bit i of byte i/8); then
   * cleared. `sinceRead`: without an engine core, the pages that differ from what readPages()
   * last gave of them (what a migration needs: see native/src/content-dirty-log.h).
   */
  takeDirtyLog(sinceRead?: boolean): Uint8Array;
  /** The pages' bytes now, 4 KiB each in order (what the dirty log then compares with). */
  readPages(pages: Uint32Array): Uint8Array;
  /**
   * The whole architectural state (registers with their segment caches, control and debug
   * registers, x87/SSE, MSRs, interrupt shadow, NMI blocking) as bytes of `cpuStateFormat`
   * (native/src/cpu-state-image.h); throws with the reason when it cannot be saved.
   */
  saveCpuState(): Uint8Array;
  /** Puts a state saved by saveCpuState() back; throws (changing nothing) for one of another format. */
  restoreCpuState(image: Uint8Array): void;
  /** The layout of saved CPU states, which belongs to the Unicorn build: "unicorn-2.1/x86-N". */
  readonly cpuStateFormat: string;
  /** The guest's TSC (RDTSC, RDTSCP) is the host's plus `ticks` from now on (native/src/tsc-offset.h). */
  setTscOffset(ticks: bigint): void;
  /** Why the TSC offset cannot be set on this Unicorn build ('' when it can). */
  readonly tscOffsetMissing: string;
  /**
   * Post-copy: guest RAM is dropped and each page pulled from the source's page server at
   * host:port on its first touch, the rest taken as the source pushes it
   * (native/src/postcopy-receiver.h). Throws when userfaultfd or the connection is not there.
   */
  startPostcopy(host: string, port: number): void;
  /**
   * Every page of guest RAM zero again (what a new machine wrote, its firmware tables, goes):
   * a machine about to receive a saved one, whose zero pages are not sent. Before it first runs.
   */
  clearRam(): void;
  /** A bit per guest page (bit i of byte i/8) set for each page that is all zero. */
  zeroPageMap(): Uint8Array;
  /** How post-copy goes (or stood when the vCPU closed): undefined when it was never started. */
  postcopyStatus(): PostcopyStatus | undefined;
  /** An inline exit (newBlock) the first time each block address runs. */
  setBlockDiscovery(on: boolean): void;
  /** Guest linear memory through the guest's own page tables; undefined if not mapped. */
  /** guestMappingOnly: through the guest's own tables even in the trap engine's hole. */
  readGuestLinear(linear: number, length: number, guestMappingOnly?: boolean): Uint8Array | undefined;
  writeGuestLinear(linear: number, data: Uint8Array): boolean;
  /** A supervisor access's translation through the guest's own tables (A/D set as the CPU does). */
  translateGuestLinear(linear: number, write: boolean): { physical: number } | { pageFault: number };

  // A debugger's stops (native/src/debug-stops.h): made with hooks, never by writing guest memory.
  /** Breakpoints at these guest linear addresses (the whole set). */
  setBreakpoints(linears: number[]): void;
  /** Watchpoints as flat triples [linear, length, kind] (kind 2 write, 3 read, 4 access; GDB's Z types). */
  setWatchpoints(triples: number[]): void;
  /** The next runs stop before the (count+1)-th guest instruction from now; -1 cancels. */
  debugStep(count: number): void;
  /** The guest resumes from a debugger stop: a breakpoint where it stands lets it go once. */
  debugResume(): void;
  /** The x87 and SSE state (ST(i) stack-relative, 10 bytes each; XMM 16 bytes each). */
  readFpu(): FpuState;
  /** Drops all translated code (after a debugger wrote guest memory). */
  dropTranslations(): void;
}

export interface PostcopyStatus {
  pagesReceived: number;
  /** Pages asked for because something touched them first. */
  pagesPulled: number;
  faults: number;
  /** Every page has come. */
  done: boolean;
  /** Why the link failed before that ('' while it has not). */
  failure: string;
}

export interface FpuState {
  st: Uint8Array;
  xmm: Uint8Array;
  fctrl: number; fstat: number; ftag: number; fiseg: number; fioff: number; foseg: number; fooff: number; fop: number;
  mxcsr: number;
}

/** An event whose IDT gate is a task gate (native/src/event-injection.h). */
export interface TaskSwitchRequest {
  vector: number;
  source: number;
  hasErrorCode: boolean;
  errorCode: number;
  selector: number;
  /** EXT for an error code the switch raises. */
  ext: number;
}

/** The trap engine's methods, on their own object (`vcpu.trap`). */
export interface NativeTrapCore {
  /** Unicorn-physical base of the VMM region. */
  readonly regionBase: number;
  /** The guest's CR0/CR3/CR4: the real ones get the shadow root and the VMM's bits. */
  configure(cr0: number, cr3: number, cr4: number): void;
  /** Copies the guest's GDT into the real one (ring 0 made ring 1, limits cut below the hole). */
  loadGdt(base: number, limit: number): boolean;
  /** The next run() starts with an IRET into this state. */
  enter(cs: number, eip: number, eflags: number, ss: number, esp: number): void;
  invalidatePage(linear: number): void;
  /** The guest's TSS (its TR is virtual): inner stacks for deliveries from guest ring 3. */
  setGuestTss(base: number, limit: number): void;
  /** The guest kernel's IRET ran (emulated): NMIs are no longer blocked (SDM Vol. 3 §6.7.1). */
  unblockNmis(): void;
  /** The guest's own EFLAGS.NT: its IRET is then a task return, left to the engine. */
  setGuestNestedTask(nested: boolean): void;
  /**
   * The guest cleared CR0.PE: it runs as under direct from now on (no shadows, the VMM region
   * closed, CPL 0 with the segment caches kept) until configure(); the caller loads the guest's
   * control and descriptor-table registers. False when the CPL cannot be set that way.
   */
  leave(): boolean;
  /**
   * While the guest runs as under direct after leave(), the run ends with a 'protected-mode' exit
   * at the first block where it is back in protected mode and protectedModeReady(), before that
   * block runs (only where Unicorn's live CPU state was located; else nothing is watched).
   */
  watchProtectedMode(on: boolean): void;
  /**
   * The guest can be deprivileged now: CR0.PE, a 32-bit code segment, SS a writable data segment
   * of the GDT, DS, ES, FS and GS null or in the GDT.
   */
  protectedModeReady(): boolean;
  /** CPUID offers SMAP: the guest kernel's CLAC and STAC (#UD at ring 1) are carried out. */
  setSmapOffered(offered: boolean): void;
  /**
   * Paravirtual mode (the paravirt engine): the core carries out none of the kernel's privileged
   * instructions (they come here); INT `hypercallVector` from the kernel is a hypercall, of which
   * the core answers iret, mmu_update, update_va_mapping, tlb_flush and new_baseptr (the rest come
   * here), the page-table ones also as fast calls (CPUID from the hypercall page at linear
   * `hypercallPage`); a #PF it delivers stores its address in the shared-info page at
   * guest-physical `sharedInfo` (~0 for none yet).
   */
  paravirtualize(hypercallVector: number, sharedInfo: number, hypercallPage: number): void;
  /**
   * The guest's CPU state as `direct` would hold it (saveCpuState's format), from this
   * deprivileged vCPU and what the engine keeps virtual (native/src/architectural-state.h).
   * Throws "not at a guest instruction boundary" where the vCPU stands in the VMM's own code.
   */
  architecturalState(guest: GuestSystemState): Uint8Array;
  /** The guest's CR0 as the core keeps it (the paravirt engine's new_baseptr turns paging on there). */
  guestCr0(): number;
  /** 256 gates (2048 bytes) into the VMM region's IDT (vmm-region.h, kRegionParavirtIdt). */
  setParavirtualIdt(gates: Uint8Array): void;
  /** The kernel stack for deliveries from guest ring 3, in a TSS image of the VMM's. */
  setParavirtualKernelStack(ss: number, esp: number): void;
  /** Validates and pins a page directory (native/src/page-table-guard.h): 0, or the errno refusing it. */
  pinPageDirectory(physical: number): number;
  /** One validated page-table update, carried out with the shadows following: 0, or the errno refusing it. */
  updatePageTable(pointer: number, value: number): number;
  counters(): ShadowCounters;
  /** The guest's CR3 as it last loaded it: the core carries out MOV to CR3 itself. */
  guestCr3(): number;
  /** The guest's CR2: set by the core when it delivers a #PF, read by its MOV from CR2. */
  guestCr2(): number;
  setGuestCr2(value: number): void;
}

/** What an engine that deprivileges the guest keeps virtual, as the guest believes it. */
export interface GuestSystemState {
  cr0: number; cr2: number; cr3: number; cr4: number;
  gdtrBase: number; gdtrLimit: number; idtrBase: number; idtrLimit: number;
  ldtr: number; tr: number;
  eflags: number;
  /** The guest's selectors (its kernel's with RPL 0). */
  cs: number; ss: number;
  dr: readonly number[];
}

export interface ShadowCounters {
  hiddenFaults: number;
  trueFaults: number;
  shadowPagesBuilt: number;
  shadowPoolResets: number;
  pageTableWrites: number;
  dirtyLogFaults: number;
  rootSwitches: number;
  rootCacheHits: number;
  pagesInvalidated: number;
  /** CLI and STI from the guest kernel carried out in the native core (no JS round trip). */
  cliInCore: number;
  stiInCore: number;
  /** INVLPG from the guest kernel carried out in the native core. */
  invlpgInCore: number;
  /** MOV from CR3 or CR4, and MOV to CR3, from the guest kernel carried out in the native core. */
  crReadsInCore: number;
  cr3WritesInCore: number;
  /** The guest's own exceptions (true page faults, INT n, ...) delivered by the core. */
  reflectedInCore: number;
  /** IRETs of the guest kernel (trapped through NT) carried out in the native core. */
  iretInCore: number;
  /** Copies of the guest's GDT made because a page of it could not be write-protected and it changed. */
  gdtUnwatchedRefreshes: number;
  /** The paravirt engine's hypercalls carried out in the native core, and those it refused. */
  pvIretInCore: number;
  pvMmuUpdateInCore: number;
  pvTlbFlushInCore: number;
  pvNewBaseptrInCore: number;
  pvRefusedInCore: number;
  pvUpdateVaMappingInCore: number;
  /** Of those, the ones made as fast calls (CPUID from the hypercall page, no exception). */
  pvFastCalls: number;
  /** Shadow entries filled ahead of the guest's first access (a paravirtual kernel's new mappings). */
  shadowPrefills: number;
  /** CLAC and STAC of the guest kernel (#UD at ring 1) carried out in the native core. */
  accessFlagInCore: number;
}

/** The native engine core a vCPU is built with (native/src/engine-core.h). */
export type EngineCoreKind = 'trap' | 'bt';

/** The native core an engine needs, from what it declares. */
export function engineCoreFor(requires: { vmmRegion: boolean; translationCache: boolean }): EngineCoreKind | undefined {
  if (requires.translationCache) return 'bt';
  return requires.vmmRegion ? 'trap' : undefined;
}

/** What the bt engine's translator made of one guest block (native/src/bt-translator.h). */
export interface BlockTranslation {
  code: Uint8Array;
  guestEnd: number;
  /** Points in the code and the guest state they stand for (precise: exactly the guest's). */
  boundaries: { tc: number; guest: number; precise: boolean }[];
  /** UD2s that call the VMM (a direct jump's exit stub, an instruction it emulates), and fast
   *  calls' CPUIDs, with where the guest goes on after a carried-out trapping instruction. */
  callouts: { tc: number; kind: 'exit' | 'miss' | 'emulate' | 'gdt' | 'fast' | 'far'; guest: number; resume?: number }[];
}

/** The native vCPU class. */
interface VcpuClass {
  /** translationBufferBytes: the size of Unicorn's translated-code buffer (default 64 MiB);
   *  engineCore: the trap or bt engine's core, with its VMM region above guest RAM (false: none). */
  /** exactStopOffset (tests): an offset to prove instead of the one found at start-up. */
  new (
    ramBytes: number,
    translationBufferBytes?: number,
    engineCore?: EngineCoreKind | false,
    stopMechanism?: StopMechanism,
    exactStopOffset?: number,
    translationCacheBytes?: number,
    shadowPoolBytes?: number,
    emulatedCpu?: EmulatedCpu,
  ): NativeVcpu;
  /** The proof behind `codeWriteMarks: index` with the layout's offsets moved (tests): a wrong
   *  layout fails it before anything is written. */
  proveTlbCodeMarks(fastShift: number, victimsShift: number): { proven: boolean; whyNot: string };
}

interface NativeModule {
  Vcpu: VcpuClass;
  abiVersion: number;
  unicornVersion: string;
  /** The host TSC rate, which is the guest's too (Unicorn's RDTSC reads the host TSC). */
  hostTscHz(): number;
  /** The host TSC now: what the guest's RDTSC reads at this moment. */
  hostTsc(): bigint;
  /** Whether exact stops were proven on this Unicorn build (and Unicorn's private offset), or why not. */
  exactStops(): { proven: boolean; offset: number; whyNot: string };
  /** The bt engine's translator on a byte string (tests): the code for cacheAddress and its map. */
  translateBlock(bytes: Uint8Array, guestAddress: number, cacheAddress: number, lookupTableAddress: number, resumeSlotAddress?: number): BlockTranslation;
  /** The proof of exact stops alone, for a given offset: a wrong one fails it. */
  proveExactStops(offset: number): { proven: boolean; whyNot: string };
}

const EXPECTED_ABI_VERSION = 10;
let loaded: NativeModule | undefined;

export class NativeCoreMissing extends Error {}

export function nativeCore(): NativeModule {
  if (loaded) return loaded;
  const path = join(projectRoot(), 'native', 'build', 'Release', 'vmm_native.node');
  if (!existsSync(path)) {
    throw new NativeCoreMissing('the native core is not built: run `bash scripts/setup.sh` first');
  }
  const module = createRequire(import.meta.url)(path) as NativeModule;
  if (module.abiVersion !== EXPECTED_ABI_VERSION) {
    throw new NativeCoreMissing('the native core is out of date: run `bash scripts/setup.sh` to rebuild it');
  }
  loaded = module;
  return module;
}
