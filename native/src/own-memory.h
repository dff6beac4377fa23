// Reading this process's memory where a probe does not know yet whether an address is mapped.
#pragma once
#include <cstddef>
#include <cstdint>
#include <vector>

namespace vmm {

// What is readable of [address, address + size) of this process: a range that is not mapped
// reads short (process_vm_readv) instead of faulting, so that a wrong candidate pointer in one of
// Unicorn's private structures costs nothing.
std::vector<uint8_t> read_own_memory(uintptr_t address, size_t size);

}  // namespace vmm
