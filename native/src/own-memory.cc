#include "own-memory.h"

#include <sys/uio.h>
#include <unistd.h>

namespace vmm {

std::vector<uint8_t> read_own_memory(uintptr_t address, size_t size) {
  std::vector<uint8_t> out(size);
  size_t got = 0;
  while (got < size) {
    iovec local{out.data() + got, size - got};
    iovec remote{reinterpret_cast<void*>(address + got), size - got};
    ssize_t n = process_vm_readv(getpid(), &local, 1, &remote, 1, 0);
    if (n <= 0) break;
    got += static_cast<size_t>(n);
  }
  out.resize(got);
  return out;
}

}  // namespace vmm
