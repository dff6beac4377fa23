#include "zero-by-release.h"

#include <cstddef>
#include <cstdint>

#include <sys/mman.h>
#include <unistd.h>

namespace {

constexpr size_t kSmallest = size_t{1} << 20;
thread_local int g_in_force = 0;

}  // namespace

// Every memset the native core links (Unicorn's included) comes here (-Wl,--wrap=memset in
// binding.gyp); all but the ones described in the header go straight on to libc's.
extern "C" void* __real_memset(void* to, int value, size_t bytes);

extern "C" void* __wrap_memset(void* to, int value, size_t bytes) {
  if (g_in_force == 0 || value != 0 || bytes < kSmallest) return __real_memset(to, value, bytes);
  const uintptr_t page = static_cast<uintptr_t>(sysconf(_SC_PAGESIZE));
  const uintptr_t start = reinterpret_cast<uintptr_t>(to);
  const uintptr_t end = start + bytes;
  const uintptr_t first = (start + page - 1) & ~(page - 1);
  const uintptr_t last = end & ~(page - 1);
  if (first >= last || madvise(reinterpret_cast<void*>(first), last - first, MADV_DONTNEED) != 0) {
    return __real_memset(to, value, bytes);
  }
  __real_memset(to, 0, first - start);
  __real_memset(reinterpret_cast<void*>(last), 0, end - last);
  return to;
}

namespace vmm {

ZeroByRelease::ZeroByRelease() { g_in_force++; }
ZeroByRelease::~ZeroByRelease() { g_in_force--; }

}  // namespace vmm
