#include "page-table-guard.h"

#include "paravirt-abi.h"
#include "x86.h"

namespace vmm {

namespace {
constexpr uint32_t kEntries = 1024;
}  // namespace

PageTableGuard::PageTableGuard(GuestRam ram)
    : ram_(ram),
      frames_(static_cast<uint32_t>(ram.size() / kPageSize)),
      writable_mappings_(frames_),
      table_uses_(frames_),
      directory_(frames_) {}

int32_t PageTableGuard::pin_directory(uint32_t physical) {
  if (physical % kPageSize != 0) return kErrnoInval;
  uint32_t frame = physical / kPageSize;
  if (frame >= frames_) return kErrnoInval;
  if (directory_[frame]) return 0;
  if (table_uses_[frame] > 0 || writable_mappings_[frame] > 0) return kErrnoPerm;
  std::vector<uint32_t> taken;
  auto give_back = [&] {
    for (uint32_t table : taken) release_table(table);
  };
  for (uint32_t i = 0; i < kEntries; i++) {
    uint32_t pde = entry(physical + 4 * i);
    if (!(pde & kPtePresent)) continue;
    if (int32_t refused = check_directory_entry(pde, frame)) {
      give_back();
      return refused;
    }
    use_table(pde >> 12);
    taken.push_back(pde >> 12);
  }
  // One of its own tables may map the directory writable: counted only now that they are tables.
  if (writable_mappings_[frame] > 0) {
    give_back();
    return kErrnoPerm;
  }
  directory_[frame] = 1;
  return 0;
}

int32_t PageTableGuard::update(uint32_t pointer, uint32_t value, uint32_t* frame_out) {
  if (pointer % 4 != 0) return kErrnoInval;
  uint32_t frame = pointer / kPageSize;
  if (frame >= frames_) return kErrnoInval;
  uint32_t old = entry(pointer);
  if (directory_[frame]) {
    if (value & kPtePresent) {
      if (int32_t refused = check_directory_entry(value, frame)) return refused;
      use_table(value >> 12);
    }
    if (old & kPtePresent) release_table(old >> 12);
  } else if (table_uses_[frame] > 0) {
    if (value & kPtePresent) {
      if (int32_t refused = check_table_entry(value)) return refused;
      if (value & kPteWritable) writable_mappings_[value >> 12]++;
    }
    if ((old & kPtePresent) && (old & kPteWritable) && (old >> 12) < frames_) writable_mappings_[old >> 12]--;
  } else {
    return kErrnoInval;
  }
  ram_.write32(pointer, value);
  *frame_out = frame;
  return 0;
}

int32_t PageTableGuard::check_directory_entry(uint32_t pde, uint32_t directory) const {
  if (pde & kPteLargePage) return kErrnoInval;
  uint32_t table = pde >> 12;
  if (table >= frames_) return kErrnoInval;
  if (table == directory || directory_[table]) return kErrnoPerm;
  if (table_uses_[table] > 0) return 0;
  if (writable_mappings_[table] > 0) return kErrnoPerm;
  for (uint32_t i = 0; i < kEntries; i++) {
    uint32_t pte = entry(table * kPageSize + 4 * i);
    if (!(pte & kPtePresent)) continue;
    if (int32_t refused = check_table_entry(pte)) return refused;
    // A table that maps itself writable would be both.
    if ((pte & kPteWritable) && (pte >> 12) == table) return kErrnoPerm;
  }
  return 0;
}

int32_t PageTableGuard::check_table_entry(uint32_t pte) const {
  uint32_t frame = pte >> 12;
  if (frame >= frames_) return kErrnoInval;
  if ((pte & kPteWritable) && (is_table(frame) || is_directory(frame))) return kErrnoPerm;
  return 0;
}

// The table becomes (or stays) one more directory entry's table; its writable entries count from
// its first use.
void PageTableGuard::use_table(uint32_t table) {
  if (table_uses_[table]++ > 0) return;
  for (uint32_t i = 0; i < kEntries; i++) {
    uint32_t pte = entry(table * kPageSize + 4 * i);
    if ((pte & kPtePresent) && (pte & kPteWritable)) writable_mappings_[pte >> 12]++;
  }
}

void PageTableGuard::release_table(uint32_t table) {
  if (table >= frames_ || table_uses_[table] == 0 || --table_uses_[table] > 0) return;
  for (uint32_t i = 0; i < kEntries; i++) {
    uint32_t pte = entry(table * kPageSize + 4 * i);
    if ((pte & kPtePresent) && (pte & kPteWritable) && (pte >> 12) < frames_) writable_mappings_[pte >> 12]--;
  }
}

}  // namespace vmm
