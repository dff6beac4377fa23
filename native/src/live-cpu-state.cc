#include "live-cpu-state.h"

#include <cstring>
#include <mutex>
#include <optional>
#include <vector>

#include "own-memory.h"
#include "x86.h"

// Unicorn's own flush of one page from its TLB (QEMU's tlb_flush_page, accel/tcg/cputlb.c), which
// its API does not offer (uc_ctl_flush_tlb flushes everything). Linked from the same static library.
extern "C" void tlb_flush_page_x86_64(void* cpu, uint64_t address);

namespace vmm {
namespace {

constexpr int kMarkedRegisters[] = {UC_X86_REG_EAX, UC_X86_REG_ECX, UC_X86_REG_EDX, UC_X86_REG_EBX};
constexpr uint32_t kMarks[] = {0x13579BDFu, 0x2468ACE0u, 0x0F1E2D3Cu, 0x4B5A6978u};
// (Unicorn 2.1.1: the CPU object is pointed to from the engine's first 512 bytes, and its general
// registers lie about 35 KiB into it, behind QEMU's CPUState; both windows leave room.)
constexpr size_t kEngineScanBytes = 2 * 1024;       // of the engine's own structure, for pointers
constexpr size_t kPointeeScanBytes = 64 * 1024;     // behind each pointer, for the registers

// The general registers as QEMU stores them: target_ulong slots, 64 bits in the x86_64 build
// Unicorn uses for 32-bit guests, 32 bits in a 32-bit one.
std::vector<uint8_t> marks_pattern(size_t slot) {
  std::vector<uint8_t> pattern(slot * 4, 0);
  for (size_t i = 0; i < 4; i++) std::memcpy(pattern.data() + i * slot, &kMarks[i], 4);
  return pattern;
}

std::vector<size_t> find_all(const std::vector<uint8_t>& haystack, const std::vector<uint8_t>& needle) {
  std::vector<size_t> at;
  if (haystack.size() < needle.size() || needle.size() < 4) return at;
  // The first word alone rules out almost every place (the scan covers megabytes per engine).
  uint32_t first;
  std::memcpy(&first, needle.data(), 4);
  for (size_t i = 0; i + needle.size() <= haystack.size(); i += 4) {
    uint32_t word;
    std::memcpy(&word, haystack.data() + i, 4);
    if (word == first && std::memcmp(haystack.data() + i, needle.data(), needle.size()) == 0) at.push_back(i);
  }
  return at;
}

// Where QEMU's CPUState lies relative to the live registers, and where its env_ptr and uc fields
// lie in it: the same for every engine of one Unicorn build.
struct CpuObjectShape {
  size_t registers_at = 0;  // the live registers' distance from the object's start
  size_t env_ptr_at = 0;
  size_t engine_at = 0;
  bool operator==(const CpuObjectShape& o) const {
    return registers_at == o.registers_at && env_ptr_at == o.env_ptr_at && engine_at == o.engine_at;
  }
};

// QEMU's CPUState (the object the engine points to, whose architecture state holds the live
// registers): proven by the two pointers it must hold before that state, its env_ptr (to the
// registers, the first field of CPUX86State) and its uc (back to the engine). Null otherwise.
//
// Any other object the engine points to that lies less than the scan window below the CPU object
// passes that test too (the range up to the registers then spans the CPU object): where malloc
// put the engine's other allocations decides whether one does, so it happens now and then. The
// engine holds no pointer into the CPU object's interior, so the CPU object is the highest
// candidate; and its shape must be the one the first object found in this process had, so that a
// build where that reasoning fails gives no object rather than a wrong one.
void* find_cpu_object(uc_engine* uc, uintptr_t registers, const std::vector<std::pair<uintptr_t, uintptr_t>>& behind) {
  uintptr_t best = 0;
  CpuObjectShape best_shape;
  for (const auto& [pointer, live] : behind) {
    if (live != registers || pointer >= registers || pointer <= best) continue;
    std::vector<uint8_t> object = read_own_memory(pointer, registers - pointer);
    CpuObjectShape shape;
    shape.registers_at = registers - pointer;
    bool env_ptr = false, engine = false;
    for (size_t i = 0; i + sizeof(uintptr_t) <= object.size(); i += sizeof(uintptr_t)) {
      uintptr_t word;
      std::memcpy(&word, object.data() + i, sizeof word);
      if (!env_ptr && word == registers) env_ptr = true, shape.env_ptr_at = i;
      if (!engine && word == reinterpret_cast<uintptr_t>(uc)) engine = true, shape.engine_at = i;
    }
    if (env_ptr && engine) best = pointer, best_shape = shape;
  }
  if (best == 0) return nullptr;
  static std::mutex mutex;
  static std::optional<CpuObjectShape> first;
  std::lock_guard<std::mutex> lock(mutex);
  if (!first) first = best_shape;
  return *first == best_shape ? reinterpret_cast<void*>(best) : nullptr;
}

}  // namespace

std::unique_ptr<LiveCpuState> LiveCpuState::locate(uc_engine* uc, const ExceptionStateLayout& layout, std::string* why_not) {
  uint32_t saved[4];
  for (size_t i = 0; i < 4; i++) uc_reg_read(uc, kMarkedRegisters[i], &saved[i]);
  auto restore = [&] {
    for (size_t i = 0; i < 4; i++) uc_reg_write(uc, kMarkedRegisters[i], &saved[i]);
  };
  for (size_t i = 0; i < 4; i++) uc_reg_write(uc, kMarkedRegisters[i], &kMarks[i]);

  uc_context* context = nullptr;
  if (uc_context_alloc(uc, &context) != UC_ERR_OK) {
    restore();
    *why_not = "cannot allocate a Unicorn context";
    return nullptr;
  }
  uc_context_save(uc, context);
  const uint8_t* blob = reinterpret_cast<const uint8_t*>(context);
  std::vector<uint8_t> copy(blob, blob + uc_context_size(uc));
  uintptr_t blob_start = reinterpret_cast<uintptr_t>(context), blob_end = blob_start + copy.size();

  // Where the registers sit in the saved copy (exactly one place, in one slot width).
  std::vector<uint8_t> pattern;
  size_t registers_in_copy = 0;
  for (size_t slot : {size_t{8}, size_t{4}}) {
    std::vector<size_t> at = find_all(copy, marks_pattern(slot));
    if (at.size() == 1) {
      pattern = marks_pattern(slot);
      registers_in_copy = at[0];
      break;
    }
  }
  if (pattern.empty() || layout.hflags_offset < registers_in_copy || layout.hflags_offset + 4 > copy.size()) {
    uc_context_free(context);
    restore();
    *why_not = "the registers are not where a saved context puts them";
    return nullptr;
  }

  // The live copy: behind one of the pointers the engine's structure holds, outside the saved one.
  std::vector<uintptr_t> found;
  std::vector<std::pair<uintptr_t, uintptr_t>> behind;  // (pointer, live copy candidate behind it)
  std::vector<uint8_t> engine = read_own_memory(reinterpret_cast<uintptr_t>(uc), kEngineScanBytes);
  std::vector<uintptr_t> scanned;
  for (size_t i = 0; i + sizeof(uintptr_t) <= engine.size(); i += sizeof(uintptr_t)) {
    uintptr_t pointer;
    std::memcpy(&pointer, engine.data() + i, sizeof pointer);
    if (pointer == 0 || pointer % 8 != 0) continue;
    bool seen = false;
    for (uintptr_t p : scanned) seen |= p == pointer;
    if (seen) continue;
    scanned.push_back(pointer);
    std::vector<uint8_t> pointee = read_own_memory(pointer, kPointeeScanBytes);
    for (size_t at : find_all(pointee, pattern)) {
      uintptr_t live = pointer + at;
      if (live >= blob_start && live < blob_end) continue;
      behind.push_back({pointer, live});
      bool known = false;
      for (uintptr_t f : found) known |= f == live;
      if (!known) found.push_back(live);
    }
  }
  uc_context_free(context);
  // Stale copies (freed heap, this function's own buffers) hold the marks too; the live one is the
  // one that follows a register written through Unicorn, twice.
  for (uint32_t probe : {0x600DF00Du, 0x0BADCAFEu}) {
    uc_reg_write(uc, UC_X86_REG_EAX, &probe);
    std::vector<uintptr_t> following;
    for (uintptr_t candidate : found) {
      std::vector<uint8_t> word = read_own_memory(candidate, 4);
      uint32_t seen = 0;
      if (word.size() == 4) std::memcpy(&seen, word.data(), 4);
      if (seen == probe) following.push_back(candidate);
    }
    found = following;
  }
  if (found.size() != 1) {
    restore();
    *why_not = found.empty() ? "no live copy of the registers found" : "several candidates for the live registers";
    return nullptr;
  }
  uintptr_t hflags = found[0] + (layout.hflags_offset - registers_in_copy);

  // Proof: the live hflags is the word the saved context holds at the same distance from the
  // registers (the context is a copy of the live state).
  uint32_t saved_hflags = 0, live_hflags = ~0u;
  std::memcpy(&saved_hflags, copy.data() + layout.hflags_offset, 4);
  std::vector<uint8_t> live_word = read_own_memory(hflags, 4);
  if (live_word.size() == 4) std::memcpy(&live_hflags, live_word.data(), 4);
  restore();
  if (live_hflags != saved_hflags) {
    *why_not = "the live hflags differs from the saved one";
    return nullptr;
  }
  std::unique_ptr<LiveCpuState> state(new LiveCpuState(found[0] - registers_in_copy, registers_in_copy, copy.size()));
  state->hflags_ = reinterpret_cast<volatile uint32_t*>(hflags);
  state->cpu_ = find_cpu_object(uc, found[0], behind);
  return state;
}

void LiveCpuState::flush_tlb_page(uint32_t linear) const { tlb_flush_page_x86_64(cpu_, linear); }

uc_err load_ring0_stack_segment(uc_engine* uc, LiveCpuState* live, uint32_t selector) {
  if (live) {
    live->set_cpl(0);
  } else {
    uint32_t cr0 = 0;
    uc_reg_read(uc, UC_X86_REG_CR0, &cr0);
    uint32_t real_mode_cr0 = cr0 & ~(kCr0Pe | kCr0Pg);
    uc_reg_write(uc, UC_X86_REG_CR0, &real_mode_cr0);
    uc_reg_write(uc, UC_X86_REG_SS, &selector);
    uc_reg_write(uc, UC_X86_REG_CR0, &cr0);
  }
  return uc_reg_write(uc, UC_X86_REG_SS, &selector);
}

}  // namespace vmm
