// The guest linear addresses at which a translated block has started: one bit per byte address,
// in 512-byte leaves allocated per 4 KiB page on first use. The block hook asks it on every block
// executed (the trap engine's block discovery), so a lookup is two loads and a bit test; a hash
// set's insert there had been a fifth of a trap-engine Linux boot's samples.
#pragma once
#include <cstdint>
#include <memory>
#include <vector>

namespace vmm {

class BlockAddressSet {
 public:
  // Marks `address`; true when it was not marked before.
  bool insert(uint32_t address) {
    if (pages_.empty()) pages_.resize(size_t{1} << (32 - kPageShift));
    std::unique_ptr<uint64_t[]>& leaf = pages_[address >> kPageShift];
    if (!leaf) leaf.reset(new uint64_t[kWordsPerPage]());
    uint32_t offset = address & kPageMask;
    uint64_t bit = uint64_t{1} << (offset & 63);
    uint64_t& word = leaf[offset >> 6];
    if (word & bit) return false;
    word |= bit;
    return true;
  }
  void clear() { std::vector<std::unique_ptr<uint64_t[]>>().swap(pages_); }

 private:
  static constexpr unsigned kPageShift = 12;
  static constexpr uint32_t kPageMask = (1u << kPageShift) - 1;
  static constexpr unsigned kWordsPerPage = (1u << kPageShift) / 64;
  // 2^20 page slots (8 MiB of pointers), made on the first insert: engines without block
  // discovery never pay for them.
  std::vector<std::unique_ptr<uint64_t[]>> pages_;
};

}  // namespace vmm
