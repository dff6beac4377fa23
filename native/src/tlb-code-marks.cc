#include "tlb-code-marks.h"

#include <atomic>
#include <cstring>
#include <memory>
#include <vector>

#include <unicorn/unicorn.h>

#include "live-cpu-state.h"
#include "own-memory.h"

// Unicorn's walk (accel/tcg/cputlb.c), reached past the wrapper (code-write-checks.cc).
extern "C" void __real_tlb_reset_dirty_by_vaddr_x86_64(void* cpu, uint64_t start, uint64_t length);

namespace vmm {
namespace {

// QEMU 5.0 as Unicorn 2.1.1 builds it for x86 (include/exec/cpu-defs.h, cpu-all.h,
// target/i386/cpu.h); the proof below checks every one of them against Unicorn's own walk.
constexpr int kModes = 3;                 // NB_MMU_MODES: KSMAP, USER, KNOSMAP
constexpr int kKernelMode = 2;            // MMU_KNOSMAP_IDX: CPL 0 without SMAP
constexpr int kVictims = 8;               // CPU_VTLB_SIZE
constexpr int kEntryBits = 6;             // CPU_TLB_ENTRY_BITS: Unicorn's entry adds paddr
constexpr size_t kEntryBytes = size_t{1} << kEntryBits;
constexpr size_t kDescBytes = 696;        // sizeof(CPUTLBDesc): 6 words, 8 entries, 8 iotlb entries, a pointer
constexpr uint64_t kPageMask = ~uint64_t{0xFFF};
constexpr uint64_t kInvalid = 1u << 11, kNotDirty = 1u << 10, kMmio = 1u << 9, kDiscardWrite = 1u << 6;
constexpr size_t kPairScanBytes = 1024;   // before env, for the {mask, table} pairs
constexpr size_t kVictimScanBytes = 4096; // before the pairs, for the victim tables

struct Entry {
  uint64_t addr_read, addr_write, addr_code, paddr, addend;
  uint8_t padding[kEntryBytes - 40];
};
static_assert(sizeof(Entry) == kEntryBytes);

struct FastPair {
  uint64_t mask;  // (entries - 1) << kEntryBits
  Entry* table;
};

std::atomic<const TlbCodeMarksLayout*> g_in_use{nullptr};

// tlb_reset_dirty_range_by_vaddr_locked's test and mark, for one entry.
inline void mark_entry(Entry* entry, uint64_t start, uint64_t length) {
  uint64_t addr = entry->addr_write;
  if ((addr & (kInvalid | kMmio | kDiscardWrite | kNotDirty)) == 0 && (addr & kPageMask) - start < length) {
    entry->addr_write = addr | kNotDirty;
  }
}

bool valid_pair(const FastPair& pair) {
  uint64_t entries = (pair.mask >> kEntryBits) + 1;
  return (pair.mask & (kEntryBytes - 1)) == 0 && entries >= 64 && entries <= (uint64_t{1} << 22) &&
         (entries & (entries - 1)) == 0 && pair.table != nullptr && reinterpret_cast<uintptr_t>(pair.table) % 8 == 0;
}

// The three {mask, table} pairs at `at`, read without faulting; false when any is not one.
bool read_pairs(uintptr_t at, FastPair (&pairs)[kModes]) {
  std::vector<uint8_t> bytes = read_own_memory(at, sizeof pairs);
  if (bytes.size() != sizeof pairs) return false;
  std::memcpy(pairs, bytes.data(), sizeof pairs);
  for (const FastPair& pair : pairs) {
    if (!valid_pair(pair)) return false;
  }
  return true;
}

Entry* slot(const FastPair& pair, uint64_t page) {
  return pair.table + ((page >> 12) & (pair.mask >> kEntryBits));
}

// The bytes the walk may change: the descriptors' victim tables and every mode's table.
struct TlbBytes {
  std::vector<std::pair<uint8_t*, std::vector<uint8_t>>> regions;
  static TlbBytes of(uint8_t* descriptors_from, uint8_t* descriptors_to, const FastPair (&pairs)[kModes]) {
    TlbBytes bytes;
    bytes.add(descriptors_from, descriptors_to - descriptors_from);
    for (const FastPair& pair : pairs) bytes.add(reinterpret_cast<uint8_t*>(pair.table), ((pair.mask >> kEntryBits) + 1) * kEntryBytes);
    return bytes;
  }
  void add(uint8_t* at, size_t size) { regions.push_back({at, std::vector<uint8_t>(at, at + size)}); }
  void put_back() const {
    for (const auto& [at, saved] : regions) std::memcpy(at, saved.data(), saved.size());
  }
  bool operator==(const TlbBytes& other) const {
    for (size_t i = 0; i < regions.size(); i++) {
      if (regions[i].second != other.regions[i].second) return false;
    }
    return true;
  }
};

TlbCodeMarksLayout fail(uc_engine* uc, const std::string& why) {
  if (uc) uc_close(uc);
  TlbCodeMarksLayout layout;
  layout.why_not = why;
  return layout;
}

}  // namespace

TlbCodeMarksLayout prove_tlb_code_marks(const ExceptionStateLayout& state_layout, ptrdiff_t fast_shift, ptrdiff_t victims_shift) {
  uc_engine* uc = nullptr;
  if (uc_open(UC_ARCH_X86, UC_MODE_32, &uc) != UC_ERR_OK) return fail(nullptr, "cannot open a scratch Unicorn engine");
  constexpr uint64_t kRam = 8u << 20, kCode = 0x1000, kFirst = 1u << 20;
  if (uc_mem_map(uc, 0, kRam, UC_PROT_ALL) != UC_ERR_OK || uc_ctl_exits_enable(uc) != UC_ERR_OK) {
    return fail(uc, "cannot set up the scratch engine");
  }
  std::string why;
  std::unique_ptr<LiveCpuState> live = LiveCpuState::locate(uc, state_layout, &why);
  if (!live || !live->cpu_object()) return fail(uc, live ? "QEMU's CPU object was not found" : "the CPU state was not located: " + why);
  uint8_t* cpu = static_cast<uint8_t*>(live->cpu_object());
  uint8_t* env = static_cast<uint8_t*>(live->cpu_env());

  // 1. The pairs: the one place in the 1 KiB before env with three valid ones in a row.
  uintptr_t pairs_at = 0;
  int candidates = 0;
  for (size_t back = sizeof(FastPair) * kModes; back <= kPairScanBytes; back += 8) {
    FastPair pairs[kModes];
    if (read_pairs(reinterpret_cast<uintptr_t>(env) - back, pairs)) pairs_at = reinterpret_cast<uintptr_t>(env) - back, candidates++;
  }
  if (candidates != 1) return fail(uc, candidates == 0 ? "no TLB {mask, table} pairs before env" : "several candidates for the TLB's {mask, table} pairs");
  pairs_at += fast_shift;
  FastPair pairs[kModes];
  if (!read_pairs(pairs_at, pairs)) return fail(uc, "no TLB {mask, table} pairs at the offset given");
  const FastPair& kernel = pairs[kKernelMode];
  uint64_t entries = (kernel.mask >> kEntryBits) + 1;
  uint64_t second = kFirst + entries * 0x1000;  // the same slot as kFirst
  if (second + 0x1000 > kRam) return fail(uc, "the kernel mode's TLB is larger than the scratch engine's RAM");

  // 2. A store fills kFirst's slot; a store to `second` takes the slot and moves kFirst's entry
  //    to the victim table (tlb_set_page_with_attrs).
  uint8_t code[] = {0xA3, 0, 0, 0, 0, 0xA3, 0, 0, 0, 0, 0xF4};  // mov [kFirst], eax; mov [second], eax; hlt
  uint32_t first32 = kFirst, second32 = static_cast<uint32_t>(second);
  std::memcpy(code + 1, &first32, 4);
  std::memcpy(code + 6, &second32, 4);
  if (uc_mem_write(uc, kCode, code, sizeof code) != UC_ERR_OK || uc_emu_start(uc, kCode, 0, 0, 0) != UC_ERR_OK) {
    return fail(uc, "the scratch engine's stores did not run");
  }
  if (!read_pairs(pairs_at, pairs)) return fail(uc, "the pairs changed under two stores");
  Entry* filled = slot(kernel, second);
  if (filled->addr_write != second || filled->addr_read != second) return fail(uc, "a store did not fill the slot the kernel mode's pair gives");
  uintptr_t victim = 0;
  int copies = 0;
  std::vector<uint8_t> before = read_own_memory(pairs_at - kVictimScanBytes, kVictimScanBytes);
  // (Read, write, code and physical address: paging is off, so all four are kFirst.)
  for (size_t at = 0; at + 32 <= before.size(); at += 8) {
    uint64_t words[4];
    std::memcpy(words, before.data() + at, sizeof words);
    if (words[0] == kFirst && words[1] == kFirst && words[2] == kFirst && words[3] == kFirst) victim = pairs_at - kVictimScanBytes + at, copies++;
  }
  if (copies != 1) return fail(uc, copies == 0 ? "the evicted entry is in no victim table" : "several copies of the evicted entry");
  uintptr_t victims_at = victim - (kKernelMode * kDescBytes) + victims_shift;
  auto victims = [&](int mode) { return reinterpret_cast<Entry*>(victims_at + mode * kDescBytes); };
  auto vindex = [&](int mode) {
    std::vector<uint8_t> word = read_own_memory(reinterpret_cast<uintptr_t>(victims(mode)) - 8, 8);
    uint64_t value = ~uint64_t{0};
    if (word.size() == 8) std::memcpy(&value, word.data(), 8);
    return value;
  };
  if (reinterpret_cast<uintptr_t>(victims(kKernelMode)) != victim || vindex(kKernelMode) != 1) {
    return fail(uc, "the kernel mode's victim table is not where the descriptor size puts it");
  }
  for (int mode = 0; mode < kModes; mode++) {
    if (mode == kKernelMode) continue;
    std::vector<uint8_t> table = read_own_memory(reinterpret_cast<uintptr_t>(victims(mode)), kVictims * kEntryBytes);
    bool empty = table.size() == kVictims * kEntryBytes && vindex(mode) == 0;
    for (int i = 0; empty && i < kVictims; i++) {
      uint64_t write;
      std::memcpy(&write, table.data() + i * kEntryBytes + 8, 8);
      empty = write == ~uint64_t{0};
    }
    if (!empty) return fail(uc, "an unused mode's victim table is not empty where the descriptor size puts it");
  }

  // 3. Unicorn's walk and this give the same bytes, on entries made for the purpose in every
  //    mode: the pages marked, a page next to them, MMIO, discarded writes, invalid and already
  //    marked entries.
  uint8_t* descriptors = reinterpret_cast<uint8_t*>(victims_at) - 64;
  TlbBytes original = TlbBytes::of(descriptors, reinterpret_cast<uint8_t*>(pairs_at + sizeof pairs), pairs);
  constexpr uint64_t kP = 0x305000, kQ = kP + 0x1000, kR = kP + 0x2000;
  auto make = [](Entry* entry, uint64_t page, uint64_t write_flags) {
    entry->addr_read = page, entry->addr_write = page | write_flags, entry->addr_code = page, entry->paddr = page, entry->addend = 0;
  };
  for (int mode = 0; mode < kModes; mode++) {
    make(slot(pairs[mode], kP), kP, 0);
    make(slot(pairs[mode], kQ), kQ, 0);
    make(slot(pairs[mode], kR), kR, 0);
    Entry* table = victims(mode);
    make(&table[1], kP, 0);
    make(&table[2], kQ, 0);
    make(&table[3], kP, kMmio);
    make(&table[4], kP, kNotDirty);
    make(&table[5], kR, 0);
    make(&table[6], kP, kInvalid);
    make(&table[7], kP, kDiscardWrite);
  }
  TlbBytes made = TlbBytes::of(descriptors, reinterpret_cast<uint8_t*>(pairs_at + sizeof pairs), pairs);
  TlbCodeMarksLayout layout;
  layout.proven = true;
  layout.env_from_cpu = env - cpu;
  layout.fast_from_env = static_cast<ptrdiff_t>(pairs_at - reinterpret_cast<uintptr_t>(env));
  layout.victims_from_env = static_cast<ptrdiff_t>(victims_at - reinterpret_cast<uintptr_t>(env));
  const std::pair<uint64_t, uint64_t> ranges[] = {{kP, 0x800}, {kP, 0x1800}, {kP + 0x10, 0x1000}, {kR + 0x1000, 0x1000}};
  bool same = true, marked = false;
  for (const auto& [start, length] : ranges) {
    made.put_back();
    __real_tlb_reset_dirty_by_vaddr_x86_64(cpu, start, length);
    TlbBytes unicorns = TlbBytes::of(descriptors, reinterpret_cast<uint8_t*>(pairs_at + sizeof pairs), pairs);
    made.put_back();
    mark_code_pages(layout, cpu, start, length);
    TlbBytes ours = TlbBytes::of(descriptors, reinterpret_cast<uint8_t*>(pairs_at + sizeof pairs), pairs);
    same = same && ours == unicorns;
    marked = marked || !(unicorns == made);
  }
  original.put_back();
  uc_close(uc);
  if (!same) return fail(nullptr, "marking by index differs from Unicorn's walk");
  if (!marked) return fail(nullptr, "Unicorn's walk marked none of the entries made for the proof");
  return layout;
}

const TlbCodeMarksLayout& tlb_code_marks_layout(const ExceptionStateLayout& state_layout) {
  static const TlbCodeMarksLayout layout = prove_tlb_code_marks(state_layout, 0, 0);
  // (Once, when the layout is first proven: the wrapper reads this pointer at every translation.)
  static const bool installed = layout.proven && (g_in_use.store(&layout), true);
  (void)installed;
  return layout;
}

void mark_code_pages(const TlbCodeMarksLayout& layout, void* cpu, uint64_t start, uint64_t length) {
  uint8_t* env = static_cast<uint8_t*>(cpu) + layout.env_from_cpu;
  const FastPair* pairs = reinterpret_cast<const FastPair*>(env + layout.fast_from_env);
  // The pages an entry can name and pass the test: page-aligned, at or after start.
  const uint64_t first = (start + 0xFFF) & kPageMask;
  for (int mode = 0; mode < kModes; mode++) {
    for (uint64_t page = first; page - start < length; page += 0x1000) mark_entry(slot(pairs[mode], page), start, length);
    Entry* victims = reinterpret_cast<Entry*>(env + layout.victims_from_env + mode * kDescBytes);
    for (int i = 0; i < kVictims; i++) mark_entry(&victims[i], start, length);
  }
}

const TlbCodeMarksLayout* tlb_code_marks_in_use() { return g_in_use.load(std::memory_order_relaxed); }

}  // namespace vmm
