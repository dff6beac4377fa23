// The paravirt engine's hypercall ABI (docs/paravirt-abi.md): what a paravirtual kernel and this
// VMM agree on. Modelled on Xen's classic 32-bit interface (Barham et al., SOSP 2003; Xen's
// public headers xen.h and arch-x86/xen-x86_32.h): a hypercall page the VMM fills, entered by a
// call; INT 0x82 underneath it; arguments in EBX, ECX, EDX, ESI, EDI and the result in EAX; a
// shared-info page with an event mask and pending flags instead of EFLAGS.IF; a virtual trap
// table instead of LIDT; validated page-table updates instead of writes to the tables. The
// numbers are this VMM's own, not Xen's. The guest's side is guests/pvkernel/pv-abi.h.

/** The vector under the hypercall page (Xen's on x86-32). INT 0x82 from user mode is refused (#GP). */
export const HYPERCALL_VECTOR = 0x82;
/** The gate of the VMM's IDT that enters the guest's event callback (never in its trap table). */
export const EVENT_CALLBACK_VECTOR = 0xff;

/** The kernel's ELF note that names its hypercall page (as Xen's XEN_ELFNOTE_HYPERCALL_PAGE). */
export const NOTE_NAME = 'VMM';
export const NOTE_HYPERCALL_PAGE = 1;
/** Each hypercall's stub takes 32 bytes of the page: hypercall n is entered by `call page + 32 * n`. */
export const HYPERCALL_STUB_BYTES = 32;

export const Hypercall = {
  /** (EBX buffer, ECX length): writes to the console; returns the length. */
  consoleWrite: 0,
  /** (EBX table): the virtual trap table, replaced whole; entries of TrapTableEntry, ended by address 0. */
  setTrapTable: 1,
  /** Returns from an event or exception: pops EAX, EIP, CS, EFLAGS (and ESP, SS to user mode). */
  iret: 2,
  /** (EBX SS, ECX ESP): the kernel stack taken on entries from user mode. */
  stackSwitch: 3,
  /** (EBX requests, ECX count): page-table writes, each validated; 0, or the first failure's error. */
  mmuUpdate: 4,
  /** (EBX physical address of a page directory): validated, pinned and loaded; turns paging on. */
  newBaseptr: 5,
  /** (EBX TlbFlush kind, ECX linear address for one page). */
  tlbFlush: 6,
  /** (EBX low, ECX high): a one-shot timer event at that system time in ns; 0 cancels. */
  setTimer: 7,
  /** Unmasks events and sleeps until one is pending. */
  block: 8,
  /** Gives up the rest of the time slice; pending events are delivered on return. */
  yield: 9,
  /** (EBX value): ends the run with that value (status (value << 1) | 1, as the debug-exit port's). */
  shutdown: 10,
  /** (EBX linear address, ECX entries): the GDT, copied with the kernel's ring raised. */
  setGdt: 11,
  /** (EBX physical page): where the shared-info page is. */
  registerSharedInfo: 12,
  /** (EBX CS, ECX EIP): the event callback. */
  setCallback: 13,
  /**
   * (EBX linear address, ECX new entry, EDX UpdateVaFlags): the entry that maps that address in the
   * current tables, updated as mmu_update would; that page's translation always goes (Xen's
   * update_va_mapping, the call of a page-fault handler).
   */
  updateVaMapping: 14,
  /** (EBX period in ns, at most 2^32 - 1; 0 stops it): a periodic timer event on the timer port. */
  setPeriodicTimer: 15,
} as const;
export type HypercallName = keyof typeof Hypercall;
export const HYPERCALL_NAMES: readonly HypercallName[] = (Object.keys(Hypercall) as HypercallName[]).sort((a, b) => Hypercall[a] - Hypercall[b]);

/**
 * The calls that change no control flow (the page-table ones) are made with CPUID instead of
 * INT 0x82: `mov eax, FAST_HYPERCALL_LEAF + n; cpuid; ret`. The native core answers a CPUID of
 * that leaf from the hypercall page at the kernel's ring inside Unicorn's CPU loop, without the
 * exception an INT costs (elsewhere, or from user mode, it is an ordinary CPUID). The kernel calls
 * every stub the same way: the page hides which instruction is underneath, as Xen's does.
 */
export const FAST_HYPERCALL_LEAF = 0x564d4d00;
export const FAST_HYPERCALLS: readonly number[] = [Hypercall.mmuUpdate, Hypercall.newBaseptr, Hypercall.tlbFlush, Hypercall.updateVaMapping];
/**
 * iret is a fast call too, where it returns to the kernel's own ring: its stub is
 * `push eax; mov eax, FAST_HYPERCALL_LEAF + 2; cpuid; jmp [resume slot]; mov eax, 2; int 0x82`.
 * The core puts the kernel's EIP in the slot (in the VMM's hole, read-only to the kernel), or the
 * address of the stub's INT, at this offset, for what it leaves to the INT: a return to user mode,
 * an event to deliver (native/src/paravirt-abi.h, kIretStubSlowPath).
 */
export const IRET_STUB_SLOW_PATH = 14;

/** Results are 0 (or a count) on success, a negated errno otherwise (Xen's convention). */
export const Errno = { EPERM: 1, EFAULT: 14, EINVAL: 22, ENOSYS: 38 } as const;

/** The shared-info page: byte offsets. */
export const SharedInfo = {
  /** u8: set by the VMM when an unmasked event is pending (Xen's evtchn_upcall_pending). */
  upcallPending: 0,
  /** u8: set by the guest (and by the VMM on entering the callback) to hold events back. */
  upcallMask: 1,
  /** u32: one bit per event port that has fired; the guest clears what it handled. */
  pendingPorts: 4,
  /** u32: one bit per event port that is masked (never raises an upcall). */
  maskedPorts: 8,
  /** u32: the linear address of the last page fault delivered to the kernel (its CR2). */
  faultAddress: 12,
  /** u64: the VMM's system time in ns, written at each entry into the guest. */
  systemTimeNs: 16,
} as const;

export const EventPort = { timer: 0 } as const;

/** One entry of the virtual trap table (as Xen's trap_info). */
export const TrapTableEntry = {
  bytes: 8,
  /** u8 */
  vector: 0,
  /** u8: bits 0-1 the privilege level that may raise it with INT n */
  flags: 1,
  /** u16: the kernel's code selector */
  cs: 2,
  /** u32: the handler; 0 ends the table */
  address: 4,
} as const;
/** A table longer than this is refused. */
export const MAX_TRAP_TABLE_ENTRIES = 256;

export const TlbFlush = { all: 0, page: 1 } as const;
/** update_va_mapping's flags: the page's own translation always goes; `all` flushes every one. */
export const UpdateVaFlags = { page: 1, all: 2 } as const;

/** One page-table update (as Xen's mmu_update): the entry's guest-physical address, its new value. */
export const MmuUpdateRequest = { bytes: 8, pointer: 0, value: 4 } as const;
/** Updates in one call at most. */
export const MAX_MMU_UPDATES = 1024;
