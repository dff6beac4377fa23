#include "zero-pages.h"

#include <fcntl.h>
#include <unistd.h>

namespace vmm {

std::vector<bool> pages_with_memory(const uint8_t* ram, size_t bytes) {
  size_t pages = bytes / kZeroPagesPageBytes;
  std::vector<bool> held(pages, true);
  int fd = open("/proc/self/pagemap", O_RDONLY | O_CLOEXEC);
  if (fd < 0) return held;
  std::vector<uint64_t> entries(pages);
  off_t at = static_cast<off_t>(reinterpret_cast<uintptr_t>(ram) / kZeroPagesPageBytes * sizeof(uint64_t));
  size_t want = pages * sizeof(uint64_t), got = 0;
  while (got < want) {
    ssize_t n = pread(fd, reinterpret_cast<uint8_t*>(entries.data()) + got, want - got, at + static_cast<off_t>(got));
    if (n <= 0) break;
    got += static_cast<size_t>(n);
  }
  close(fd);
  if (got != want) return held;
  constexpr uint64_t kPresentOrSwapped = (uint64_t{1} << 63) | (uint64_t{1} << 62);
  for (size_t page = 0; page < pages; page++) held[page] = (entries[page] & kPresentOrSwapped) != 0;
  return held;
}

bool page_is_zero(const uint8_t* page) {
  const uint64_t* words = reinterpret_cast<const uint64_t*>(page);
  uint64_t any = 0;
  for (size_t i = 0; i < kZeroPagesPageBytes / 8; i++) any |= words[i];
  return any == 0;
}

std::vector<uint8_t> zero_page_map(const uint8_t* ram, size_t bytes) {
  size_t pages = bytes / kZeroPagesPageBytes;
  std::vector<uint8_t> map((pages + 7) / 8, 0);
  std::vector<bool> held = pages_with_memory(ram, bytes);
  for (size_t page = 0; page < pages; page++) {
    if (!held[page] || page_is_zero(ram + page * kZeroPagesPageBytes)) map[page / 8] |= static_cast<uint8_t>(1u << (page % 8));
  }
  return map;
}

}  // namespace vmm
