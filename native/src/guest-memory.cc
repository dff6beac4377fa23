#include "guest-memory.h"

#include <sys/mman.h>

namespace vmm {

GuestMemory::GuestMemory(size_t bytes) : size_(bytes) {
  // MAP_NORESERVE: a 3 GiB guest that touches 10 MiB costs 10 MiB of host memory.
  void* p = mmap(nullptr, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
  base_ = p == MAP_FAILED ? nullptr : static_cast<uint8_t*>(p);
}

GuestMemory::~GuestMemory() {
  if (base_ != nullptr) munmap(base_, size_);
}

}  // namespace vmm
