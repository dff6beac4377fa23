// The dirty log of a vCPU without shadow page tables (the direct engine): Unicorn's MMU walks the
// guest's own tables and writes RAM through its TLB, so no write can be made to fault without
// slowing every store. Instead the log keeps a reference copy of guest RAM and, when taken,
// compares each page against it (a page-sized memcmp, at memory bandwidth: a few ms per 64 MiB):
// a page whose bytes differ from the reference is dirty. It sees every writer (the guest, the
// VMM's own stores into RAM, device emulation).
//
// What the reference holds matters. A log of "written since the last take" is not enough for a
// copy elsewhere when the copy is read later than the log is taken: a word that goes 0, 1, 0
// around the moment its page is read (a lock, a list pointer) would be sent as 1 and then look
// clean. So the reference is what was read for the copy: read_pages() copies a page out and
// into the reference at once, and a page is dirty exactly when it differs from what the other
// side was given (zero, to start with). A take brings the reference up to date only for a log
// used on its own: pages that changed since the last take.
#pragma once
#include <cstddef>
#include <cstdint>
#include <vector>

namespace vmm {

class ContentDirtyLog {
 public:
  ContentDirtyLog(const uint8_t* ram, size_t bytes) : ram_(ram), bytes_(bytes) {}
  ~ContentDirtyLog();
  ContentDirtyLog(const ContentDirtyLog&) = delete;
  ContentDirtyLog& operator=(const ContentDirtyLog&) = delete;

  // On: the reference starts all zero, as the other side of a copy does (so the first take
  // names every page that is not zero). Off: the reference is freed.
  void set_logging(bool on);
  bool logging() const { return reference_ != nullptr; }
  // One bit per 4 KiB page (bit i of byte i/8) whose bytes differ from the reference; with
  // `update`, the reference takes them (a log used without read_pages).
  std::vector<uint8_t> take(bool update);
  // The pages' bytes now, one after the other into `out`; the reference takes the same bytes.
  void read_pages(const uint32_t* pages, size_t count, uint8_t* out);

 private:
  const uint8_t* ram_;
  size_t bytes_;
  // A mapping of its own (MAP_NORESERVE): a page of RAM that is zero is not copied, and its
  // reference page is never touched, so the copy costs what the guest really uses.
  uint8_t* reference_ = nullptr;
  std::vector<bool> reference_zero_;  // per page: its reference holds only zeros (untouched)
};

}  // namespace vmm
