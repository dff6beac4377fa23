// The bt engine's native core (docs/bt-engine.md): binary translation of the guest kernel, after
// VMware Workstation (Bugnion et al., TOCS 2012). The guest is deprivileged as under the trap
// engine, on whose core this builds (trap-core.h: shadow paging, the VMM region, the world
// switch, the emulation of what traps), but its kernel code never runs in place: each block the
// guest kernel reaches is translated (bt-translator.h) into the translation cache
// (translation-cache.h) in the hole, and runs from there. Guest user code runs in place, as in
// VMware's design. Everything per block and per lookup miss happens here, without TypeScript;
// the sensitive instructions the translator turns into calls into the VMM are carried out here,
// from a fast call inside Unicorn's CPU loop where the core can, or reach TypeScript as a #GP at
// the guest instruction (src/engines/bt), which emulates them.
#pragma once
#include <cstdint>
#include <memory>
#include <unordered_map>
#include <vector>

#include "bt-translator.h"
#include "trap-core.h"
#include "translation-cache.h"

namespace vmm {

struct BtCounters {
  uint64_t redirects = 0;         // guest kernel reached a guest address: sent to its translation
  uint64_t ran_in_place = 0;      // kernel blocks run untranslated: code not flat 32-bit (16-bit, a CS base)
  uint64_t faulted_in_place = 0;  // kernel blocks whose first instruction could not be read or decoded: the CPU faults there
  uint64_t exit_calls = 0;        // a direct jump's first run: translate or find the target, chain it
  uint64_t miss_calls = 0;        // the indirect lookup missed
  uint64_t emulate_calls = 0;     // sensitive instructions handed to the VMM
  uint64_t iret_in_core = 0;      // ... of which IRETs carried out here
  uint64_t verify_in_core = 0;    // ... and VERR/VERWs
  uint64_t fast_calls = 0;        // fast calls carried out inside Unicorn's CPU loop
  uint64_t slow_calls = 0;        // fast calls sent the slow way (a stop waiting, another form)
  uint64_t far_transfers = 0;     // far JMPs and RETs to the kernel's flat code, carried out in a fast call
  uint64_t far_transfers_in_place = 0;  // other far JMPs and RETs, run by the CPU (the block hook then in place)
  uint64_t hook_installs = 0;     // the block hook installed (0 or 1): something made it necessary
  uint64_t escapes = 0;           // exceptions found guest kernel code running in place, the hook absent
  uint64_t code_writes = 0;       // writes to translated code (invalidations by cause)
  uint64_t remaps = 0;            // translated code whose mapping changed
  uint64_t single_steps = 0;      // instructions run alone after writing their own block
  uint64_t gdt_refreshes = 0;     // segment loads that found the real GDT stale
  uint64_t rewrites[static_cast<int>(Rewrite::kCount)] = {};
};

class BtCore final : public TrapCore, private CodeWatcher {
 public:
  // `cache_bytes`: the translation cache's size (0: all of kTcBytes); `pool_bytes`: the shadow
  // page-table pool (0: all the region offers).
  static std::unique_ptr<BtCore> create(VcpuServices& vcpu, uc_engine* uc, LiveCpuState* live, GuestRam ram, uint64_t ram_bytes,
                                        uint64_t region_physical, uint32_t cache_bytes, uint32_t pool_bytes, uc_err* err);

  ExitKind on_exception(uint32_t vector, bool software_interrupt) override;
  // No block hook at start-up (with exact stops): every way into the guest kernel that the core
  // and the run loop know of goes straight to the cache (before_resume, continue_translated). The
  // hook is installed once something needs it: a far JMP or RET, a gate in the GDT, kernel code
  // that must run in place, or an exception that finds kernel code running in place.
  bool uses_block_events() const override { return false; }
  void before_resume() override;
  bool keeps_block_events() const override { return true; }
  bool on_block(uint64_t address, uint32_t size) override;
  // Guest addresses only: translated code runs without the block hook.
  uint64_t block_events_end() const override { return kHoleLinear - 1; }
  uint64_t unwritable_code_start() const override { return kTcLinear; }
  // IRET is translated: nothing to arrange after a delivery (the trap engine sets NT here).
  void after_event_delivered() override {}
  void gdt_reloaded() override;
  bool gdt_copy_stale() const override { return gdt_written_; }
  bool stop_allowed_at(uint64_t linear) override;
  bool on_cpuid() override;
  // In the cache: the guest instruction a precise point of a translation stands for.
  bool guest_eip(uint32_t eip, uint32_t* guest) const override;
  void before_exit() override;
  void guest_code_changed() override;
  void guest_frames_written(uint32_t first_frame, uint32_t last_frame) override;
  bool guest_instruction(uint32_t linear, uint32_t* guest) override;
  std::vector<EngineCounter> counters() const override;

 private:
  BtCore(VcpuServices& vcpu, uc_engine* uc, std::unique_ptr<TrapPlatform> platform, GuestRam ram, uint64_t ram_bytes,
         uint32_t cache_bytes);
  void configured() override;
  // Translated code has no block starts to count: the copy is made at the next call into the core
  // or before the next segment load, whichever comes first (the load's translation tests a flag).
  void descriptors_written() override;
  // CodeWatcher
  void code_frame_written(uint32_t frame, uint32_t linear) override;
  void mappings_changed(uint32_t linear, Scope scope) override;

  // The translation of guest code at `guest`, found or made; for code run with CS =
  // `code_selector` (kNone: the current CS), which must be flat 32-bit.
  CachedBlock* lookup_or_translate(uint32_t guest, uint32_t code_selector = kNone);
  // The guest kernel is at guest address `linear`: EIP moves to its translation (true), or it runs
  // in place (false: not flat 32-bit code, or its first instruction cannot be read or decoded).
  bool enter_translated(uint32_t linear);
  // The block hook from now on (the vCPU's need_block_events), once.
  void need_block_hook();
  // Whether the guest's tables leave `linear` unmapped (the CPU's fetch there raises #PF).
  bool fetch_faults_at(uint32_t linear);
  bool fetch_refused(const Translation& walk) const;
  // The guest kernel goes on at `guest` untranslated (no translation could be made there): the
  // block hook from now on, unless the CPU's fetch there faults before anything runs.
  void run_in_place(uint32_t guest);
  bool kernel_return_ready(uint32_t eip, uint32_t selector) override;
  enum class GuestDescriptor { kNone, kUnreadable, kRead };
  GuestDescriptor guest_gdt_descriptor(uint32_t selector, SegmentDescriptor* out);
  static bool is_far_transfer(const TrappedInstruction& insn);
  uint32_t far_transfer(const TrappedInstruction& insn);
  CachedBlock* translate(uint32_t guest, bool single_instruction, uint32_t code_selector = kNone);
  ExitKind handle_callout(const Callout& callout);
  // VERR and VERW (0F 00 /4, /5) at `guest_eip`, judged at the guest's CPL 0 against its own
  // descriptor; false leaves the instruction to TypeScript (other forms). Linux runs a VERW on
  // every return to user mode (its MDS buffer clearing), so this is a call per system call.
  // Returns the instruction's length when done (EIP is the caller's to move), 0 when not.
  uint32_t emulate_verify(uint32_t guest_eip);
  // A fast call's instruction, carried out inside Unicorn's CPU loop: the cache address the guest
  // goes on at, or 0 for the slow way (the trap or the UD2 after the call).
  uint32_t fast_call(const Callout& call);
  // IRET at guest EIP to guest ring 0 or 3, the common forms, as TypeScript's emulation does it
  // (src/engines/trap/privileged.ts); false leaves it to TypeScript.
  // EIP moves from a cache address to the guest address it stands for; false if none does.
  bool to_guest_eip(uint32_t tc);
  // The guest kernel goes on at `eip` (a guest address, or the VMM's stub about to enter the
  // kernel there): straight into its translation, rather than through the block hook at the
  // next block start.
  void continue_translated(uint32_t eip);
  // Rewritten cache bytes are dropped from Unicorn's translations (at the guest kernel's ring or
  // the VMM's, where the cache's supervisor pages are mapped for Unicorn's lookup of them).
  void drop_stale_translations();
  bool code_segment_flat();
  bool code_segment_flat(uint32_t selector);
  // Whether the stack segment is 32-bit (its B flag): the translator's own sequences address the
  // stack through ESP, where the CPU's PUSH, POP and RET use SP alone under a 16-bit one.
  bool stack_segment_32();
  uint32_t reg(uint32_t id);
  void set_reg(uint32_t id, uint32_t value);
  // The mapping translations were read through: a linear page, its frame, and whether the mapping
  // is global (kept across CR3 loads, SDM Vol. 3 §4.10.2.4: Linux maps its text so).
  void record_mapping(uint32_t page, uint32_t frame, bool global);
  // Whether the linear page still maps the frame its translations came from; if not, they go.
  void check_mapping(uint32_t page, uint32_t frame);
  void remapped(uint32_t page);
  void refresh_gdt_if_written();

  static constexpr uint32_t kNone = ~0u;
  GuestRam ram_;
  uint64_t ram_pages_;
  Translator translator_;
  std::unique_ptr<TranslationCache> cache_;
  // Linear page -> frame, as translated: global mappings, and the rest (walked at every CR3 load).
  std::unordered_map<uint32_t, uint32_t> global_pages_;
  std::unordered_map<uint32_t, uint32_t> local_pages_;
  uint32_t in_place_at_ = kNone;  // the next kernel block here runs in place (it cannot be translated)
  uint32_t in_place_from_ = kNone;  // ... and has just been sent there, its fetch expected to fault
  uint32_t single_at_ = kNone;    // the next kernel block here is one instruction, unprotected
  bool hooked_ = false;           // need_block_hook has run
  bool handling_fault_ = false;   // a #PF is being handled (a write to translated code may be its)
  bool faulting_block_written_ = false;
  // The guest wrote its GDT: the real one is copied again at the next call into the core, which
  // comes right after the writing instruction (it runs alone, like a write to its own block).
  bool gdt_written_ = false;
  // code_segment_flat()'s and stack_segment_32()'s last verdicts (the latter where the live
  // state is not located), for a selector and a copy of the real GDT: after another copy the
  // same selector may name another segment (syslinux's 0x10 is a 16-bit code segment, SeaBIOS's
  // a flat 32-bit one).
  struct SegmentVerdict {
    uint32_t selector = kNone;
    uint64_t gdt_copy = 0;
    bool yes = false;
  };
  SegmentVerdict cs_flat_;
  SegmentVerdict ss_32_;
  BtCounters bt_;
};

}  // namespace vmm
