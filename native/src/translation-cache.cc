#include "translation-cache.h"

#include <algorithm>
#include <cstring>

namespace vmm {
namespace {

// Multiplicative hashing (Knuth, TAOCP Vol. 3 §6.4): the top bits of guest * 2^32/phi.
constexpr uint32_t kHashMultiplier = 0x9E3779B1u;
constexpr uint32_t kSetBits = 13;  // two slots (ways) per set

uint32_t set_of(uint32_t guest) { return (guest * kHashMultiplier) >> (32 - kSetBits); }

void put32(uint8_t* at, uint32_t v) { std::memcpy(at, &v, 4); }

}  // namespace

static_assert(TranslationCache::kLookupSlots == 2u << kSetBits, "the dispatch routine hashes to kSetBits bits, two slots a set");

TranslationCache::TranslationCache(uint8_t* host, uint32_t linear, uint32_t bytes)
    : host_(host), linear_(linear), bytes_(bytes), slot_guest_(kLookupSlots, kEmptySlot) {
  dispatch = linear_ + kRoutines;
  gdt_stale = dispatch + kStaleFlagOffset;
  flush();
  counters_.flushes = 0;
}

void TranslationCache::build_routines() {
  // The dispatch routine: [esp] = target (also in eax), [esp+4] = the guest's flags, [esp+8] =
  // its eax. It hashes the target into a set of two lookup slots ({guest, lookup entry} each,
  // two ways, as a CPU cache: two hot targets that hash alike do not evict each other), and
  // returns into the lookup entry of the slot that holds the target; else a miss.
  uint8_t* d = at(dispatch);
  const uint8_t routine[] = {
      0x69, 0xC0, 0xB1, 0x79, 0x37, 0x9E,  // imul eax, eax, kHashMultiplier
      0xC1, 0xE8, 32 - kSetBits,           // shr eax, 32 - kSetBits
      0xC1, 0xE0, 0x04,                    // shl eax, 4: 16 bytes a set
      0x05, 0, 0, 0, 0,                    // add eax, table
      0x50,                                // push eax: the set
      0x8B, 0x00,                          // mov eax, [eax]: way 0's guest address
      0x3B, 0x44, 0x24, 0x04,              // cmp eax, [esp + 4]: the target
      0x75, 0x0A,                          // jne way 1
      0x8B, 0x04, 0x24,                    // mov eax, [esp]
      0x8B, 0x40, 0x04,                    // mov eax, [eax + 4]: way 0's entry
      0x89, 0x04, 0x24,                    // mov [esp], eax
      0xC3,                                // ret: into the entry
      0x8B, 0x04, 0x24,                    // way 1: mov eax, [esp]
      0x8B, 0x40, 0x08,                    // mov eax, [eax + 8]
      0x3B, 0x44, 0x24, 0x04,              // cmp eax, [esp + 4]
      0x75, 0x0A,                          // jne miss
      0x8B, 0x04, 0x24,                    // mov eax, [esp]
      0x8B, 0x40, 0x0C,                    // mov eax, [eax + 12]: way 1's entry
      0x89, 0x04, 0x24,                    // mov [esp], eax
      0xC3,                                // ret
      0x0F, 0x0B,                          // miss: ud2, with the set pushed too
  };
  static_assert(kLookupSlotBytes == 8, "two 8-byte slots a set");
  static_assert(sizeof routine <= kStaleFlagOffset, "the routine ends before the stale flag");
  std::memcpy(d, routine, sizeof routine);
  put32(d + 13, linear_);
  static_assert(kMissOffset == 58, "the miss follows the dispatch routine's last RET");
}

void TranslationCache::write_slot(uint32_t slot, uint32_t guest, uint32_t tc) {
  // Data, not code: Unicorn holds no translation of it, so nothing goes stale.
  uint8_t* s = at(linear_ + slot * kLookupSlotBytes);
  put32(s, guest);
  put32(s + 4, tc == 0 ? 0 : tc - kEntryBytes);
  slot_guest_[slot] = guest;
}

void TranslationCache::flush() {
  blocks_.clear();
  by_guest_.clear();
  callouts_.clear();
  site_exit_.clear();
  by_frame_.clear();
  by_page_.clear();
  for (uint32_t slot = 0; slot < kLookupSlots; slot++) write_slot(slot, kEmptySlot, 0);
  build_routines();
  used_ = kRoutines + kRoutineBytes;
  stale_.clear();
  stale(linear_, uint64_t{linear_} + bytes_);
  counters_.flushes++;
}

uint32_t TranslationCache::find(uint32_t guest) const {
  auto it = by_guest_.find(guest);
  return it == by_guest_.end() ? 0 : blocks_[it->second].tc_start;
}

CachedBlock& TranslationCache::install(BlockTranslation&& translation, std::vector<uint32_t> frames, std::vector<uint32_t> pages) {
  uint32_t index = static_cast<uint32_t>(blocks_.size());
  uint32_t tc = cursor();
  // The lookup's way in: the dispatch state ([esp] target, [esp+4] flags, [esp+8] eax) comes off
  // the stack, with instructions that leave the flags popfd restored.
  // The lookup's RET has just taken the entry's own address off the stack: it is overwritten, so
  // that no cache address is left even in the guest's free stack.
  const uint8_t entry[kEntryBytes] = {
      0xC7, 0x44, 0x24, 0xFC, 0, 0, 0, 0,  // mov dword [esp - 4], 0
      0x8D, 0x64, 0x24, 0x04,              // lea esp, [esp + 4]
      0x9D,                                // popfd
      0x58,                                // pop eax
  };
  std::memcpy(at(tc - kEntryBytes), entry, kEntryBytes);
  std::memcpy(at(tc), translation.code.data(), translation.code.size());
  used_ += static_cast<uint32_t>((kEntryBytes + translation.code.size() + 15) & ~size_t{15});
  blocks_.emplace_back();
  CachedBlock& block = blocks_.back();
  block.guest_start = translation.guest_start;
  block.guest_end = translation.guest_end;
  block.tc_start = tc;
  block.tc_end = tc + static_cast<uint32_t>(translation.code.size());
  block.live = true;
  block.boundaries = std::move(translation.boundaries);
  block.frames = std::move(frames);
  block.pages = std::move(pages);
  for (const auto& [address, callout] : translation.callouts) {
    callouts_[address] = callout;
    if (callout.kind == CalloutKind::kDirectExit && callout.site) site_exit_[callout.site] = address;
  }
  by_guest_[block.guest_start] = index;
  for (uint32_t frame : block.frames) by_frame_[frame].push_back(index);
  for (uint32_t page : block.pages) by_page_[page].push_back(index);
  for (const auto& [site, target] : translation.links) {
    auto it = by_guest_.find(target);
    if (it != by_guest_.end()) {
      blocks_[it->second].incoming.push_back({site, false});
      counters_.chain_links++;
    }
  }
  counters_.blocks_translated++;
  return blocks_[index];
}

CachedBlock* TranslationCache::block_at(uint32_t tc) {
  auto it = std::upper_bound(blocks_.begin(), blocks_.end(), tc, [](uint32_t value, const CachedBlock& b) { return value < b.tc_start; });
  if (it == blocks_.begin()) return nullptr;
  --it;
  return tc < it->tc_end ? &*it : nullptr;
}

const Boundary* TranslationCache::boundary_at(uint32_t tc) {
  CachedBlock* block = block_at(tc);
  if (!block) return nullptr;
  auto it = std::lower_bound(block->boundaries.begin(), block->boundaries.end(), tc,
                             [](const Boundary& b, uint32_t value) { return b.tc < value; });
  if (it == block->boundaries.end() || it->tc != tc) return nullptr;
  return &*it;
}

bool TranslationCache::guest_point(uint32_t tc, uint32_t* guest, bool* precise) {
  const Boundary* point = boundary_at(tc);
  if (!point) return false;
  *guest = point->guest;
  *precise = point->precise;
  return true;
}

const Callout* TranslationCache::callout_at(uint32_t tc) const {
  auto it = callouts_.find(tc);
  return it == callouts_.end() ? nullptr : &it->second;
}

void TranslationCache::write_rel32(uint32_t site, uint32_t target) {
  put32(at(site), static_cast<uint32_t>(rel32_to(site, target)));
  stale(site, site + 4);
}

void TranslationCache::fill_lookup(uint32_t guest, const CachedBlock& block) {
  // The new target goes to way 0; what was there moves to way 1 (most recently filled first).
  uint32_t slot = set_of(guest) * 2;
  if (slot_guest_[slot] != guest) {
    uint32_t moved = slot_guest_[slot];
    const uint8_t* way0 = at(linear_ + slot * kLookupSlotBytes);
    uint32_t entry;
    std::memcpy(&entry, way0 + 4, 4);
    write_slot(slot + 1, moved, moved == kEmptySlot ? 0 : entry + kEntryBytes);
  }
  write_slot(slot, guest, block.tc_start);
  counters_.lookup_fills++;
}

void TranslationCache::write_stub(uint32_t stub, uint32_t target) {
  uint8_t* s = at(stub);
  if (target) {
    s[0] = kJmpRel32;
    put32(s + 1, static_cast<uint32_t>(rel32_to(stub + 1, target)));
  } else {
    std::memcpy(s, kExitStub, sizeof kExitStub);
  }
  stale(stub, stub + sizeof kExitStub);
}

void TranslationCache::chain(uint32_t site, CachedBlock& block) {
  auto exit = site_exit_.find(site);
  if (exit == site_exit_.end()) return;
  write_stub(exit->second, block.tc_start);
  block.incoming.push_back({site, true});
  counters_.chain_links++;
}

void TranslationCache::invalidate(CachedBlock& block) {
  if (!block.live) return;
  block.live = false;
  counters_.invalidated_blocks++;
  auto it = by_guest_.find(block.guest_start);
  if (it != by_guest_.end() && blocks_[it->second].tc_start == block.tc_start) by_guest_.erase(it);
  uint32_t set = set_of(block.guest_start) * 2;
  for (uint32_t slot = set; slot < set + 2; slot++) {
    if (slot_guest_[slot] == block.guest_start) write_slot(slot, kEmptySlot, 0);
  }
  for (const CachedBlock::Link& link : block.incoming) {
    auto exit = site_exit_.find(link.site);
    if (exit == site_exit_.end()) continue;
    if (link.through_stub) {
      write_stub(exit->second, 0);
    } else {
      write_rel32(link.site, exit->second);
    }
    counters_.chain_unlinks++;
  }
  block.incoming.clear();
}

std::vector<CachedBlock*> TranslationCache::blocks_from_frame(uint32_t frame) {
  std::vector<CachedBlock*> out;
  auto it = by_frame_.find(frame);
  if (it == by_frame_.end()) return out;
  for (uint32_t index : it->second) {
    if (blocks_[index].live) out.push_back(&blocks_[index]);
  }
  return out;
}

std::vector<CachedBlock*> TranslationCache::blocks_on_page(uint32_t page) {
  std::vector<CachedBlock*> out;
  auto it = by_page_.find(page);
  if (it == by_page_.end()) return out;
  for (uint32_t index : it->second) {
    if (blocks_[index].live) out.push_back(&blocks_[index]);
  }
  return out;
}

std::vector<std::pair<uint64_t, uint64_t>> TranslationCache::take_stale_ranges() {
  std::vector<std::pair<uint64_t, uint64_t>> out;
  out.swap(stale_);
  return out;
}

}  // namespace vmm
