// Guest RAM: one anonymous host mapping, mapped into Unicorn with uc_mem_map_ptr and shared
// with TypeScript as an external ArrayBuffer, so neither side copies.
#pragma once
#include <cstddef>
#include <cstdint>

namespace vmm {

class GuestMemory {
 public:
  explicit GuestMemory(size_t bytes);
  ~GuestMemory();
  GuestMemory(const GuestMemory&) = delete;
  GuestMemory& operator=(const GuestMemory&) = delete;

  bool ok() const { return base_ != nullptr; }
  uint8_t* base() const { return base_; }
  size_t size() const { return size_; }

 private:
  uint8_t* base_ = nullptr;
  size_t size_ = 0;
};

}  // namespace vmm
