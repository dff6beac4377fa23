// Which guest frames are page tables, and the rule that keeps them the VMM's to write (the paravirt
// engine; docs/paravirt-abi.md, "Page tables"): a frame is a page table or writable, never both
// (Xen's page types, Barham et al. §3.3). A paravirtual kernel's tables are read-only to it, and
// every change is a validated update, so it can neither map memory outside its RAM (the VMM's
// region, a device) nor write a table behind the VMM's back. 32-bit paging, 4 KiB pages only (a
// 4 MiB page would map 1024 frames at once, any of which might be a table). Directories and their
// tables stay typed once validated (there is no unpin).
#pragma once
#include <cstdint>
#include <vector>

#include "guest-page-walk.h"

namespace vmm {

class PageTableGuard {
 public:
  explicit PageTableGuard(GuestRam ram);
  // A page directory the kernel loads: validated and pinned. 0, or the errno it is refused with.
  int32_t pin_directory(uint32_t physical);
  // One update of an entry in a pinned directory or one of its tables, carried out in guest RAM.
  // 0 (and `*frame` the table written), or the errno it is refused with (nothing written).
  int32_t update(uint32_t pointer, uint32_t value, uint32_t* frame);

 private:
  uint32_t entry(uint32_t physical) const { return ram_.read32(physical); }
  bool is_table(uint32_t frame) const { return frame < frames_ && table_uses_[frame] > 0; }
  bool is_directory(uint32_t frame) const { return frame < frames_ && directory_[frame]; }
  int32_t check_directory_entry(uint32_t entry, uint32_t directory) const;
  int32_t check_table_entry(uint32_t entry) const;
  void use_table(uint32_t table);
  void release_table(uint32_t table);

  GuestRam ram_;
  uint32_t frames_;
  // Per frame: present, writable entries of validated tables that map it.
  std::vector<uint32_t> writable_mappings_;
  // Per frame: directory entries that name it as their table (0: not a table).
  std::vector<uint32_t> table_uses_;
  std::vector<uint8_t> directory_;
};

}  // namespace vmm
