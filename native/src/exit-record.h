// Layout of the exit record shared with TypeScript (src/vmm/exit-record.ts mirrors it).
// Like KVM's kvm_run page: the core fills it, the VMM reads it, and an inline exit's reply
// (an IN's data, CPUID's registers) is written back into it before the core resumes.
#pragma once
#include <cstdint>

namespace vmm {

enum ExitKind : uint32_t {
  kExitNone = 0,
  kExitHlt = 1,
  kExitException = 2,
  kExitTimeslice = 3,
  kExitStop = 4,
  kExitUnicornError = 5,
  kExitHandlerThrew = 6,
  // The VMM has an interrupt pending and the guest just became able to take it (IF = 1), at
  // a block boundary: like KVM's interrupt-window exit.
  kExitInterruptWindow = 7,
  // Trap engine: the guest touched the VMM's linear hole (address in kFieldCr2).
  kExitVmmHole = 8,
  // A debugger stop (debug-stops.h): a breakpoint, a watched access or a completed step; the
  // reason in kFieldDebugReason, the breakpoint's or watched address in kFieldDebugAddress.
  kExitDebug = 9,
  // The engine core cannot go on (the bt engine: a fault inside a rewritten sequence, where the
  // guest's state is not its own); kFieldVector holds the exception, kFieldAddress the guest
  // instruction.
  kExitEngineError = 10,
  // Trap and bt engines: the guest has just set protected mode up again after leaving it (CR0.PE,
  // a 32-bit code segment, protected-mode stack and data selectors), at a block start; the engine
  // deprivileges it before anything there runs (TrapCore::watch_protected_mode).
  kExitProtectedMode = 11,
};

// Inline exits: serviced synchronously by the TypeScript handler while the guest is paused
// inside Unicorn, because Unicorn's IN, MMIO-read and CPUID callbacks must return their result
// and cannot stop precisely after the instruction (the rest of the translated block would run).
enum InlineKind : uint32_t {
  kInlinePortIn = 1,
  kInlinePortOut = 2,
  kInlineMmioRead = 3,
  kInlineMmioWrite = 4,
  kInlineCpuid = 5,
  kInlineTraceFull = 6,  // the trace buffer is full: drain it
  kInlineNewBlock = 7,    // block discovery: a block at kFieldAddress (kFieldSize bytes) runs for the first time
  // Under direct, the guest's RDMSR/WRMSR of kFieldMsrIndex: the VMM sets kFieldMsrClaimed when
  // the MSR is one of its platform's (the value in kFieldMsrLow/High), else the CPU's own runs.
  kInlineMsrRead = 8,
  kInlineMsrWrite = 9,
  // A hypercall (hypercall.h): number and arguments in kFieldHypercall*, the VMM's answer in
  // kFieldHypercallResult, which becomes the guest's EAX.
  kInlineHypercall = 10,
};

enum ExitField : uint32_t {
  kFieldKind = 0,
  kFieldVector = 1,
  kFieldErrorCode = 2,
  kFieldCr2 = 3,
  kFieldEip = 4,
  kFieldCs = 5,
  kFieldUcError = 6,
  kFieldInstructionLength = 7,  // bytes of a software INT n (vector raised by the instruction)
  kFieldInlineKind = 8,
  kFieldAddress = 9,   // port or MMIO guest-physical address
  kFieldSize = 10,
  kFieldValue = 11,    // OUT/MMIO-write data; IN/MMIO-read reply
  kFieldCpuidLeaf = 12,
  kFieldCpuidSubleaf = 13,
  kFieldCpuidEax = 14,
  kFieldCpuidEbx = 15,
  kFieldCpuidEcx = 16,
  kFieldCpuidEdx = 17,
  kFieldMmioAddressHigh = 18,
  kFieldUnmappedAddress = 19,  // the address of an access outside guest memory
  kFieldUnmappedSize = 20,
  kFieldTraceCount = 21,  // records in the trace buffer
  kFieldUnmappedAddressHigh = 22,  // bits 32-63 of kFieldUnmappedAddress
  kFieldDebugReason = 23,   // a DebugStopReason
  kFieldDebugAddress = 24,
  kFieldMsrIndex = 25,
  kFieldMsrLow = 26,
  kFieldMsrHigh = 27,
  kFieldMsrClaimed = 28,
  // A hypercall's EAX (its number), EBX, ECX, EDX and ESI (its arguments), whether it came from
  // guest user mode, and the result the VMM answers with.
  kFieldHypercallNr = 29,
  kFieldHypercallArg0 = 30,
  kFieldHypercallArg1 = 31,
  kFieldHypercallArg2 = 32,
  kFieldHypercallArg3 = 33,
  kFieldHypercallFromUser = 34,
  kFieldHypercallResult = 35,
  kExitRecordWords = 36,
};

}  // namespace vmm
