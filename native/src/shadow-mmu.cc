#include "shadow-mmu.h"

#include <algorithm>
#include <cstring>

#include "vmm-region.h"
#include "x86.h"

namespace vmm {
namespace {

// frame_flags_ bits, per guest RAM frame.
constexpr uint8_t kWatched = 1;   // a guest page table that shadows derive from: write-protected
constexpr uint8_t kUnsynced = 2;  // a page table the guest wrote: shadows from it are dropped at the next flush
constexpr uint8_t kLogged = 4;    // written since the dirty log was last taken
constexpr uint8_t kDescriptors = 8;  // holds the guest's GDT: write-protected, writes reported
constexpr uint8_t kCode = 16;        // translated guest code comes from it: write-protected, writes reported

}  // namespace

ShadowMmu::ShadowMmu(GuestRam ram, uint64_t ram_bytes, ShadowRegion region, std::function<void()> flush_tlb,
                     std::function<void(uint32_t)> flush_tlb_page)
    : ram_(ram), ram_pages_(ram_bytes >> 12), region_(region), flush_tlb_(std::move(flush_tlb)),
      flush_tlb_page_(std::move(flush_tlb_page)) {
  pool_pages_ = static_cast<uint32_t>((region.pool_end - kRegionPool) >> 12);
  frame_flags_.assign(ram_pages_, 0);
  reverse_map_.resize(ram_pages_);
  derived_tables_.resize(ram_pages_);
  table_slot_.assign(pool_pages_, kNoPage);
  roots_.reserve(kCachedRoots);
}

bool ShadowMmu::current_linear(uint32_t page, uint32_t index, uint32_t* linear) const {
  if (current_ == nullptr || page >= table_slot_.size()) return false;
  uint32_t slot = table_slot_[page];
  if (slot >= current_->tables.size() || current_->tables[slot] != page) return false;
  *linear = current_->pae ? (slot << 21) | (index << 12) : (slot << 22) | (index << 12);
  return true;
}

void ShadowMmu::note_stale(uint32_t linear) {
  if (stale_pages_.size() >= kMaxPageFlushes) {
    stale_all_ = true;
  } else {
    stale_pages_.push_back(linear);
  }
}

void ShadowMmu::flush_stale(bool everything) {
  if (stale_all_ || everything) {
    flush_tlb_();
  } else {
    for (uint32_t linear : stale_pages_) flush_tlb_page_(linear);
  }
  stale_pages_.clear();
  stale_all_ = false;
}

uint32_t& ShadowMmu::entry(uint32_t page, uint32_t index, bool pae) {
  return pool_entries(page)[pae ? index * 2 : index];
}

uint32_t& ShadowMmu::directory_entry(Root& root, uint32_t slot) {
  if (root.pae) return entry(root.directories[slot >> 9], slot & 511, true);
  return entry(root.page, slot, false);
}

// The guest's directory-level pages for its current CR3: the PD, or the PDPT and its PDs.
void ShadowMmu::read_directory_frames(std::vector<uint32_t>* frames) const {
  frames->clear();
  if (!(guest_.cr0 & kCr0Pg)) return;
  uint64_t cr3 = guest_.cr3;
  frames->push_back(static_cast<uint32_t>(cr3 >> 12));
  if (!(guest_.cr4 & kCr4Pae)) return;
  uint64_t pdpt = cr3 & kCr3PdptMask;
  for (int i = 0; i < 4; i++) {
    if (!ram_.contains(pdpt + i * 8, 8)) break;
    uint64_t pdpte = ram_.read64(pdpt + i * 8);
    // A directory outside RAM holds no entries (the walk finds none there): nothing to watch.
    uint64_t frame = (pdpte & kPaeAddressMask) >> 12;
    if ((pdpte & kPtePresent) && frame < ram_pages_) frames->push_back(static_cast<uint32_t>(frame));
  }
}

uint32_t* ShadowMmu::pool_entries(uint32_t page) {
  return reinterpret_cast<uint32_t*>(region_.host + kRegionPool + (static_cast<uint64_t>(page) << 12));
}

uint32_t ShadowMmu::pool_physical(uint32_t page) const {
  return static_cast<uint32_t>(region_.physical + kRegionPool + (static_cast<uint64_t>(page) << 12));
}

uint32_t ShadowMmu::allocate_page() {
  uint32_t page = kNoPage;
  if (!free_pages_.empty()) {
    page = free_pages_.back();
    free_pages_.pop_back();
  } else if (next_page_ < pool_pages_) {
    page = next_page_++;
  }
  if (page != kNoPage) std::memset(pool_entries(page), 0, 4096);
  return page;
}

void ShadowMmu::free_page(uint32_t page) { free_pages_.push_back(page); }

uint32_t ShadowMmu::host_frame(uint64_t guest_physical) const {
  uint64_t page = guest_physical & ~0xFFFull;
  // The VMM region is not part of the guest's physical space: there the guest finds open bus.
  // So it does above 4 GiB, which a shadow entry's low half cannot name: truncating the frame
  // would alias RAM or the VMM region at 4 GiB * k + x.
  if (page >= region_.physical && page < region_.physical + region_.bytes) return static_cast<uint32_t>(region_.open_bus_page);
  if (page >= (uint64_t{1} << 32)) return static_cast<uint32_t>(region_.open_bus_page);
  return static_cast<uint32_t>(page);
}

ShadowMmu::Root* ShadowMmu::find_root(uint32_t key) {
  for (Root& root : roots_) {
    if (root.key == key) return &root;
  }
  return nullptr;
}

ShadowMmu::Root& ShadowMmu::new_root(uint32_t key, bool pae) {
  Root* slot = nullptr;
  if (roots_.size() < kCachedRoots) {
    roots_.emplace_back();
    slot = &roots_.back();
  } else {
    // Evict the least recently used address space.
    slot = &*std::min_element(roots_.begin(), roots_.end(),
                              [](const Root& a, const Root& b) { return a.last_used < b.last_used; });
    clear_root(*slot);
    free_page(slot->page);
    for (uint32_t& directory : slot->directories) {
      if (directory != kNoPage) free_page(directory);
      directory = kNoPage;
    }
  }
  // A root's own pages (the directory; PAE: the PDPT and four directories) must be there: when
  // the pool cannot give them, every shadow goes and is rebuilt on demand.
  uint32_t needed = pae ? 5 : 1;
  if (free_pages_.size() + (pool_pages_ - next_page_) < needed) {
    invalidate_all();
    counters_.pool_resets++;
    roots_.emplace_back();
    slot = &roots_.back();
  }
  slot->key = key;
  slot->pae = pae;
  slot->page = allocate_page();
  slot->tables.assign(slots(*slot), kNoPage);
  slot->sources.assign(slots(*slot), kNoSource);
  uint32_t hole_pt = static_cast<uint32_t>(region_.physical + kRegionHolePageTable);
  if (pae) {
    // Four directories, always present (PDPTEs carry only P: SDM §4.4.1); the hole is the last
    // two entries of the fourth, supervisor-only.
    for (uint32_t i = 0; i < 4; i++) {
      slot->directories[i] = allocate_page();
      entry(slot->page, i, true) = pool_physical(slot->directories[i]) | kPtePresent;
    }
    uint32_t hole_tables = static_cast<uint32_t>(region_.physical + kRegionHolePaeTables);
    entry(slot->directories[3], 510, true) = hole_tables | kPtePresent | kPteWritable;
    entry(slot->directories[3], 511, true) = (hole_tables + 4096) | kPtePresent | kPteWritable;
  } else {
    entry(slot->page, 1023, false) = hole_pt | kPtePresent | kPteWritable;
  }
  return *slot;
}

bool ShadowMmu::unmap_entry(uint32_t page, uint32_t index, bool pae) {
  uint32_t& entry = this->entry(page, index, pae);
  if (!(entry & kPtePresent)) return false;
  uint64_t frame = entry >> 12;
  if (frame < ram_pages_) {
    std::vector<uint32_t>& users = reverse_map_[frame];
    auto it = std::find(users.begin(), users.end(), reverse_key(page, index, pae));
    if (it != users.end()) {
      *it = users.back();
      users.pop_back();
    }
  }
  entry = 0;
  return true;
}

void ShadowMmu::drop_table(Root& root, uint32_t slot) {
  uint32_t page = root.tables[slot];
  if (page == kNoPage) return;
  uint32_t entries = root.pae ? 512 : 1024;
  bool current = &root == current_;
  for (uint32_t i = 0; i < entries; i++) {
    uint32_t linear = 0;
    if (unmap_entry(page, i, root.pae) && current && current_linear(page, i, &linear)) note_stale(linear);
  }
  free_page(page);
  directory_entry(root, slot) = 0;
  root.tables[slot] = kNoPage;
  if (root.sources[slot] != kNoSource) {
    std::vector<uint32_t>& derived = derived_tables_[root.sources[slot]];
    auto it = std::find(derived.begin(), derived.end(), page);
    if (it != derived.end()) {
      *it = derived.back();
      derived.pop_back();
    }
  }
  root.sources[slot] = kNoSource;
}

void ShadowMmu::clear_root(Root& root) {
  for (uint32_t slot = 0; slot < root.tables.size(); slot++) drop_table(root, slot);
}

void ShadowMmu::protect_frame(uint32_t frame) {
  // The reverse map records each PTE's byte offset in its page (index << 2 for 32-bit, << 3 for
  // PAE) in 12 bits; the flags are in the entry's first 4 bytes either way.
  for (uint32_t user : reverse_map_[frame]) {
    uint32_t page = user >> 12, offset = user & 0xFFF;
    uint32_t& flags = *reinterpret_cast<uint32_t*>(reinterpret_cast<uint8_t*>(pool_entries(page)) + offset);
    uint32_t linear = 0;
    if ((flags & kPteWritable) && current_linear(page, offset / (current_ && current_->pae ? 8 : 4), &linear)) note_stale(linear);
    flags &= ~kPteWritable;
  }
}

void ShadowMmu::watch_table(uint32_t frame) {
  if (frame >= ram_pages_ || (frame_flags_[frame] & (kWatched | kUnsynced))) return;
  frame_flags_[frame] |= kWatched;
  if (!reverse_map_[frame].empty()) {
    protect_frame(frame);
    flush_stale();
  }
}

// The guest wrote one of its page tables: what the shadows derived from it may be stale.
void ShadowMmu::page_table_written(uint32_t frame) {
  counters_.page_table_writes++;
  frame_flags_[frame] = (frame_flags_[frame] & ~kWatched) | kUnsynced;
  unsynced_.push_back(frame);
  drop_derived(frame);
  // All of it, not just the pages whose entries went: Unicorn arms its check for writes to
  // translated code per TLB entry, by linear address, and only re-arms it on entries refilled after
  // a flush; a guest that remaps code (a PTE write) and then patches it through another mapping
  // relies on that (the trap engine runs kernel code in place, under Unicorn's check).
  flush_stale(true);
}

void ShadowMmu::guest_entry_updated(uint32_t frame, uint32_t index) {
  if (frame >= ram_pages_) return;
  counters_.page_table_writes++;
  for (Root& root : roots_) {
    // (PAE shadows index differently: everything derived from the frame goes.)
    if (root.pae) {
      drop_derived(frame);
      flush_stale(true);
      return;
    }
  }
  for (Root& root : roots_) {
    const std::vector<uint32_t>& dirs = root.directory_frames;
    if (std::find(dirs.begin(), dirs.end(), frame) != dirs.end() && !is_hole_slot(root, index)) drop_table(root, index);
  }
  for (uint32_t page : derived_tables_[frame]) {
    uint32_t linear = 0;
    if (unmap_entry(page, index, false) && current_linear(page, index, &linear)) note_stale(linear);
  }
  flush_stale(false);
}

void ShadowMmu::drop_derived(uint32_t frame) {
  for (Root& root : roots_) {
    const std::vector<uint32_t>& dirs = root.directory_frames;
    if (std::find(dirs.begin(), dirs.end(), frame) != dirs.end()) clear_root(root);
    for (uint32_t slot = 0; slot < root.sources.size(); slot++) {
      if (root.sources[slot] == frame) drop_table(root, slot);
    }
  }
}

uint32_t ShadowMmu::activate(const PagingState& guest) {
  bool mode_changed = (guest.cr0 ^ guest_.cr0) & (kCr0Pg | kCr0Wp) || guest.cr4 != guest_.cr4;
  guest_ = guest;
  if (mode_changed) invalidate_all();
  // A CR3 load flushes the TLB: whatever was derived from tables the guest wrote since is dropped,
  // and those tables are protected again once shadows are built from them.
  for (uint32_t frame : unsynced_) {
    frame_flags_[frame] &= ~kUnsynced;
    drop_derived(frame);
  }
  unsynced_.clear();
  // (A mode change told the watcher of every page already.)
  if (code_watcher_ && !mode_changed) code_watcher_->mappings_changed(0, CodeWatcher::Scope::kNonGlobal);
  bool paging = guest.cr0 & kCr0Pg;
  bool pae = paging && (guest.cr4 & kCr4Pae);
  uint32_t key = paging ? (pae ? guest.cr3 & kCr3PdptMask : guest.cr3 & kCr3PageDirectoryMask) : kPhysicalModeKey;
  counters_.root_switches++;
  Root* root = find_root(key);
  if (root) {
    counters_.root_cache_hits++;
  } else {
    root = &new_root(key, pae);
  }
  // The directory levels (PAE: PDPTEs are loaded at each CR3 load, so they may have changed).
  std::vector<uint32_t> frames;
  read_directory_frames(&frames);
  if (frames != root->directory_frames) {
    clear_root(*root);
    root->directory_frames = frames;
  }
  for (uint32_t frame : frames) watch_table(frame);
  root->last_used = ++clock_;
  current_ = root;
  // Nothing of Unicorn's TLB is flushed here: the caller loads the real CR3 next, which flushes
  // all of it.
  stale_pages_.clear();
  stale_all_ = false;
  return pool_physical(root->page);
}

void ShadowMmu::invalidate_all() {
  for (Root& root : roots_) {
    clear_root(root);
    free_page(root.page);
    for (uint32_t directory : root.directories) {
      if (directory != kNoPage) free_page(directory);
    }
  }
  roots_.clear();
  current_ = nullptr;
  for (uint8_t& flags : frame_flags_) flags &= kLogged | kDescriptors | kCode;
  unsynced_.clear();
  flush_stale(true);
  if (code_watcher_) code_watcher_->mappings_changed(0, CodeWatcher::Scope::kAll);
}

void ShadowMmu::invalidate_page(uint32_t linear) {
  counters_.pages_invalidated++;
  if (current_ == nullptr || linear >= kHoleLinear) return;
  uint32_t page = current_->tables[slot_of(*current_, linear)];
  // Unicorn's TLB holds only what the current shadow maps, and every entry taken out of it is
  // followed by a flush (or a CR3 load): a page the shadow does not map has nothing to flush.
  // (Linux runs ~70,000 INVLPGs in a boot: one page, not the whole TLB.)
  if (page != kNoPage && unmap_entry(page, (linear >> 12) & (current_->pae ? 511 : 1023), current_->pae)) {
    flush_tlb_page_(linear);
  }
  if (code_watcher_) code_watcher_->mappings_changed(linear, CodeWatcher::Scope::kPage);
}

void ShadowMmu::protect_code_frame(uint32_t frame) {
  if (frame >= ram_pages_ || (frame_flags_[frame] & kCode)) return;
  frame_flags_[frame] |= kCode;
  if (!reverse_map_[frame].empty()) {
    protect_frame(frame);
    flush_stale();
  }
}

ShadowFault ShadowMmu::handle_fault(uint32_t linear, uint32_t error_code, bool user_data_for_supervisor) {
  if (linear >= kHoleLinear) return {FaultOutcome::kHole, 0};
  if (current_ == nullptr) return {FaultOutcome::kPoolExhausted, 0};
  uint32_t access = error_code & (kAccessWrite | kAccessUser);
  bool write = access & kAccessWrite;
  Translation t = walk_guest_page_tables(ram_, guest_, linear, access);
  if (!t.ok) {
    counters_.true_faults++;
    return {FaultOutcome::kGuestFault, t.page_fault_error};
  }
  bool paging = guest_.cr0 & kCr0Pg;
  bool supervisor = !(error_code & kAccessUser);
  // SMEP and SMAP (SDM Vol. 3 §4.6.1): a supervisor fetch from a user page, or a supervisor data
  // access to one without AC, is the guest's fault even where its tables grant the page. The
  // real CPU (its CR4 has the guest's SMEP and SMAP) reports one as a protection fault on a
  // present shadow entry, with I/D set for a fetch under SMEP; a not-present fault does not say
  // whether it was a fetch, so it is filled, and the retried access faults again if it must.
  if (paging && t.user && supervisor && (error_code & kAccessProtection)) {
    bool fetch = error_code & kAccessFetch;
    if (fetch ? (guest_.cr4 & kCr4Smep) != 0 : ((guest_.cr4 & kCr4Smap) != 0 && !user_data_for_supervisor)) {
      counters_.true_faults++;
      return {FaultOutcome::kGuestFault, kAccessProtection | (error_code & (kAccessWrite | kAccessFetch))};
    }
  }
  uint64_t guest_frame = t.physical >> 12;
  bool in_ram = guest_frame < ram_pages_;
  if (write && in_ram && (frame_flags_[guest_frame] & kWatched)) page_table_written(static_cast<uint32_t>(guest_frame));
  // A write to the guest's GDT: allowed this once; the VMM copies the table and protects it again
  // once the writing instruction has run (descriptors_written()).
  bool descriptor_write = write && in_ram && (frame_flags_[guest_frame] & kDescriptors);
  if (descriptor_write && !descriptor_bytes_.contains(t.physical)) {
    // The page holds other data the guest writes too (an early boot GDT next to a stack):
    // protecting it would fault on every store, so it is left to the other refresh points.
    frame_flags_[guest_frame] &= ~kDescriptors;
    shared_descriptor_frames_.push_back(static_cast<uint32_t>(guest_frame));
    descriptors_unwatched_ = true;
    descriptor_write = false;
  }
  if (descriptor_write) descriptors_written_ = descriptors_unprotected_ = true;
  // A write to translated code: its translations go before the write is let through.
  if (write && in_ram && (frame_flags_[guest_frame] & kCode)) {
    frame_flags_[guest_frame] &= ~kCode;
    if (code_watcher_) code_watcher_->code_frame_written(static_cast<uint32_t>(guest_frame), linear);
  }

  Root& root = *current_;
  uint32_t pde = slot_of(root, linear);
  if (root.tables[pde] == kNoPage) {
    uint32_t page = allocate_page();
    if (page == kNoPage) {
      // Out of shadow pages: start over from empty shadows (rebuilt on demand). The old root's
      // page is free now, and may become any shadow page: the real CR3 moves to the new root.
      PagingState guest = guest_;
      invalidate_all();
      counters_.pool_resets++;
      return {FaultOutcome::kHidden, 0, activate(guest)};
    }
    root.tables[pde] = page;
    table_slot_[page] = pde;
    directory_entry(root, pde) = pool_physical(page) | kPtePresent | kPteWritable | kPteUser;
    counters_.shadow_pages_built++;
    // A large page's leaf is in a directory (watched with the root); a 4 KiB page's in a PT.
    uint32_t leaf_frame = static_cast<uint32_t>(t.leaf_table >> 12);
    const std::vector<uint32_t>& dirs = root.directory_frames;
    bool in_directory = std::find(dirs.begin(), dirs.end(), leaf_frame) != dirs.end();
    if (paging && !in_directory && leaf_frame < ram_pages_) {
      root.sources[pde] = static_cast<uint32_t>(t.leaf_table >> 12);
      derived_tables_[root.sources[pde]].push_back(page);
      watch_table(root.sources[pde]);
    }
  }

  // Rights: the guest's, less write until the guest's D bit is set (so the first write comes here
  // and sets it), less write on watched page tables and on pages the dirty log has not seen written.
  uint32_t entry = host_frame(t.physical) | kPtePresent;
  // A supervisor write with CR0.WP clear may write a read-only page (SDM Vol. 3 §4.6.1). The
  // shadow then has to allow it, which is sound only if user code cannot reach the page: a user
  // page is made supervisor-only meanwhile, as KVM's shadow MMU does, and the next user access
  // faults here and gets its read-only user mapping back. (With CR4.SMAP or SMEP on as well, the
  // guest kernel is then not stopped at that page until then.)
  bool supervisor_write_over_read_only = !(guest_.cr0 & kCr0Wp) && !t.writable && t.user && write && supervisor;
  if (t.user && !supervisor_write_over_read_only) entry |= kPteUser;
  bool writable = t.writable || (!(guest_.cr0 & kCr0Wp) && (!t.user || supervisor_write_over_read_only));
  if (writable && (t.dirty || !paging)) {
    bool allow = true;
    if (in_ram) {
      uint8_t& flags = frame_flags_[guest_frame];
      if (flags & kWatched) allow = false;
      if ((flags & kDescriptors) && !descriptor_write) allow = false;
      if (flags & kCode) allow = false;
      if (dirty_logging_ && !(flags & kLogged)) {
        if (write) {
          flags |= kLogged;
          counters_.dirty_log_faults++;
        } else {
          allow = false;
        }
      }
    }
    if (allow) entry |= kPteWritable;
  }
  uint32_t page = root.tables[pde];
  uint32_t index = (linear >> 12) & (root.pae ? 511 : 1023);
  unmap_entry(page, index, root.pae);
  this->entry(page, index, root.pae) = entry;
  if (in_ram) reverse_map_[guest_frame].push_back(reverse_key(page, index, root.pae));
  counters_.hidden_faults++;
  return {FaultOutcome::kHidden, 0};
}

ShadowFault ShadowMmu::prefill(uint32_t linear) {
  ShadowFault filled = handle_fault(linear, 0);
  if (filled.outcome == FaultOutcome::kHidden && !filled.new_root) {
    counters_.hidden_faults--;
    counters_.prefills++;
  }
  return filled;
}

void ShadowMmu::watch_descriptor_frames(const std::vector<uint32_t>& frames, PhysicalRange bytes) {
  // Nothing to do when the same frames are still protected (no write was let through since).
  if (frames == descriptor_frames_ && !descriptors_unprotected_) return;
  descriptors_unprotected_ = false;
  descriptors_unwatched_ = false;
  descriptor_bytes_ = bytes;
  for (uint32_t frame : descriptor_frames_) frame_flags_[frame] &= ~kDescriptors;
  descriptor_frames_.clear();
  for (uint32_t frame : frames) {
    if (frame >= ram_pages_) continue;
    const std::vector<uint32_t>& shared = shared_descriptor_frames_;
    if (std::find(shared.begin(), shared.end(), frame) != shared.end()) {
      descriptors_unwatched_ = true;
      continue;
    }
    frame_flags_[frame] |= kDescriptors;
    descriptor_frames_.push_back(frame);
    protect_frame(frame);
  }
  flush_stale();
}

void ShadowMmu::set_dirty_logging(bool on) {
  if (on == dirty_logging_) return;
  dirty_logging_ = on;
  for (uint8_t& flags : frame_flags_) flags &= ~kLogged;
  if (on) {
    for (uint32_t frame = 0; frame < ram_pages_; frame++) protect_frame(frame);
    flush_stale();
  }
}

std::vector<uint8_t> ShadowMmu::take_dirty_log() {
  std::vector<uint8_t> bitmap((ram_pages_ + 7) / 8, 0);
  for (uint32_t frame = 0; frame < ram_pages_; frame++) {
    if (!(frame_flags_[frame] & kLogged)) continue;
    bitmap[frame / 8] |= static_cast<uint8_t>(1u << (frame % 8));
    frame_flags_[frame] &= ~kLogged;
    protect_frame(frame);
  }
  flush_stale();
  return bitmap;
}

}  // namespace vmm
