// What the trap engine's deprivileged guest runs on: the VMM region (vmm-region.h) with the real
// GDT, TSS and world-switch stub, the shadow MMU behind the real CR3, and the guest's virtual
// paging state. Guest ring 0 runs on real ring 1 ("ring compression"), guest ring 3 on ring 3.
#pragma once
#include <cstdint>
#include <memory>
#include <vector>

#include <unicorn/unicorn.h>

#include "event-injection.h"
#include "live-cpu-state.h"
#include "x86.h"
#include "guest-memory.h"
#include "shadow-mmu.h"
#include "vmm-region.h"

namespace vmm {

// The EFLAGS the guest kernel runs with on real ring 1. The trap engine keeps IOPL 0, so CLI,
// STI and POPF's IF trap or fail, and sets NT, so that IRET traps (#TS). The bt engine, which
// translates IRET and masks PUSHF, runs the kernel with IOPL 1: CLI, STI and POPF then act on
// the real IF, which is the guest's (the VMM alone injects interrupts; no host interrupt is
// gated by it).
struct KernelRingFlags {
  uint32_t owned;  // bits the VMM sets for itself: never the guest's, hidden from pushed frames
  uint32_t set;    // set while the guest kernel runs
};
constexpr KernelRingFlags kTrapKernelFlags{kFlagIopl | kFlagNt, kFlagNt};
constexpr KernelRingFlags kBtKernelFlags{kFlagIopl, 1u << 12};

class TrapPlatform {
 public:
  // Maps the region at `physical` (Unicorn-physical, just above guest RAM) and builds the VMM's
  // GDT, TSS, stub and hole page table in it.
  // `live`: the vCPU's live state, for ring switches without TLB flushes (null: not located).
  // `pool_bytes`: the shadow page-table pool's size (0: all the region offers).
  static std::unique_ptr<TrapPlatform> create(uc_engine* uc, LiveCpuState* live, GuestRam ram, uint64_t ram_bytes,
                                              uint64_t physical, KernelRingFlags kernel_flags, uint32_t pool_bytes, uc_err* err);
  // Opens the region to the CPU once the guest is deprivileged, when every guest access goes
  // through shadow page tables that never map it; before, no access reaches it.
  uc_err reveal_region();
  // Closes it again when the guest leaves protected mode and runs as under direct.
  uc_err conceal_region();
  // The region's host memory at `offset` (vmm-region.h), which only the VMM writes.
  uint8_t* region_bytes(uint32_t offset) { return memory_->base() + offset; }
  GuestRam& ram() { return ram_; }
  // The translation cache's host memory (vmm-region.h).
  uint8_t* translation_cache() { return memory_->base() + kRegionTc; }
  // Maps the translation cache's first `bytes` into the hole (those not mapped yet).
  void map_translation_cache(uint32_t bytes);
  const KernelRingFlags& kernel_flags() const { return kernel_flags_; }
  // The vCPU's live state (null: not located).
  LiveCpuState* live() const { return live_; }

  // The guest's CR0/CR3/CR4 as it believes them; the real ones get the shadow and the VMM's bits.
  void set_guest_paging(const PagingState& guest);
  // The real CR3 loads the shadow root at `physical` (the MMU rebuilt its roots).
  void load_shadow_root(uint32_t physical);
  const PagingState& guest_paging() const { return view_.guest_paging; }
  // Copies the guest's GDT into the real one, guest ring 0 made ring 1 and every segment's limit
  // cut below the hole (VMware's segment truncation). Returns false if the guest GDT is unreadable.
  bool load_guest_gdt(EventInjector& injector, uint32_t base, uint32_t limit);
  // Resumes the guest at a privilege level other than the current one: the CPU itself loads
  // CS:EIP, EFLAGS and SS:ESP from an IRET frame on the VMM's stack (Unicorn can only lower CPL
  // through its register interface, and then only to 0). EFLAGS gets the VMM's IOPL and NT.
  void enter(uint32_t cs, uint32_t eip, uint32_t eflags, uint32_t ss, uint32_t esp);
  // The same but for EIP: returns the stub's address, for the caller to go on at.
  uint32_t enter_without_eip(uint32_t cs, uint32_t eip, uint32_t eflags, uint32_t ss, uint32_t esp);
  // While the CPU is at the stub that enter() prepared (EIP `eip` there): the slot of the IRET
  // frame that holds the guest EIP it will resume, and the guest CS in `cs`. Null elsewhere.
  uint32_t* entry_frame_eip(uint32_t eip, uint32_t* cs);

  void set_guest_tss(uint32_t base, uint32_t limit) {
    view_.guest_tss_base = base;
    view_.guest_tss_limit = limit;
  }
  // Copies the guest's GDT again (after the guest wrote it).
  bool reload_guest_gdt(EventInjector& injector) { return load_guest_gdt(injector, gdt_base_, gdt_limit_); }
  // The guest's GDTR, as it loaded it.
  uint32_t guest_gdt_base() const { return gdt_base_; }
  uint32_t guest_gdt_limit() const { return gdt_limit_; }
  // Whether the guest's descriptors differ from those last copied, as read in guest RAM where the
  // copy found them (a few dozen bytes compared: cheap enough for every exit while a frame of the
  // table cannot be write-protected, ShadowMmu::descriptors_unwatched()).
  bool guest_gdt_changed() const;
  // Whether the guest's GDT, as last copied, holds a call or task gate: a far CALL or JMP through
  // it enters another code segment without an exception.
  bool guest_gdt_has_gates() const { return gdt_has_gates_; }
  // How many times the real GDT has been copied from the guest's: a selector names the same
  // segment only while this stays the same.
  uint64_t gdt_copies() const { return gdt_copies_; }
  ShadowMmu& mmu() { return *mmu_; }
  const ShadowMmu& mmu() const { return *mmu_; }
  const TrapView* view() const { return &view_; }
  uint64_t region_physical() const { return physical_; }

 private:
  TrapPlatform(uc_engine* uc, std::unique_ptr<GuestMemory> memory, uint64_t physical) : uc_(uc), memory_(std::move(memory)), physical_(physical) {}
  void build_region();

  uc_engine* uc_;
  LiveCpuState* live_ = nullptr;
  std::unique_ptr<GuestMemory> memory_;
  uint64_t physical_;
  bool revealed_ = false;
  std::unique_ptr<ShadowMmu> mmu_;
  TrapView view_{};
  GuestRam ram_{nullptr, 0};
  uint32_t gdt_base_ = 0;
  uint32_t gdt_limit_ = 0;
  bool gdt_has_gates_ = false;
  // The guest's descriptors (from the second on) as last copied, and where in guest RAM they lay.
  struct GdtChunk {
    uint64_t physical;
    uint32_t offset;  // in gdt_image_
    uint32_t length;
  };
  std::vector<uint8_t> gdt_image_;
  std::vector<GdtChunk> gdt_chunks_;
  uint32_t copied_descriptors_ = kFirstVmmDescriptor;  // of the real GDT's guest part: past these, all null
  uint64_t gdt_copies_ = 0;
  KernelRingFlags kernel_flags_{};
  uint32_t tc_mapped_ = 0;  // bytes of the translation cache mapped in the hole
};

}  // namespace vmm
