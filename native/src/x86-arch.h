// Architectural bit positions the native core tests and sets (Intel SDM Vol. 3: §2.5 control
// registers, §2.3 EFLAGS, §4.3/§4.4 paging-structure entries, §6.3.1 exception vectors).
#pragma once
#include <cstdint>

namespace vmm {

constexpr uint32_t kCr0Pe = 1u << 0;
constexpr uint32_t kCr0Mp = 1u << 1;
constexpr uint32_t kCr0Em = 1u << 2;
constexpr uint32_t kCr0Ts = 1u << 3;
constexpr uint32_t kCr0Et = 1u << 4;
constexpr uint32_t kCr0Ne = 1u << 5;
constexpr uint32_t kCr0Wp = 1u << 16;
constexpr uint32_t kCr0Pg = 1u << 31;

constexpr uint32_t kCr4Pse = 1u << 4;
constexpr uint32_t kCr4Pae = 1u << 5;
constexpr uint32_t kCr4Pge = 1u << 7;

constexpr uint32_t kFlagFixed = 1u << 1;  // always 1
constexpr uint32_t kFlagTf = 1u << 8;
constexpr uint32_t kFlagIf = 1u << 9;
constexpr uint32_t kFlagIopl = 3u << 12;
constexpr uint32_t kFlagNt = 1u << 14;
constexpr uint32_t kFlagRf = 1u << 16;
constexpr uint32_t kFlagVm = 1u << 17;
constexpr uint32_t kFlagAc = 1u << 18;

// Paging-structure entries (the low 32 bits; the same positions in 32-bit and PAE entries).
constexpr uint32_t kPtePresent = 1u << 0;
constexpr uint32_t kPteWritable = 1u << 1;
constexpr uint32_t kPteUser = 1u << 2;
constexpr uint32_t kPteAccessed = 1u << 5;
constexpr uint32_t kPteDirty = 1u << 6;
constexpr uint32_t kPteLargePage = 1u << 7;
constexpr uint64_t kPaeAddressMask = 0x000FFFFFFFFFF000ull;

constexpr uint32_t kDf = 8, kTs = 10, kNp = 11, kSs = 12, kGp = 13, kPf = 14;

}  // namespace vmm
