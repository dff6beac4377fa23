// The memory operand of an instruction with 32-bit addressing: ModRM, SIB and displacement (SDM
// Vol. 2 §2.1.5, Tables 2-2 and 2-3), for the instructions the native core emulates itself.
#pragma once
#include <cstdint>

#include "registers.h"

namespace vmm {

struct MemoryOperand {
  uint32_t length;           // bytes of ModRM, SIB and displacement
  uint32_t offset;           // the effective address (before the segment base)
  bool stack_segment;        // the default segment is SS (an ESP or EBP base), else DS
};

// Legacy prefixes (SDM Vol. 2 §2.1.1: lock and repeat, segment overrides, operand and address size).
constexpr bool is_legacy_prefix(uint8_t b) {
  switch (b) {
    case 0xF0: case 0xF2: case 0xF3: case 0x2E: case 0x36: case 0x3E: case 0x26: case 0x64: case 0x65: case 0x66: case 0x67:
      return true;
    default:
      return false;
  }
}

// The segment register a segment-override prefix names (SDM Vol. 2 §2.1.1, prefix group 2), or
// kNoSegmentOverride for any other byte.
constexpr uint32_t kNoSegmentOverride = ~0u;
constexpr uint32_t segment_override(uint8_t prefix) {
  switch (prefix) {
    case 0x26: return kRegEs;
    case 0x2E: return kRegCs;
    case 0x36: return kRegSs;
    case 0x3E: return kRegDs;
    case 0x64: return kRegFs;
    case 0x65: return kRegGs;
    default: return kNoSegmentOverride;
  }
}

// Decodes the operand whose ModRM byte is at `bytes[0]` (`available` bytes readable); false
// for a register operand (mod = 3) or when the bytes end first. `reg` reads a general register.
template <typename ReadRegister>
bool decode_memory_operand32(const uint8_t* bytes, uint32_t available, ReadRegister reg, MemoryOperand* out) {
  if (available < 1) return false;
  uint32_t mod = bytes[0] >> 6, rm = bytes[0] & 7;
  if (mod == 3) return false;
  uint32_t at = 1;
  bool has_base = true;
  uint32_t base = rm, offset = 0;
  if (rm == 4) {  // a SIB byte follows
    if (available < 2) return false;
    uint8_t sib = bytes[at++];
    uint32_t index = (sib >> 3) & 7;
    base = sib & 7;
    if (index != 4) offset = reg(kRegEax + index) << (sib >> 6);  // index 100b: none
    if (mod == 0 && base == 5) has_base = false;                 // [index*scale + disp32]
  } else if (mod == 0 && rm == 5) {
    has_base = false;  // [disp32]
  }
  uint32_t disp_bytes = mod == 1 ? 1 : (mod == 2 || !has_base) ? 4 : 0;
  if (available < at + disp_bytes) return false;
  if (disp_bytes == 1) offset += static_cast<uint32_t>(static_cast<int32_t>(static_cast<int8_t>(bytes[at])));
  if (disp_bytes == 4) offset += bytes[at] | (bytes[at + 1] << 8) | (bytes[at + 2] << 16) | (uint32_t{bytes[at + 3]} << 24);
  at += disp_bytes;
  if (has_base) offset += reg(kRegEax + base);
  out->length = at;
  out->offset = offset;
  out->stack_segment = has_base && (base == 4 || base == 5);
  return true;
}

}  // namespace vmm
