#include "translation-cache.h"

#include <algorithm>
#include <cstring>

namespace vmm {
namespace {

void put32(uint8_t* at, uint32_t v) { std::memcpy(at, &v, 4); }

}  // namespace

TranslationCache::TranslationCache(uint8_t* host, uint32_t linear, uint32_t bytes)
    : host_(host), linear_(linear), bytes_(bytes), by_guest_(size_t{bytes} / 48), slot_guest_(kLookupEntries, kEmptySlot) {
  // (Sized for a full cache of Linux's blocks, about 60 bytes each, so that nothing rehashes while
  // the guest waits.)
  by_frame_.reserve(4096);
  by_page_.reserve(4096);
  page_first_.reserve((bytes >> 12) + 1);
  lookup_table = linear_;
  miss_ = linear_ + kTableBytes;
  gdt_stale = miss_ + kStaleFlagOffset;
  resume_slot = miss_ + kResumeSlotOffset;
  flush();
  counters_.flushes = 0;
}

void TranslationCache::build_routines() {
  // The miss: a UD2 the core recognises by its address (eax = target, [esp] = the guest's ecx,
  // [esp+4] its eax).
  uint8_t* miss = at(miss_);
  miss[0] = 0x0F;
  miss[1] = 0x0B;
}

// Data the VMM writes behind the guest's back, as the lookup table is: read by the fast call's
// JMP after the hook returns.
void TranslationCache::set_resume(uint32_t tc) { put32(at(resume_slot), tc); }

void TranslationCache::write_slot(uint32_t slot, uint32_t guest, uint32_t tc) {
  // Data, not code: Unicorn holds no translation of it, so nothing goes stale.
  put32(at(lookup_table + slot * 4), tc == 0 ? miss_ : tc - kEntryBytes);
  slot_guest_[slot] = guest;
}

void TranslationCache::flush() {
  blocks_.clear();
  page_first_.clear();
  by_guest_.clear();
  by_frame_.clear();
  by_page_.clear();
  for (uint32_t slot = 0; slot < kLookupEntries; slot++) write_slot(slot, kEmptySlot, 0);
  build_routines();
  used_ = kTableBytes + kRoutineBytes;
  stale_.clear();
  stale(linear_, uint64_t{linear_} + bytes_);
  counters_.flushes++;
}

uint32_t TranslationCache::find(uint32_t guest) const {
  uint32_t index;
  return by_guest_.find(guest, &index) ? blocks_[index].tc_start : 0;
}

CachedBlock* TranslationCache::block_for(uint32_t guest) {
  uint32_t index;
  return by_guest_.find(guest, &index) ? &blocks_[index] : nullptr;
}

CachedBlock& TranslationCache::install(BlockTranslation&& translation, std::vector<uint32_t> frames, std::vector<uint32_t> pages) {
  uint32_t index = static_cast<uint32_t>(blocks_.size());
  uint32_t tc = cursor();
  // The lookup's way in (eax = target, [esp] = the guest's ecx, [esp+4] its eax): the target is
  // checked to be this block's, and the guest's registers come back, with instructions that leave
  // the flags alone (LEA and JECXZ compare without them).
  uint8_t entry[kEntryBytes] = {
      0x8D, 0x88, 0, 0, 0, 0,  // lea ecx, [eax - guest_start]
      0xE3, 0x05,              // jecxz hit
      0xE9, 0, 0, 0, 0,        // jmp miss (another target in the same entry)
      0x59,                    // hit: pop ecx
      0x58,                    // pop eax
  };
  put32(entry + 2, 0u - translation.guest_start);
  put32(entry + 9, static_cast<uint32_t>(rel32_to(tc - kEntryBytes + 9, miss_)));
  std::memcpy(at(tc - kEntryBytes), entry, kEntryBytes);
  std::memcpy(at(tc), translation.code.data(), translation.code.size());
  // (Packed: x86 code needs no alignment, and blocks that share a cache page chain directly in
  // Unicorn, which links jumps only within a page.)
  used_ += static_cast<uint32_t>(kEntryBytes + translation.code.size());
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
  block.callouts = std::move(translation.callouts);
  for (uint32_t page = (tc - linear_) >> 12; page_first_.size() <= page;) page_first_.push_back(index);
  by_guest_.set(block.guest_start, index);
  for (uint32_t frame : block.frames) by_frame_[frame].push_back(index);
  for (uint32_t page : block.pages) by_page_[page].push_back(index);
  for (const auto& [site, target] : translation.links) {
    if (CachedBlock* existing = block_for(target)) {
      existing->incoming.push_back({site, false});
      counters_.chain_links++;
    }
  }
  counters_.blocks_translated++;
  return blocks_[index];
}

const CachedBlock* TranslationCache::block_at(uint32_t tc) const {
  if (!contains(tc)) return nullptr;
  // Only a block that starts in tc's page, or the last one before it, can cover it.
  uint32_t page = (tc - linear_) >> 12;
  uint32_t count = static_cast<uint32_t>(blocks_.size());
  uint32_t first = page < page_first_.size() ? page_first_[page] : count;
  uint32_t end = page + 1 < page_first_.size() ? page_first_[page + 1] : count;
  if (first > 0) first--;
  auto it = std::upper_bound(blocks_.begin() + first, blocks_.begin() + end, tc,
                             [](uint32_t value, const CachedBlock& b) { return value < b.tc_start; });
  if (it == blocks_.begin() + first) return nullptr;
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
  const CachedBlock* block = block_at(tc);
  if (!block) return nullptr;
  for (const auto& [address, callout] : block->callouts) {
    if (address == tc) return &callout;
  }
  return nullptr;
}

uint32_t TranslationCache::exit_of(uint32_t site) const {
  const CachedBlock* block = block_at(site);
  if (!block) return 0;
  for (const auto& [address, callout] : block->callouts) {
    if (callout.kind == CalloutKind::kDirectExit && callout.site == site) return address;
  }
  return 0;
}

void TranslationCache::write_rel32(uint32_t site, uint32_t target) {
  put32(at(site), static_cast<uint32_t>(rel32_to(site, target)));
  stale(site, site + 4);
}

void TranslationCache::fill_lookup(uint32_t guest, const CachedBlock& block) {
  write_slot(lookup_slot(guest), guest, block.tc_start);
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
  uint32_t exit = exit_of(site);
  if (!exit) return;
  write_stub(exit, block.tc_start);
  block.incoming.push_back({site, true});
  counters_.chain_links++;
}

void TranslationCache::invalidate(CachedBlock& block) {
  if (!block.live) return;
  block.live = false;
  counters_.invalidated_blocks++;
  if (block_for(block.guest_start) == &block) by_guest_.erase(block.guest_start);
  uint32_t slot = lookup_slot(block.guest_start);
  if (slot_guest_[slot] == block.guest_start) write_slot(slot, kEmptySlot, 0);
  for (const CachedBlock::Link& link : block.incoming) {
    uint32_t exit = exit_of(link.site);
    if (!exit) continue;
    if (link.through_stub) {
      write_stub(exit, 0);
    } else {
      write_rel32(link.site, exit);
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
