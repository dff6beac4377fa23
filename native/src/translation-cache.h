// The bt engine's translation cache (docs/bt-engine.md): a fixed area of the VMM region, mapped
// in the hole, where translated guest code runs. It holds
// - the lookup table: kLookupEntries cache addresses, indexed by lookup_slot() of a guest
//   target, data that only the VMM writes. RET and indirect JMP/CALL translations jump through
//   it (`push ecx; <ecx = lookup_slot(eax)>; jmp [ecx*4 + table]`, eax = target) to the lookup entry of the
//   last block filled there, or to the miss (a UD2, a call into the VMM);
// - the routines: the lookup's miss (a UD2), the byte that says the real GDT is stale, and the
//   dword fast calls jump through;
// - translated blocks, one after the other, each preceded by its lookup entry, which checks that
//   the target is its block's and takes the lookup's state off the stack (`lea ecx, [eax -
//   guest]; jecxz hit; jmp miss; hit: pop ecx; pop eax`), and followed by its exit stubs.
// The cache knows which guest frames and linear pages each block came from, and undoes chain
// links and lookup entries when a block is invalidated. Bytes it rewrites that Unicorn may have
// translated are reported by take_stale_ranges(), for the core to drop from Unicorn's cache.
#pragma once
#include <cstdint>
#include <deque>
#include <unordered_map>
#include <vector>

#include "bt-translator.h"
#include "guest-address-map.h"

namespace vmm {

struct CachedBlock {
  uint32_t guest_start = 0;
  uint32_t guest_end = 0;
  uint32_t tc_start = 0;
  uint32_t tc_end = 0;
  bool live = false;
  std::vector<Boundary> boundaries;
  std::vector<uint32_t> frames;        // guest-physical frames of its bytes
  std::vector<uint32_t> pages;         // the linear pages they were read through
  std::vector<std::pair<uint32_t, Callout>> callouts;  // by cache address
  // Jumps chained to it: the rel32 `site` of a jump that reaches it directly (linked when the
  // jump was translated), or through the site's exit stub (linked when the stub first ran).
  struct Link {
    uint32_t site;
    bool through_stub;
  };
  std::vector<Link> incoming;
};

struct CacheCounters {
  uint64_t blocks_translated = 0;
  uint64_t flushes = 0;
  uint64_t chain_links = 0;
  uint64_t chain_unlinks = 0;
  uint64_t lookup_fills = 0;
  uint64_t invalidated_blocks = 0;
};

class TranslationCache final : public TranslationTargets {
 public:

  // `host` is the cache's memory, mapped at `linear` for the guest, `bytes` long.
  TranslationCache(uint8_t* host, uint32_t linear, uint32_t bytes);

  bool contains(uint32_t linear) const { return linear - linear_ < bytes_; }  // (the cache may end at 4 GiB)
  uint32_t find(uint32_t guest) const override;
  // The live translation of `guest` (nullptr: none).
  CachedBlock* block_for(uint32_t guest);
  // The byte translated segment loads test (TranslationTargets::gdt_stale).
  void set_gdt_stale(bool stale) { *at(gdt_stale) = stale ? 1 : 0; }
  // Where the fast call that is running goes on (TranslationTargets::resume_slot).
  void set_resume(uint32_t tc);
  // Whether a UD2 at `tc` is the lookup's miss.
  bool is_lookup_miss(uint32_t tc) const { return tc == miss_; }
  // The next block's cache address, and whether `bytes` more fit; flush() when not.
  uint32_t cursor() const { return linear_ + used_ + kEntryBytes; }
  bool has_room(uint32_t bytes) const { return used_ + bytes <= bytes_; }
  uint32_t bytes_in_use() const { return used_; }

  // Places a translation made for cursor(); returns its block.
  CachedBlock& install(BlockTranslation&& translation, std::vector<uint32_t> frames, std::vector<uint32_t> pages);
  // Everything goes: the blocks, the lookup, the links.
  void flush();

  // The block a cache address lies in (nullptr in the lookup or routines).
  CachedBlock* block_at(uint32_t tc) { return const_cast<CachedBlock*>(static_cast<const TranslationCache*>(this)->block_at(tc)); }
  const CachedBlock* block_at(uint32_t tc) const;
  // The guest state a cache address stands for: false if it is not a point in a translation.
  bool guest_point(uint32_t tc, uint32_t* guest, bool* precise);
  // The point of a translation at cache address `tc`, if there is one.
  const Boundary* boundary_at(uint32_t tc);
  const Callout* callout_at(uint32_t tc) const;

  // The lookup's slot for `guest` now leads to `block`.
  void fill_lookup(uint32_t guest, const CachedBlock& block);
  // The direct jump whose rel32 is at `site` now reaches `block` (through its exit stub).
  void chain(uint32_t site, CachedBlock& block);
  // The block's translation is stale: no lookup, link or find() leads to it any more.
  void invalidate(CachedBlock& block);
  // Blocks made from a frame, or read through a linear page.
  std::vector<CachedBlock*> blocks_from_frame(uint32_t frame);
  std::vector<CachedBlock*> blocks_on_page(uint32_t page);
  // Linear pages that translations were read through.
  const std::unordered_map<uint32_t, std::vector<uint32_t>>& pages() const { return by_page_; }

  // Cache addresses rewritten since the last call, which Unicorn may hold translations of.
  std::vector<std::pair<uint64_t, uint64_t>> take_stale_ranges();
  bool has_stale_ranges() const { return !stale_.empty(); }
  const CacheCounters& counters() const { return counters_; }

 private:
  static constexpr uint32_t kTableBytes = kLookupEntries * 4;
  static constexpr uint32_t kRoutineBytes = 32;     // the miss (a UD2), the GDT-stale byte, the resume slot
  static constexpr uint32_t kStaleFlagOffset = 16;
  static constexpr uint32_t kResumeSlotOffset = 20;
  static constexpr uint32_t kEntryBytes = 15;   // a block's lookup entry, before its first instruction
  static constexpr uint32_t kEmptySlot = 0xFFFFFFFFu;  // no guest code lies in the hole

  uint8_t* at(uint32_t tc) { return host_ + (tc - linear_); }
  void write_rel32(uint32_t site, uint32_t target);
  void write_stub(uint32_t stub, uint32_t target);  // target 0: back to the UD2
  // Table entry `slot` leads to the block translated from `guest` at `tc` (0: to the miss).
  void write_slot(uint32_t slot, uint32_t guest, uint32_t tc);
  void build_routines();
  void stale(uint64_t start, uint64_t end) { stale_.push_back({start, end}); }
  // The exit stub of the direct jump whose rel32 is at `site` (0: none).
  uint32_t exit_of(uint32_t site) const;

  uint8_t* host_;
  uint32_t linear_;
  uint32_t bytes_;
  uint32_t used_ = 0;
  uint32_t miss_ = 0;
  // In cache order. (A deque: a block stays where it is while others are added, and growing
  // moves none of them.)
  std::deque<CachedBlock> blocks_;
  // For each cache page up to the last block's, the index of the first block that starts in it
  // or after it: block_at() searches only the blocks that can cover an address.
  std::vector<uint32_t> page_first_;
  GuestAddressMap by_guest_;  // guest address -> index in blocks_
  std::unordered_map<uint32_t, std::vector<uint32_t>> by_frame_;  // frame -> block indices
  std::unordered_map<uint32_t, std::vector<uint32_t>> by_page_;   // linear page -> block indices
  std::vector<uint32_t> slot_guest_;  // which guest address each table entry leads to
  std::vector<std::pair<uint64_t, uint64_t>> stale_;
  CacheCounters counters_;
};

}  // namespace vmm
