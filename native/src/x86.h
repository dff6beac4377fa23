// The x86 architecture as the native core tests, sets and decodes it, in one place (Intel SDM
// Vol. 3: §2.5 control registers, §2.3 EFLAGS, §3.4.5 segment descriptors, §4.3/§4.4 paging,
// §6.3.1 exception vectors). Nothing here knows about engines or Unicorn.
#pragma once
#include <cstdint>

namespace vmm {

// Pages (§4.3) and instructions (SDM Vol. 2 §2.3.11: longer than 15 bytes raises #GP).
constexpr uint32_t kPageSize = 4096;
constexpr uint32_t kMaxInstructionLength = 15;

// Control registers (§2.5).
constexpr uint32_t kCr0Pe = 1u << 0;
constexpr uint32_t kCr0Mp = 1u << 1;
constexpr uint32_t kCr0Em = 1u << 2;
constexpr uint32_t kCr0Ts = 1u << 3;
constexpr uint32_t kCr0Et = 1u << 4;
constexpr uint32_t kCr0Ne = 1u << 5;
constexpr uint32_t kCr0Wp = 1u << 16;
constexpr uint32_t kCr0Pg = 1u << 31;

// Where CR3 names the top paging structure: a 4 KiB-aligned page directory (32-bit paging,
// §4.3), or a 32-byte-aligned PDPT (PAE paging, §4.4.1).
constexpr uint32_t kCr3PageDirectoryMask = 0xFFFFF000u;
constexpr uint32_t kCr3PdptMask = 0xFFFFFFE0u;

constexpr uint32_t kCr4Pse = 1u << 4;
constexpr uint32_t kCr4Pae = 1u << 5;
constexpr uint32_t kCr4Pge = 1u << 7;
// Supervisor-mode execution and access prevention (§4.6.1): no fetch from, and no data access
// without EFLAGS.AC, to a user page from CPL < 3.
constexpr uint32_t kCr4Smep = 1u << 20;
constexpr uint32_t kCr4Smap = 1u << 21;

// EFLAGS (§2.3).
constexpr uint32_t kFlagFixed = 1u << 1;  // always 1
constexpr uint32_t kFlagZf = 1u << 6;
constexpr uint32_t kFlagTf = 1u << 8;
constexpr uint32_t kFlagIf = 1u << 9;
constexpr uint32_t kFlagIopl = 3u << 12;
constexpr uint32_t kFlagNt = 1u << 14;
constexpr uint32_t kFlagRf = 1u << 16;
constexpr uint32_t kFlagVm = 1u << 17;
constexpr uint32_t kFlagAc = 1u << 18;
// CF, PF, AF, ZF, SF and OF: the flags arithmetic sets.
constexpr uint32_t kArithmeticFlags = 0x8D5u;
// Every defined flag: the arithmetic ones, TF, IF, DF, IOPL, NT, RF, VM, AC, VIF, VIP and ID.
constexpr uint32_t kDefinedFlags = kArithmeticFlags | kFlagTf | kFlagIf | (1u << 10) | kFlagIopl | kFlagNt | kFlagRf | kFlagVm |
                                   kFlagAc | (1u << 19) | (1u << 20) | (1u << 21);
constexpr uint8_t kOpcodeIret = 0xCF;

// Paging-structure entries (the low 32 bits; the same positions in 32-bit and PAE entries).
constexpr uint32_t kPtePresent = 1u << 0;
constexpr uint32_t kPteWritable = 1u << 1;
constexpr uint32_t kPteUser = 1u << 2;
constexpr uint32_t kPteAccessed = 1u << 5;
constexpr uint32_t kPteDirty = 1u << 6;
constexpr uint32_t kPteLargePage = 1u << 7;
constexpr uint32_t kPteGlobal = 1u << 8;  // kept across CR3 loads when CR4.PGE is set (SDM Vol. 3 §4.10.2.4)
constexpr uint64_t kPaeAddressMask = 0x000FFFFFFFFFF000ull;

// Exception vectors (§6.3.1, Table 6-1).
constexpr uint32_t kDe = 0, kBp = 3, kOf = 4, kUd = 6, kDf = 8, kTs = 10, kNp = 11, kSs = 12, kGp = 13, kPf = 14,
                   kAc = 17, kCp = 21;

// Exceptions that push an error code (§6.13, Table 6-1); an INT n of the same vector does not.
constexpr bool has_error_code(uint32_t vector) {
  return vector == kDf || vector == kTs || vector == kNp || vector == kSs || vector == kGp || vector == kPf ||
         vector == kAc || vector == kCp;
}

// One-byte opcodes the core recognises at EIP (SDM Vol. 2).
constexpr uint8_t kOpcodeCli = 0xFA;
constexpr uint8_t kOpcodeSti = 0xFB;
constexpr uint8_t kOpcodeIntN = 0xCD;  // followed by the vector byte

// Descriptors (§3.4.5, Figure 3-8; gates, §6.11 Figure 6-2, share the high dword's bits 8-15):
// bits of the high dword.
constexpr uint32_t kDescriptorTypeShift = 8;  // 4 bits
constexpr uint32_t kDescriptorS = 1u << 12;   // set: code or data segment; clear: system descriptor
constexpr uint32_t kDescriptorDplShift = 13;  // 2 bits
constexpr uint32_t kDescriptorPresent = 1u << 15;
constexpr uint32_t kDescriptorLimitHigh = 0xFu << 16;  // limit bits 16-19
constexpr uint32_t kDescriptorBig = 1u << 22;          // D/B
constexpr uint32_t kDescriptorGranular = 1u << 23;     // G: the limit counts 4 KiB units

// The type field of a code or data segment (§3.4.5.1, Table 3-1).
constexpr uint32_t kSegmentAccessed = 0x1;
constexpr uint32_t kSegmentWritable = 0x2;    // data; for code, readable
constexpr uint32_t kSegmentReadable = 0x2;
constexpr uint32_t kSegmentExpandDown = 0x4;  // data; for code, conforming
constexpr uint32_t kSegmentConforming = 0x4;
constexpr uint32_t kSegmentCode = 0x8;

// The type field of a system descriptor (§3.5, Table 3-2).
constexpr uint32_t kSystemCallGate16 = 0x4;
constexpr uint32_t kSystemTaskGate = 0x5;
constexpr uint32_t kSystemInterruptGate16 = 0x6;
constexpr uint32_t kSystemTrapGate16 = 0x7;
constexpr uint32_t kSystemTss32Available = 0x9;
constexpr uint32_t kSystemTss32Busy = 0xB;
constexpr uint32_t kSystemCallGate32 = 0xC;
constexpr uint32_t kSystemInterruptGate32 = 0xE;
constexpr uint32_t kSystemTrapGate32 = 0xF;

// The type field, from a descriptor's high dword or a segment cache's flags (Unicorn's
// uc_x86_mmr.flags keep the high dword's bits 8-23 in place).
constexpr uint32_t descriptor_type(uint32_t hi) { return (hi >> kDescriptorTypeShift) & 0xF; }

// A segment descriptor, decoded. For a gate only type, system, dpl and present mean anything.
struct SegmentDescriptor {
  uint32_t base;
  uint32_t limit;  // the last valid offset, in bytes: a granular limit is scaled (low 12 bits set)
  uint32_t type;
  bool system;  // S clear
  uint32_t dpl;
  bool present;
  bool big;  // D/B
  bool granular;

  bool is_code() const { return !system && (type & kSegmentCode); }
  bool is_data() const { return !system && !(type & kSegmentCode); }
};

// Decodes the two dwords of a descriptor as the CPU reads them from the GDT, LDT or IDT.
constexpr SegmentDescriptor decode_descriptor(uint32_t lo, uint32_t hi) {
  uint32_t raw_limit = (lo & 0xFFFF) | (hi & kDescriptorLimitHigh);
  bool granular = hi & kDescriptorGranular;
  return SegmentDescriptor{
      (lo >> 16) | ((hi & 0xFF) << 16) | (hi & 0xFF000000u),
      granular ? (raw_limit << 12) | 0xFFF : raw_limit,
      descriptor_type(hi),
      !(hi & kDescriptorS),
      (hi >> kDescriptorDplShift) & 3,
      (hi & kDescriptorPresent) != 0,
      (hi & kDescriptorBig) != 0,
      granular,
  };
}

constexpr SegmentDescriptor decode_descriptor(uint64_t raw) {
  return decode_descriptor(static_cast<uint32_t>(raw), static_cast<uint32_t>(raw >> 32));
}

}  // namespace vmm
