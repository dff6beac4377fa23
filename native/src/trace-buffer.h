// The layout of the trace buffer shared with TypeScript: the records the trace recorder
// (trace-recorder.h) writes, one kind per instruction, memory access, or piece of an engine
// core's own work. Register deltas are computed in TypeScript; src/trace/tracer.ts mirrors it.
#pragma once
#include <cstdint>

namespace vmm {

enum TraceRecordKind : uint32_t {
  kTraceInstruction = 1,
  kTraceMemoryRead = 2,
  kTraceMemoryWrite = 3,
  kTraceHiddenFault = 4,  // trap engine: a #PF the shadow MMU filled (address, error code)
  kTraceTranslate = 5,    // bt engine: a block translated (guest start, guest end, cache bytes, rewritten)
  kTraceVmmCall = 6,      // bt engine: translated code called the VMM (TraceVmmCall, guest address)
};

enum TraceVmmCall : uint32_t { kTraceCallExit = 1, kTraceCallLookupMiss = 2, kTraceCallEmulate = 3, kTraceCallIret = 4 };

// Registers snapshotted before each instruction, in this order.
constexpr int kTraceRegisterCount = 19;  // eax ecx edx ebx esp ebp esi edi eflags es cs ss ds fs gs cr0 cr2 cr3 cr4

enum TraceField : uint32_t {
  kTraceKind = 0,
  // instruction records
  kTraceEip = 1,
  kTraceCs = 2,
  kTraceLinear = 3,
  kTraceSize = 4,
  kTraceBytes = 5,      // 4 words: up to 16 bytes
  kTraceRegisters = 9,  // kTraceRegisterCount words
  // memory records
  kTraceAddress = 1,
  kTraceAccessSize = 2,
  kTraceValueLow = 3,
  kTraceValueHigh = 4,
  // hidden page-fault records
  kTraceFaultAddress = 1,
  kTraceFaultError = 2,
  // translate records
  kTraceGuestStart = 1,
  kTraceGuestEnd = 2,
  kTraceCacheBytes = 3,
  kTraceRewritten = 4,
  // VMM-call records
  kTraceCallKind = 1,
  kTraceCallGuest = 2,
  kTraceRecordWords = 28,
};

constexpr uint32_t kTraceCapacity = 4096;  // records

}  // namespace vmm
