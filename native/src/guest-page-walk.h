// The guest's own page-table walk (Intel SDM Vol. 3 §4.3 32-bit paging, §4.4 PAE paging), read
// straight from guest RAM: used wherever the VMM touches guest linear memory (event delivery
// now, shadow paging later). Sets the Accessed and Dirty bits exactly as the CPU would.
#pragma once
#include <cstddef>
#include <cstdint>

namespace vmm {

struct PagingState {
  uint32_t cr0;
  uint32_t cr3;
  uint32_t cr4;
};

enum AccessFlags : uint32_t {
  kAccessProtection = 1u << 0,  // in a #PF error code: the page was present (a rights violation)
  kAccessWrite = 1u << 1,  // same bit positions as the #PF error code (SDM §4.7)
  kAccessUser = 1u << 2,
  kAccessFetch = 1u << 4,
};

struct Translation {
  bool ok;
  uint64_t physical;
  uint32_t page_fault_error;  // valid when !ok: the #PF error code (P, W/R, U/S, RSVD, I/D)
  // What a shadow MMU needs to mirror the mapping (valid when ok and paging is on):
  bool writable = true;         // W at every level
  bool user = true;             // U at every level
  bool dirty = false;           // the leaf's D bit, after this access
  bool global = false;          // the leaf's G bit (which only counts with CR4.PGE)
  uint64_t leaf_table = ~0ull;  // physical page holding the leaf entry (the PT, or the PD for a large page)
};

class GuestRam {
 public:
  GuestRam(uint8_t* base, size_t size) : base_(base), size_(size) {}
  bool contains(uint64_t physical, size_t length) const { return physical + length <= size_ && physical + length >= physical; }
  uint32_t read32(uint64_t physical) const;
  uint64_t read64(uint64_t physical) const;
  void write32(uint64_t physical, uint32_t value);
  void write64(uint64_t physical, uint64_t value);
  uint8_t* at(uint64_t physical) const { return base_ + physical; }
  size_t size() const { return size_; }

 private:
  uint8_t* base_;
  size_t size_;
};

// Translates one linear address for an access; with paging off, linear = physical.
Translation walk_guest_page_tables(GuestRam& ram, const PagingState& paging, uint32_t linear, uint32_t access);

}  // namespace vmm
