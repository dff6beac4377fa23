// A map from guest linear addresses to 32-bit values, with open addressing and linear probing
// (Knuth, TAOCP Vol. 3 §6.4, Algorithm L; deletion by moving entries back, Algorithm R). The bt
// engine's cache asks it for the translation of a guest address on every entry, exit and IRET
// carried out in the core: one cache line per lookup where a node-based map read two or three.
// No key may be 0xFFFFFFFF (no guest code lies in the hole).
#pragma once
#include <cstddef>
#include <cstdint>
#include <vector>

namespace vmm {

class GuestAddressMap {
 public:
  static constexpr uint32_t kNoKey = 0xFFFFFFFFu;

  // Room for `expected` keys before the table grows.
  explicit GuestAddressMap(size_t expected) { resize(expected * 2); }

  bool find(uint32_t key, uint32_t* value) const {
    for (size_t i = home(key);; i = (i + 1) & mask_) {
      if (slots_[i].key == key) {
        *value = slots_[i].value;
        return true;
      }
      if (slots_[i].key == kNoKey) return false;
    }
  }

  void set(uint32_t key, uint32_t value) {
    if ((used_ + 1) * 4 > slots_.size() * 3) grow();
    size_t i = home(key);
    while (slots_[i].key != kNoKey && slots_[i].key != key) i = (i + 1) & mask_;
    if (slots_[i].key == kNoKey) used_++;
    slots_[i] = {key, value};
  }

  void erase(uint32_t key) {
    size_t i = home(key);
    while (slots_[i].key != key) {
      if (slots_[i].key == kNoKey) return;
      i = (i + 1) & mask_;
    }
    // Entries after the hole that would no longer be reachable from their home slot move into it.
    for (size_t j = (i + 1) & mask_; slots_[j].key != kNoKey; j = (j + 1) & mask_) {
      size_t h = home(slots_[j].key);
      bool reachable_without_i = i <= j ? (i < h && h <= j) : (i < h || h <= j);
      if (reachable_without_i) continue;
      slots_[i] = slots_[j];
      i = j;
    }
    slots_[i].key = kNoKey;
    used_--;
  }

  void clear() {
    for (Slot& slot : slots_) slot.key = kNoKey;
    used_ = 0;
  }

 private:
  struct Slot {
    uint32_t key;
    uint32_t value;
  };

  // Fibonacci hashing: guest code addresses share their low bits' patterns (alignment).
  size_t home(uint32_t key) const { return static_cast<uint32_t>(key * 0x9E3779B9u) >> shift_; }

  void resize(size_t at_least) {
    size_t size = 16;
    unsigned bits = 4;
    while (size < at_least) {
      size <<= 1;
      bits++;
    }
    slots_.assign(size, Slot{kNoKey, 0});
    mask_ = size - 1;
    shift_ = 32 - bits;
    used_ = 0;
  }

  void grow() {
    std::vector<Slot> old;
    old.swap(slots_);
    resize(old.size() * 2);
    for (const Slot& slot : old) {
      if (slot.key != kNoKey) set(slot.key, slot.value);
    }
  }

  std::vector<Slot> slots_;
  size_t mask_ = 0;
  unsigned shift_ = 0;
  size_t used_ = 0;
};

}  // namespace vmm
