#include "content-dirty-log.h"

#include <sys/mman.h>

#include <cstring>

#include "zero-pages.h"

namespace vmm {
namespace {
constexpr size_t kPageBytes = kZeroPagesPageBytes;
}  // namespace

ContentDirtyLog::~ContentDirtyLog() { set_logging(false); }

void ContentDirtyLog::set_logging(bool on) {
  if (reference_ != nullptr) {
    munmap(reference_, bytes_);
    reference_ = nullptr;
  }
  if (!on) return;
  void* p = mmap(nullptr, bytes_, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
  if (p == MAP_FAILED) return;
  reference_ = static_cast<uint8_t*>(p);
  madvise(reference_, bytes_, MADV_HUGEPAGE);
  reference_zero_.assign(bytes_ / kPageBytes, true);
}

std::vector<uint8_t> ContentDirtyLog::take(bool update) {
  size_t pages = bytes_ / kPageBytes;
  std::vector<uint8_t> bitmap((pages + 7) / 8, 0);
  if (!logging()) return bitmap;
  std::vector<bool> resident = pages_with_memory(ram_, bytes_);
  for (size_t page = 0; page < pages; page++) {
    const uint8_t* now = ram_ + page * kPageBytes;
    uint8_t* then = reference_ + page * kPageBytes;
    // A page zero then and now is compared without reading its reference.
    bool zero_now = !resident[page] || page_is_zero(now);
    if (reference_zero_[page] ? zero_now : std::memcmp(now, then, kPageBytes) == 0) continue;
    bitmap[page / 8] |= static_cast<uint8_t>(1u << (page % 8));
    if (!update) continue;
    std::memcpy(then, now, kPageBytes);
    reference_zero_[page] = zero_now;
  }
  return bitmap;
}

void ContentDirtyLog::read_pages(const uint32_t* pages, size_t count, uint8_t* out) {
  for (size_t i = 0; i < count; i++) {
    size_t page = pages[i];
    if (page >= bytes_ / kPageBytes) {
      std::memset(out + i * kPageBytes, 0, kPageBytes);
      continue;
    }
    std::memcpy(out + i * kPageBytes, ram_ + page * kPageBytes, kPageBytes);
    if (!logging()) continue;
    std::memcpy(reference_ + page * kPageBytes, out + i * kPageBytes, kPageBytes);
    reference_zero_[page] = page_is_zero(out + i * kPageBytes);
  }
}

}  // namespace vmm
