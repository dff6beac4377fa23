// Shadow page tables for the trap engine (the technique of VMware's and Xen's early VMMs; see
// Adams & Agesen, ASPLOS 2006, §2.3). The real CR3 points at a shadow page directory in the VMM
// region, never at the guest's tables. Shadow entries are filled lazily: a real #PF whose guest
// mapping exists is a *hidden* fault, filled here without leaving native code; one whose guest
// mapping does not allow the access is a *true* fault, reflected to the guest.
//
// Coherence: every guest page-table page the shadows were built from is write-protected in all
// shadows; a guest write to one drops the shadow tables derived from it (rebuilt on demand) and
// unprotects the page. INVLPG drops one entry; MOV CR3 switches to the cached shadow of that
// address space (a few are kept, least recently used evicted).
//
// Shadow format: the guest's own, with 4 KiB pages only (guest 4 MiB and 2 MiB pages are shadowed
// page by page, so protection and dirty tracking stay per 4 KiB): 32-bit two-level shadows for
// 32-bit guests, PAE three-level shadows (PDPT and four directories) for PAE guests. Guests with
// paging off get an identity shadow in the 32-bit format.
#pragma once
#include <cstdint>
#include <functional>
#include <vector>

#include "guest-page-walk.h"

namespace vmm {

struct ShadowCounters {
  uint64_t hidden_faults = 0;
  uint64_t true_faults = 0;
  uint64_t shadow_pages_built = 0;   // shadow page-table pages filled from a guest table
  uint64_t page_table_writes = 0;    // guest writes to write-protected page-table pages
  uint64_t dirty_log_faults = 0;     // first writes to a page since the dirty log was read
  uint64_t root_switches = 0;        // MOV CR3 (and paging-mode changes) served
  uint64_t root_cache_hits = 0;      // ... from an already built shadow
  uint64_t pages_invalidated = 0;    // INVLPG
  uint64_t pool_resets = 0;          // the pool ran out: every shadow dropped, rebuilt on demand
  uint64_t prefills = 0;             // entries filled ahead of the guest's access (prefill)
};

enum class FaultOutcome { kHidden, kGuestFault, kHole, kPoolExhausted };

struct ShadowFault {
  FaultOutcome outcome;
  uint32_t guest_error_code;  // kGuestFault: the #PF error code the guest sees
  // The pool ran out and every shadow was dropped: the current root is now at this physical
  // address, which the real CR3 must load before the guest runs again (0: unchanged).
  uint32_t new_root = 0;
};

// Guest-physical bytes [start, end); contiguous (a GDT in one frame, or in frames that follow).
struct PhysicalRange {
  uint64_t start = 0;
  uint64_t end = 0;
  bool contains(uint64_t physical) const { return physical >= start && physical < end; }
};

struct ShadowRegion {
  uint8_t* host;          // the VMM region's host memory
  uint64_t physical;      // its Unicorn-physical base
  uint64_t bytes;
  uint64_t pool_end;      // shadow page-table pages lie in [kRegionPool, pool_end) of the region
  uint64_t open_bus_page; // a Unicorn-physical page with nothing behind it
};

// What the binary-translation engine learns from the shadow MMU: guest code it translated is
// write-protected here, and a write to it, or a change of the mapping it came through, makes
// its translations stale.
class CodeWatcher {
 public:
  // A write to a frame marked by protect_code_frame() is about to be let through (the mark is
  // gone): the translations made from it must go. `linear` is the written address.
  virtual void code_frame_written(uint32_t frame, uint32_t linear) = 0;
  // Which mappings of translated code may have changed (SDM Vol. 3 §4.10.4.1): one page (INVLPG
  // of `linear`), all but global pages (a CR3 load), or all (a paging-mode change).
  enum class Scope { kPage, kNonGlobal, kAll };
  virtual void mappings_changed(uint32_t linear, Scope scope) = 0;

 protected:
  ~CodeWatcher() = default;
};

class ShadowMmu {
 public:
  // `flush_tlb` empties Unicorn's TLB, `flush_tlb_page` drops one linear page from it.
  ShadowMmu(GuestRam ram, uint64_t ram_bytes, ShadowRegion region, std::function<void()> flush_tlb,
            std::function<void(uint32_t)> flush_tlb_page);

  // The shadow root (a physical address for the real CR3) for the guest's paging state.
  uint32_t activate(const PagingState& guest);
  // Handles a real #PF at `linear` with the CPU's error code (P, W, U, I/D bits).
  // `user_data_for_supervisor`: whether a supervisor data access may touch a user page now
  // (CR4.SMAP clear, or EFLAGS.AC set at CPL < 3: SDM Vol. 3 §4.6.1); the real CPU judged it
  // already, the guest's own tables decide whether that fault was the guest's.
  ShadowFault handle_fault(uint32_t linear, uint32_t error_code, bool user_data_for_supervisor = true);
  // INVLPG: the guest changed the mapping of one page.
  void invalidate_page(uint32_t linear);
  // A paging-mode change (CR0.PG/WP, CR4.PSE/PAE): every shadow is dropped.
  void invalidate_all();
  // The VMM itself wrote entry `index` of the guest's page table or directory in `frame` (the
  // paravirt engine's validated updates): the shadow entries derived from it go now, and their
  // pages leave the TLB (a directory entry takes its slot's shadow table with it).
  void guest_entry_updated(uint32_t frame, uint32_t index);
  // Fills the shadow entry for `linear` before the guest's first access, as a read fault would,
  // for a mapping whose guest entries already have A set (the walk then changes nothing the guest
  // can see): a paravirtual kernel's new mapping, which would otherwise cost a hidden fault.
  ShadowFault prefill(uint32_t linear);

  // Dirty log (KVM_GET_DIRTY_LOG semantics): pages written since the last take.
  void set_dirty_logging(bool on);
  bool dirty_logging() const { return dirty_logging_; }
  // One bit per guest page (bit i of byte i/8), then cleared and write-protected again.
  std::vector<uint8_t> take_dirty_log();

  // The guest's GDT lives in these frames: writes to them are reported, so that the real GDT can
  // follow (guests edit descriptors in place, which no instruction traps).
  // `bytes` is where the table itself lies: a write elsewhere in its frames means the page is
  // shared with other data, and the frame is no longer protected.
  void watch_descriptor_frames(const std::vector<uint32_t>& frames, PhysicalRange bytes);
  // Whether one of the frames of the table watch_descriptor_frames() was last given is left
  // unprotected, shared with other data the guest writes: writes to the table there are not seen.
  bool descriptors_unwatched() const { return descriptors_unwatched_; }
  // Whether a write to a descriptor frame was let through since the last call (then cleared).
  bool take_descriptors_written() {
    bool written = descriptors_written_;
    descriptors_written_ = false;
    return written;
  }

  // Guest code translated from this frame: writes to it fault, and the first one is reported to
  // the code watcher before it is let through (self-modifying and cross-modifying code).
  void protect_code_frame(uint32_t frame);
  void set_code_watcher(CodeWatcher* watcher) { code_watcher_ = watcher; }

  const ShadowCounters& counters() const { return counters_; }

 private:
  static constexpr uint32_t kNoPage = ~0u;
  static constexpr uint32_t kPhysicalModeKey = 1;  // guest CR3 values are page aligned: never 1
  static constexpr int kCachedRoots = 8;
  static constexpr uint32_t kNoSource = ~0u;

  struct Root {
    uint32_t key = 0;           // guest CR3 (its table address) or kPhysicalModeKey
    bool pae = false;
    uint32_t page = kNoPage;    // pool page of the shadow directory (32-bit) or PDPT (PAE)
    uint32_t directories[4] = {kNoPage, kNoPage, kNoPage, kNoPage};  // PAE: the four shadow PDs
    uint64_t last_used = 0;
    // Per directory slot (PDE; for PAE, PDPT index * 512 + PDE): the shadow PT, or kNoPage, and
    // the guest page table it came from (kNoSource for large pages and physical mode).
    std::vector<uint32_t> tables;
    std::vector<uint32_t> sources;
    std::vector<uint32_t> directory_frames;  // guest frames of the directory levels (PD; PDPT + PDs)
  };

  // Entries are 4 bytes (32-bit) or 8 (PAE; the high half stays 0: every frame is below 4 GiB,
  // and no shadow sets XD). The flags and frame live in the low half.
  uint32_t& entry(uint32_t page, uint32_t index, bool pae);
  uint32_t slots(const Root& root) const { return root.pae ? 2048 : 1024; }
  uint32_t slot_of(const Root& root, uint32_t linear) const { return root.pae ? linear >> 21 : linear >> 22; }
  uint32_t& directory_entry(Root& root, uint32_t slot);
  bool is_hole_slot(const Root& root, uint32_t slot) const { return slot >= (root.pae ? 2046u : 1023u); }
  void read_directory_frames(std::vector<uint32_t>* frames) const;
  uint32_t* pool_entries(uint32_t page);
  uint32_t pool_physical(uint32_t page) const;
  uint32_t allocate_page();
  void free_page(uint32_t page);
  Root* find_root(uint32_t key);
  Root& new_root(uint32_t key, bool pae);
  void clear_root(Root& root);
  void drop_table(Root& root, uint32_t pde_index);
  // Clears a shadow entry (and its reverse-map record); whether it was present.
  bool unmap_entry(uint32_t page, uint32_t index, bool pae);
  static uint32_t reverse_key(uint32_t page, uint32_t index, bool pae) { return (page << 12) | (index * (pae ? 8 : 4)); }
  // Write-protects every shadow entry that maps the frame.
  void protect_frame(uint32_t frame);
  // The linear address a shadow PT entry maps in the current root (Unicorn's TLB holds no other
  // root's entries: it is flushed at every root switch); false if the page is not the current
  // root's table.
  bool current_linear(uint32_t page, uint32_t index, uint32_t* linear) const;
  // Pages whose current-root entries lost rights since the last flush_stale(), which flushes them
  // one by one, or the whole TLB when there were more than kMaxPageFlushes (or `everything`).
  void note_stale(uint32_t linear);
  void flush_stale(bool everything = false);
  static constexpr size_t kMaxPageFlushes = 16;
  void watch_table(uint32_t frame);
  void page_table_written(uint32_t frame);
  void drop_derived(uint32_t frame);
  uint32_t host_frame(uint64_t guest_physical) const;

  GuestRam ram_;
  uint64_t ram_pages_;
  ShadowRegion region_;
  std::function<void()> flush_tlb_;
  std::function<void(uint32_t)> flush_tlb_page_;
  PagingState guest_{};
  std::vector<Root> roots_;
  Root* current_ = nullptr;
  uint64_t clock_ = 0;
  std::vector<uint32_t> free_pages_;
  uint32_t next_page_ = 0;
  uint32_t pool_pages_ = 0;
  // Per guest RAM frame.
  std::vector<uint8_t> frame_flags_;
  std::vector<uint32_t> unsynced_;  // frames with kUnsynced set
  std::vector<std::vector<uint32_t>> reverse_map_;  // shadow PTEs mapping the frame: reverse_key()
  std::vector<std::vector<uint32_t>> derived_tables_;  // per guest table frame: the pool pages shadowing it
  std::vector<uint32_t> table_slot_;  // per pool page: the directory slot it was last a table for
  std::vector<uint32_t> stale_pages_;
  bool stale_all_ = false;
  std::vector<uint8_t> dirty_log_;
  std::vector<uint32_t> descriptor_frames_;
  bool descriptors_written_ = false;
  bool descriptors_unprotected_ = false;  // a shadow entry lets a descriptor frame be written
  bool descriptors_unwatched_ = false;    // descriptors_unwatched()
  PhysicalRange descriptor_bytes_;
  std::vector<uint32_t> shared_descriptor_frames_;
  bool dirty_logging_ = false;
  CodeWatcher* code_watcher_ = nullptr;
  ShadowCounters counters_;
};

}  // namespace vmm
