// The VMM's own memory for the trap engine: a block of host memory mapped into Unicorn's
// physical space just above guest RAM (rounded up to 4 MiB), and, through every shadow page
// directory, into the top 4 MiB of the linear space ("the hole", as in VMware's VMM). The guest
// can reach neither: the shadow MMU never maps a guest page onto it (those frames read as open
// bus, as on the direct engine), the hole is supervisor-only, and the deprivileged kernel's
// segments are truncated below it.
#pragma once
#include <cstdint>

namespace vmm {

constexpr uint32_t kHoleLinear = 0xFFC00000u;  // the last page-directory entry's 4 MiB

// Offsets inside the region; the hole maps offset x at linear kHoleLinear + x.
constexpr uint32_t kRegionHolePageTable = 0x00000;  // the PT behind PDE 1023 of every shadow
constexpr uint32_t kRegionGdt = 0x01000;            // the real GDT: 64 KiB, 8192 descriptors
constexpr uint32_t kRegionTss = 0x11000;            // the real TSS (no I/O bitmap)
constexpr uint32_t kRegionStub = 0x12000;           // world-switch code (an IRET)
// The paravirt engine's tables in the rest of the stub's page: the IDT it builds from the guest's
// virtual trap table (256 gates), and the TSS image that holds the kernel stack the guest names.
constexpr uint32_t kRegionParavirtIdt = 0x12800;
constexpr uint32_t kParavirtIdtBytes = 256 * 8;
constexpr uint32_t kRegionParavirtTss = 0x12100;
constexpr uint32_t kParavirtTssBytes = 104;
// Where the iret fast call goes on: its stub ends with `jmp [kHoleLinear + kRegionParavirtResume]`.
constexpr uint32_t kRegionParavirtResume = 0x12200;
constexpr uint32_t kRegionStack = 0x13000;          // the world switch's stack page
constexpr uint32_t kRegionMappedBytes = 0x14000;    // what the hole maps
constexpr uint32_t kRegionHolePaeTables = 0x14000;  // the same mappings as two PAE page tables (8 KiB)
constexpr uint32_t kRegionPool = 0x20000;           // shadow page-table pages from here on...
constexpr uint32_t kRegionPoolEnd = 16u << 20;      // ... to here
// The bt engine's translation cache (bt-core.h): region offset kRegionTc + x is mapped at linear
// kHoleLinear + kHoleTcOffset + x, supervisor and read-only like the rest of the hole (only the
// VMM writes it, through its host mapping), page by page as the cache fills: the rest of the
// hole stays unmapped, so that guest accesses there fault and are emulated as under trap.
constexpr uint32_t kRegionTc = 16u << 20;
constexpr uint32_t kHoleTcOffset = 0x20000;
constexpr uint32_t kTcBytes = (4u << 20) - kHoleTcOffset;
constexpr uint32_t kTcLinear = kHoleLinear + kHoleTcOffset;
constexpr uint32_t kRegionBytes = 20u << 20;

// The VMM's own descriptors, at the top of the real GDT (guest descriptors keep their indices).
constexpr uint32_t kVmmCodeSelector = 8191u * 8;
constexpr uint32_t kVmmDataSelector = 8190u * 8;
constexpr uint32_t kVmmTssSelector = 8189u * 8;
constexpr uint32_t kFirstVmmDescriptor = 8189;

}  // namespace vmm
