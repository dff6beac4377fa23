#include "content-dirty-log.h"

#include <cstring>

namespace vmm {
namespace {
constexpr size_t kPageBytes = 4096;
}

void ContentDirtyLog::set_logging(bool on) {
  if (on) {
    reference_.assign(ram_, ram_ + bytes_);
  } else {
    std::vector<uint8_t>().swap(reference_);
  }
}

std::vector<uint8_t> ContentDirtyLog::take() {
  size_t pages = bytes_ / kPageBytes;
  std::vector<uint8_t> bitmap((pages + 7) / 8, 0);
  if (!logging()) return bitmap;
  for (size_t page = 0; page < pages; page++) {
    const uint8_t* now = ram_ + page * kPageBytes;
    uint8_t* then = reference_.data() + page * kPageBytes;
    if (std::memcmp(now, then, kPageBytes) == 0) continue;
    std::memcpy(then, now, kPageBytes);
    bitmap[page / 8] |= static_cast<uint8_t>(1u << (page % 8));
  }
  return bitmap;
}

}  // namespace vmm
