// The dirty log of a vCPU without shadow page tables (the direct engine): Unicorn's MMU walks the
// guest's own tables and writes RAM through its TLB, so no write can be made to fault without
// slowing every store. Instead the log keeps a reference copy of guest RAM and, when taken,
// compares each page against it (a page-sized memcmp, at memory bandwidth: a few ms per 64 MiB):
// a page whose bytes differ was written since the last take, and the copy is brought up to date.
// It sees every writer (the guest, the VMM's own stores into RAM, device emulation), and a page
// rewritten with the bytes it had is, rightly for a copy elsewhere, not dirty.
#pragma once
#include <cstddef>
#include <cstdint>
#include <vector>

namespace vmm {

class ContentDirtyLog {
 public:
  ContentDirtyLog(const uint8_t* ram, size_t bytes) : ram_(ram), bytes_(bytes) {}

  // On: the reference becomes RAM as it is now (everything is clean). Off: the copy is freed.
  void set_logging(bool on);
  bool logging() const { return !reference_.empty(); }
  // One bit per 4 KiB page (bit i of byte i/8) that changed since logging started or the last take.
  std::vector<uint8_t> take();

 private:
  const uint8_t* ram_;
  size_t bytes_;
  std::vector<uint8_t> reference_;
};

}  // namespace vmm
