// The paravirt engine's hypercall ABI, the part the native core carries out (docs/paravirt-abi.md;
// the TypeScript side's single source is src/engines/paravirt/abi.ts, the guest's
// guests/pvkernel/pv.h). The core answers the calls a paravirtual kernel makes per page fault,
// per event and per system call: iret, mmu_update, update_va_mapping, tlb_flush and new_baseptr;
// the rest go to TypeScript.
#pragma once
#include <cstdint>

namespace vmm {

constexpr uint32_t kHypercallIret = 2;
constexpr uint32_t kHypercallMmuUpdate = 4;
constexpr uint32_t kHypercallNewBaseptr = 5;
constexpr uint32_t kHypercallTlbFlush = 6;
constexpr uint32_t kHypercallUpdateVaMapping = 14;

// The calls that change no control flow are made with CPUID from the hypercall page, which the
// core answers inside Unicorn's CPU loop (TrapCore::on_cpuid) with no exception: EAX holds this
// leaf plus the call's number. A CPUID anywhere else, or from user mode, is an ordinary one.
constexpr uint32_t kFastHypercallLeaf = 0x564D4D00;  // "VMM\0"
// The iret stub (32 bytes at 32 * kHypercallIret): `push eax; mov eax, leaf + 2; cpuid;
// jmp [resume slot]; mov eax, 2; int 0x82`. The fast call returns to the kernel through the slot;
// anything else (a return to user mode, an event to deliver) is sent on to the INT at this offset.
constexpr uint32_t kHypercallStubBytes = 32;
constexpr uint32_t kIretStubSlowPath = 14;

// update_va_mapping's flags: the page's own translation always goes; 2 flushes everything.
constexpr uint32_t kUpdateVaFlushAll = 2;

constexpr uint32_t kTlbFlushAll = 0;
constexpr uint32_t kTlbFlushPage = 1;

// mmu_update's requests: {u32 guest-physical address of an entry, u32 new value}.
constexpr uint32_t kMmuUpdateRequestBytes = 8;
constexpr uint32_t kMaxMmuUpdates = 1024;

// Errors are returned negated in EAX (Xen's convention).
constexpr int32_t kErrnoPerm = 1;
constexpr int32_t kErrnoFault = 14;
constexpr int32_t kErrnoInval = 22;

// The shared-info page: the bytes the core reads, and where it stores a page fault's address.
constexpr uint32_t kSharedInfoUpcallPending = 0;
constexpr uint32_t kSharedInfoUpcallMask = 1;
constexpr uint32_t kSharedInfoFaultAddress = 12;

}  // namespace vmm
