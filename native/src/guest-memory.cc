#include "guest-memory.h"

#include <sys/mman.h>

namespace vmm {
namespace {

constexpr uintptr_t kHugePage = uintptr_t{2} << 20;

}  // namespace

GuestMemory::GuestMemory(size_t bytes) : size_(bytes) {
  // MAP_NORESERVE: a 3 GiB guest that touches 10 MiB costs 10 MiB of host memory (rounded up to
  // 2 MiB pages where those are given, below).
  // The mapping starts on a 2 MiB boundary and asks for transparent huge pages, as QEMU does for
  // its RAM: where the host gives them only on request (THP "madvise", Debian's default), a guest
  // that walks through tens of MiB (Linux's decompressor, the compute guest) otherwise misses the
  // host's TLB on 4 KiB pages all the way.
  size_t mapped = bytes + kHugePage;
  void* p = mmap(nullptr, mapped, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
  if (p == MAP_FAILED) return;
  uintptr_t start = reinterpret_cast<uintptr_t>(p);
  uintptr_t aligned = (start + kHugePage - 1) & ~(kHugePage - 1);
  if (aligned > start) munmap(p, aligned - start);
  uintptr_t end = start + mapped;
  if (end > aligned + bytes) munmap(reinterpret_cast<void*>(aligned + bytes), end - (aligned + bytes));
  base_ = reinterpret_cast<uint8_t*>(aligned);
  madvise(base_, bytes, MADV_HUGEPAGE);  // advice only: without it the guest runs as before
}

GuestMemory::~GuestMemory() {
  if (base_ != nullptr) munmap(base_, size_);
}

}  // namespace vmm
