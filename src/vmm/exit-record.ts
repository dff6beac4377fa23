// The exit record shared with the native core (native/src/exit-record.h), decoded into a
// discriminated union the run loop switches over exhaustively.
export const ExitKind = {
  hlt: 1,
  exception: 2,
  timeslice: 3,
  stop: 4,
  unicornError: 5,
  handlerThrew: 6,
  interruptWindow: 7,
  vmmHole: 8,
  debug: 9,
  engineError: 10,
  protectedMode: 11,
} as const;

export const InlineKind = {
  portIn: 1,
  portOut: 2,
  mmioRead: 3,
  mmioWrite: 4,
  cpuid: 5,
  traceFull: 6,
  newBlock: 7,
  /** Under direct: the guest's RDMSR/WRMSR, offered to the platform's MSRs first. */
  msrRead: 8,
  msrWrite: 9,
  /** A VMCALL or VMMCALL of the guest (hypercall fields below), with hypercalls on. */
  hypercall: 10,
} as const;

export const Field = {
  kind: 0,
  vector: 1,
  errorCode: 2,
  cr2: 3,
  eip: 4,
  cs: 5,
  ucError: 6,
  instructionLength: 7,
  inlineKind: 8,
  address: 9,
  size: 10,
  value: 11,
  cpuidLeaf: 12,
  cpuidSubleaf: 13,
  cpuidEax: 14,
  cpuidEbx: 15,
  cpuidEcx: 16,
  cpuidEdx: 17,
  mmioAddressHigh: 18,
  unmappedAddress: 19,
  unmappedSize: 20,
  traceCount: 21,
  unmappedAddressHigh: 22,
  debugReason: 23,
  debugAddress: 24,
  msrIndex: 25,
  msrLow: 26,
  msrHigh: 27,
  /** Set by the VMM when the MSR is its platform's. */
  msrClaimed: 28,
  /** A hypercall's EAX (its number), EBX, ECX, EDX and ESI. */
  hypercallNr: 29,
  hypercallArg0: 30,
  hypercallArg1: 31,
  hypercallArg2: 32,
  hypercallArg3: 33,
  /** 1 when it came from guest user mode. */
  hypercallFromUser: 34,
  /** Set by the VMM: the guest's EAX after the hypercall. */
  hypercallResult: 35,
} as const;

/** Why a debugger stop was taken (native/src/debug-stops.h, DebugStopReason). */
export type DebugStopKind = 'breakpoint' | 'step' | 'watch-write' | 'watch-read' | 'watch-access';
const DEBUG_STOP_KINDS: Record<number, DebugStopKind> = {
  1: 'breakpoint', 2: 'step', 3: 'watch-write', 4: 'watch-read', 5: 'watch-access',
};

export type Exit =
  | { kind: 'hlt'; cs: number; eip: number }
  | {
      kind: 'exception';
      vector: number;
      errorCode: number;
      cr2: number;
      /** Length of the INT n / INT3 / INTO that raised it, 0 for a real exception. */
      softwareInterruptLength: number;
      cs: number;
      eip: number;
    }
  | { kind: 'timeslice'; cs: number; eip: number }
  | { kind: 'stop'; cs: number; eip: number }
  | { kind: 'unicorn-error'; code: number; address: number; size: number; cs: number; eip: number }
  | { kind: 'interrupt-window'; cs: number; eip: number }
  /** Trap engine: the guest touched the VMM's linear hole. */
  | { kind: 'vmm-hole'; address: number; cs: number; eip: number }
  /**
   * Trap and bt engines: the guest is back in protected mode after leaving it, at a block start
   * (NativeTrapCore.watchProtectedMode); the engine deprivileges it before the next run.
   */
  | { kind: 'protected-mode'; cs: number; eip: number }
  /** A debugger's breakpoint, watchpoint or step stopped the guest (before the next instruction). */
  | { kind: 'debug'; reason: DebugStopKind; address: number; cs: number; eip: number }
  /** The engine core cannot go on (bt: an exception inside a rewritten sequence of the guest instruction at `address`). */
  | { kind: 'engine-error'; vector: number; address: number; cs: number; eip: number };

export type ExitReason = Exit['kind'] | 'io' | 'mmio' | 'cpuid';

export function decodeExit(kind: number, record: Uint32Array): Exit {
  const cs = record[Field.cs];
  const eip = record[Field.eip];
  switch (kind) {
    case ExitKind.vmmHole:
      return { kind: 'vmm-hole', address: record[Field.cr2], cs, eip };
    case ExitKind.hlt:
      return { kind: 'hlt', cs, eip };
    case ExitKind.exception:
      return {
        kind: 'exception',
        vector: record[Field.vector],
        errorCode: record[Field.errorCode],
        cr2: record[Field.cr2],
        softwareInterruptLength: record[Field.instructionLength],
        cs,
        eip,
      };
    case ExitKind.timeslice:
      return { kind: 'timeslice', cs, eip };
    case ExitKind.stop:
      return { kind: 'stop', cs, eip };
    case ExitKind.protectedMode:
      return { kind: 'protected-mode', cs, eip };
    case ExitKind.unicornError:
      return {
        kind: 'unicorn-error',
        code: record[Field.ucError],
        address: record[Field.unmappedAddressHigh] * 2 ** 32 + record[Field.unmappedAddress],
        size: record[Field.unmappedSize],
        cs,
        eip,
      };
    case ExitKind.interruptWindow:
      return { kind: 'interrupt-window', cs, eip };
    case ExitKind.debug: {
      const reason = DEBUG_STOP_KINDS[record[Field.debugReason]];
      if (!reason) throw new Error(`native core returned an unknown debug stop ${record[Field.debugReason]}`);
      return { kind: 'debug', reason, address: record[Field.debugAddress], cs, eip };
    }
    case ExitKind.engineError:
      return { kind: 'engine-error', vector: record[Field.vector], address: record[Field.address], cs, eip };
    default:
      throw new Error(`native core returned an unknown exit kind ${kind}`);
  }
}
