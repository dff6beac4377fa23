#include "guest-page-walk.h"

#include <cstring>

#include "x86.h"

namespace vmm {
namespace {

Translation fault(uint32_t access, bool present) {
  return {false, 0, access | (present ? 1u : 0u)};
}

// Permission check over the combined rights of every level (SDM §4.6): a user access needs U
// everywhere; a write needs W everywhere unless it is a supervisor write with CR0.WP clear.
bool allowed(uint64_t combined, uint32_t access, uint32_t cr0) {
  if ((access & kAccessUser) && !(combined & kPteUser)) return false;
  if (access & kAccessWrite) {
    bool must_check = (access & kAccessUser) || (cr0 & kCr0Wp);
    if (must_check && !(combined & kPteWritable)) return false;
  }
  return true;
}

Translation mapped(uint64_t physical, uint64_t combined, uint64_t leaf, uint64_t leaf_address) {
  Translation t{true, physical, 0};
  t.writable = combined & kPteWritable;
  t.user = combined & kPteUser;
  t.dirty = leaf & kPteDirty;
  t.global = leaf & kPteGlobal;
  t.leaf_table = leaf_address & ~0xFFFull;
  return t;
}

}  // namespace

uint32_t GuestRam::read32(uint64_t physical) const {
  uint32_t v;
  std::memcpy(&v, base_ + physical, 4);
  return v;
}
uint64_t GuestRam::read64(uint64_t physical) const {
  uint64_t v;
  std::memcpy(&v, base_ + physical, 8);
  return v;
}
void GuestRam::write32(uint64_t physical, uint32_t value) { std::memcpy(base_ + physical, &value, 4); }
void GuestRam::write64(uint64_t physical, uint64_t value) { std::memcpy(base_ + physical, &value, 8); }

Translation walk_guest_page_tables(GuestRam& ram, const PagingState& paging, uint32_t linear, uint32_t access) {
  if (!(paging.cr0 & kCr0Pg)) return {true, linear, 0};
  const bool write = access & kAccessWrite;

  if (paging.cr4 & kCr4Pae) {
    // PAE: CR3 points at four PDPTEs (SDM §4.4.1); PDPTEs carry no U/W rights.
    uint64_t pdpte_address = (paging.cr3 & kCr3PdptMask) + ((linear >> 30) & 3) * 8;
    if (!ram.contains(pdpte_address, 8)) return fault(access, false);
    uint64_t pdpte = ram.read64(pdpte_address);
    if (!(pdpte & kPtePresent)) return fault(access, false);
    uint64_t pde_address = (pdpte & kPaeAddressMask) + ((linear >> 21) & 0x1FF) * 8;
    if (!ram.contains(pde_address, 8)) return fault(access, false);
    uint64_t pde = ram.read64(pde_address);
    if (!(pde & kPtePresent)) return fault(access, false);
    if (pde & kPteLargePage) {
      if (!allowed(pde, access, paging.cr0)) return fault(access, true);
      uint64_t updated = pde | kPteAccessed | (write ? kPteDirty : 0);
      if (updated != pde) ram.write64(pde_address, updated);
      return mapped((pde & 0x000FFFFFFFE00000ull) | (linear & 0x1FFFFF), updated, updated, pde_address);
    }
    uint64_t pte_address = (pde & kPaeAddressMask) + ((linear >> 12) & 0x1FF) * 8;
    if (!ram.contains(pte_address, 8)) return fault(access, false);
    uint64_t pte = ram.read64(pte_address);
    if (!(pte & kPtePresent)) return fault(access, false);
    if (!allowed(pde & pte, access, paging.cr0)) return fault(access, true);
    if (!(pde & kPteAccessed)) ram.write64(pde_address, pde | kPteAccessed);
    uint64_t updated = pte | kPteAccessed | (write ? kPteDirty : 0);
    if (updated != pte) ram.write64(pte_address, updated);
    return mapped((pte & kPaeAddressMask) | (linear & 0xFFF), pde & pte, updated, pte_address);
  }

  // 32-bit paging (SDM §4.3), with 4 MiB pages when CR4.PSE is set.
  uint64_t pde_address = (paging.cr3 & kCr3PageDirectoryMask) + (linear >> 22) * 4;
  if (!ram.contains(pde_address, 4)) return fault(access, false);
  uint32_t pde = ram.read32(pde_address);
  if (!(pde & kPtePresent)) return fault(access, false);
  if ((pde & kPteLargePage) && (paging.cr4 & kCr4Pse)) {
    if (!allowed(pde, access, paging.cr0)) return fault(access, true);
    uint32_t updated = pde | kPteAccessed | (write ? kPteDirty : 0);
    if (updated != pde) ram.write32(pde_address, updated);
    // Bits 13-20 of a 4 MiB PDE hold physical-address bits 32-39 (PSE-36, SDM Vol. 3 §4.3), as
    // Unicorn's own walker takes them: such a page lies above 4 GiB, never on RAM below it.
    uint64_t high = static_cast<uint64_t>((pde >> 13) & 0xFF) << 32;
    return mapped(high | (pde & 0xFFC00000u) | (linear & 0x3FFFFF), updated, updated, pde_address);
  }
  uint64_t pte_address = (pde & 0xFFFFF000u) + ((linear >> 12) & 0x3FF) * 4;
  if (!ram.contains(pte_address, 4)) return fault(access, false);
  uint32_t pte = ram.read32(pte_address);
  if (!(pte & kPtePresent)) return fault(access, false);
  if (!allowed(static_cast<uint64_t>(pde & pte), access, paging.cr0)) return fault(access, true);
  if (!(pde & kPteAccessed)) ram.write32(pde_address, pde | kPteAccessed);
  uint32_t updated = pte | kPteAccessed | (write ? kPteDirty : 0);
  if (updated != pte) ram.write32(pte_address, updated);
  return mapped((pte & 0xFFFFF000u) | (linear & 0xFFF), pde & pte, updated, pte_address);
}

}  // namespace vmm
