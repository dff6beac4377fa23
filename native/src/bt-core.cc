#include "bt-core.h"

#include <algorithm>
#include <cstring>

#include "event-injection.h"
#include "modrm.h"
#include "registers.h"
#include "trace-recorder.h"
#include "vmm-region.h"
#include "x86.h"

namespace vmm {
namespace {

// Guest kernel code, read through the guest's own page tables (as the CPU's fetch would).
class GuestCode final : public CodeSource {
 public:
  GuestCode(GuestRam& ram, const PagingState& paging, uint64_t ram_bytes) : ram_(ram), paging_(paging), ram_bytes_(ram_bytes) {}
  uint32_t read(uint32_t linear, uint8_t* out, uint32_t length) override {
    uint32_t done = 0;
    while (done < length) {
      uint32_t at = linear + done;
      Translation t = walk_guest_page_tables(ram_, paging_, at, 0);
      if (!t.ok || t.physical >= ram_bytes_) break;
      uint32_t chunk = std::min(length - done, kPageSize - (at & (kPageSize - 1)));
      if (t.physical + chunk > ram_bytes_) break;
      std::copy(ram_.at(t.physical), ram_.at(t.physical) + chunk, out + done);
      done += chunk;
    }
    return done;
  }

 private:
  GuestRam& ram_;
  const PagingState& paging_;
  uint64_t ram_bytes_;
};

// Whether a walk's mapping outlives a CR3 load: its G bit, with CR4.PGE and paging on (SDM Vol. 3
// §4.10.2.4).
bool maps_globally(const Translation& walk, const PagingState& paging) {
  return walk.global && (paging.cr4 & kCr4Pge) && (paging.cr0 & kCr0Pg);
}

// The longest translation of one block (TranslatorLimits below, with every instruction's worst
// case and the exit stubs).
constexpr uint32_t kMaxBlockBytes = 4096;

}  // namespace

std::unique_ptr<BtCore> BtCore::create(VcpuServices& vcpu, uc_engine* uc, LiveCpuState* live, GuestRam ram, uint64_t ram_bytes,
                                       uint64_t region_physical, uint32_t cache_bytes, uint32_t pool_bytes, uc_err* err) {
  std::unique_ptr<TrapPlatform> platform =
      TrapPlatform::create(uc, live, ram, ram_bytes, region_physical, kBtKernelFlags, pool_bytes, err);
  if (!platform) return nullptr;
  if (cache_bytes == 0 || cache_bytes > kTcBytes) cache_bytes = kTcBytes;
  std::unique_ptr<BtCore> core(new BtCore(vcpu, uc, std::move(platform), ram, ram_bytes, cache_bytes));
  if (!core->translator_.ok()) {
    *err = UC_ERR_NOMEM;
    return nullptr;
  }
  return core;
}

BtCore::BtCore(VcpuServices& vcpu, uc_engine* uc, std::unique_ptr<TrapPlatform> platform, GuestRam ram, uint64_t ram_bytes,
               uint32_t cache_bytes)
    : TrapCore(vcpu, uc, std::move(platform)), ram_(ram), ram_pages_(ram_bytes >> 12) {
  cache_ = std::make_unique<TranslationCache>(platform_->translation_cache(), kTcLinear, cache_bytes);
  platform_->map_translation_cache(cache_->bytes_in_use());
  platform_->mmu().set_code_watcher(this);
}

void BtCore::configured() { want_block_events(true); }

uint32_t BtCore::reg(uint32_t id) {
  uint64_t value = 0;
  read_register(uc_, id, &value);
  return static_cast<uint32_t>(value);
}

void BtCore::set_reg(uint32_t id, uint32_t value) { write_register(uc_, id, value); }

// Whether kernel code runs with a flat 32-bit CS, the only code the translator handles. The CPU
// keeps the descriptor it loaded with CS (its segment cache) until CS is loaded again, whatever
// the GDT says since (Linux loads a new GDT, then far-jumps to reload CS): the verdict is kept per
// selector, and the GDT is read only for a selector not seen last.
bool BtCore::code_segment_flat() { return code_segment_flat(reg(kRegCs)); }

bool BtCore::code_segment_flat(uint32_t selector) {
  uint64_t copy = platform_->gdt_copies();
  if (selector == cs_flat_.selector && copy == cs_flat_.gdt_copy) return cs_flat_.yes;
  SegmentDescriptor code{};
  if (!vcpu_.injector().segment_descriptor(selector, &code)) return false;
  // A selector the table now leaves absent was loaded from an earlier one (Linux loads its GDT,
  // then jumps to its new CS): what that table said still holds.
  bool flat = code.present ? code.base == 0 && code.big : selector == cs_flat_.selector && cs_flat_.yes;
  cs_flat_ = {selector, copy, flat};
  return flat;
}

bool BtCore::stack_segment_32() {
  // The CPU's own view of the SS it has loaded, where the live state is located.
  if (LiveCpuState* live = platform_->live()) return live->stack_segment_is_32();
  uint32_t selector = reg(kRegSs);
  uint64_t copy = platform_->gdt_copies();
  if (selector == ss_32_.selector && copy == ss_32_.gdt_copy) return ss_32_.yes;
  SegmentDescriptor stack{};
  if (!vcpu_.injector().segment_descriptor(selector, &stack)) return false;
  bool big = stack.present ? stack.big : selector == ss_32_.selector && ss_32_.yes;
  ss_32_ = {selector, copy, big};
  return big;
}

CachedBlock* BtCore::lookup_or_translate(uint32_t guest, uint32_t code_selector) {
  if (CachedBlock* block = cache_->block_for(guest)) return block;
  return translate(guest, false, code_selector);
}

CachedBlock* BtCore::translate(uint32_t guest, bool single_instruction, uint32_t code_selector) {
  if (!(code_selector == kNone ? code_segment_flat() : code_segment_flat(code_selector))) return nullptr;
  if (!cache_->has_room(kMaxBlockBytes)) cache_->flush();
  const PagingState& paging = platform_->guest_paging();
  GuestCode source(ram_, paging, ram_pages_ << 12);
  TranslatorLimits limits;
  limits.single_instruction = single_instruction;
  // An instruction run alone goes back to the core after it (never chained on).
  struct NoTargets final : TranslationTargets {
    explicit NoTargets(uint32_t table) { lookup_table = table; }
    uint32_t find(uint32_t) const override { return 0; }
  } unchained(cache_->lookup_table);
  const TranslationTargets& targets = single_instruction ? static_cast<const TranslationTargets&>(unchained) : *cache_;
  BlockTranslation t = translator_.translate(source, targets, guest, cache_->cursor(), limits);
  if (t.empty()) return nullptr;
  // The frames the block's bytes came from: write-protected, so that a write makes it go.
  std::vector<uint32_t> frames, pages;
  std::vector<bool> global;
  for (uint64_t page = guest & ~uint64_t{kPageSize - 1}; page < t.guest_end; page += kPageSize) {
    Translation walk = walk_guest_page_tables(ram_, paging, static_cast<uint32_t>(page), 0);
    if (fetch_refused(walk) || (walk.physical >> 12) >= ram_pages_) return nullptr;
    frames.push_back(static_cast<uint32_t>(walk.physical >> 12));
    pages.push_back(static_cast<uint32_t>(page));
    global.push_back(maps_globally(walk, paging));
  }
  for (int kind = 0; kind < static_cast<int>(Rewrite::kCount); kind++) bt_.rewrites[kind] += t.rewrites[kind];
  vcpu_.trace().record_translation(t.guest_start, t.guest_end, static_cast<uint32_t>(t.code.size()),
                                   t.instructions - t.rewrites[static_cast<int>(Rewrite::kIdent)]);
  if (!single_instruction) {
    for (size_t i = 0; i < frames.size(); i++) {
      platform_->mmu().protect_code_frame(frames[i]);
      record_mapping(pages[i], frames[i], global[i]);
    }
  }
  CachedBlock& block = cache_->install(std::move(t), single_instruction ? std::vector<uint32_t>{} : frames,
                                       single_instruction ? std::vector<uint32_t>{} : pages);
  platform_->map_translation_cache(cache_->bytes_in_use());
  // A block made to run one instruction once is not found again.
  if (single_instruction) cache_->invalidate(block);
  return &block;
}

bool BtCore::on_block(uint64_t address, uint32_t size) {
  if (!active()) return stop_at_protected_mode(address);
  refresh_gdt_when_due();
  if (address >= kHoleLinear) return false;
  // Guest user code runs in place, at its own privilege (ring 3).
  if (vcpu_.current_cpl() != kGuestKernelRing) return false;
  return enter_translated(static_cast<uint32_t>(address));
}

void BtCore::before_resume() {
  if (!active()) return;
  refresh_unwatched_gdt();
  in_place_from_ = kNone;
  // A far CALL or JMP through a gate enters the kernel where only the block hook sees it.
  if (!hooked_ && platform_->guest_gdt_has_gates()) need_block_hook();
  uint32_t eip = reg(kRegEip);
  if (cache_->contains(eip)) return;
  uint32_t cs = 0;
  if (platform_->entry_frame_eip(eip, &cs)) {
    // The VMM's stub about to enter the guest (TypeScript delivered an event): into the cache.
    continue_translated(eip);
    return;
  }
  if (eip >= kHoleLinear || vcpu_.current_cpl() != kGuestKernelRing) return;
  enter_translated(eip);
}

void BtCore::run_in_place(uint32_t guest) {
  set_reg(kRegEip, guest);
  in_place_at_ = guest;
  if (!fetch_faults_at(guest)) need_block_hook();
}

bool BtCore::fetch_faults_at(uint32_t linear) {
  const PagingState& paging = platform_->guest_paging();
  if (fetch_refused(walk_guest_page_tables(ram_, paging, linear, 0))) return true;
  // An instruction that starts within its longest length of the page's end may need the next
  // page (the translator stopped short of its bytes).
  uint32_t next = (linear | (kPageSize - 1)) + 1;
  return next - linear < kMaxInstructionLength && fetch_refused(walk_guest_page_tables(ram_, paging, next, 0));
}

// Whether the guest kernel's fetch through this walk faults: nothing mapped, or, with CR4.SMEP,
// a user page (SDM Vol. 3 §4.6.1). Such code is not translated: run in place, the CPU's own
// fetch raises the fault (the real CR4 has the guest's SMEP).
bool BtCore::fetch_refused(const Translation& walk) const {
  const PagingState& paging = platform_->guest_paging();
  return !walk.ok || (walk.user && (paging.cr0 & kCr0Pg) && (paging.cr4 & kCr4Smep));
}

void BtCore::need_block_hook() {
  if (hooked_) return;
  hooked_ = true;
  bt_.hook_installs++;
  vcpu_.need_block_events();
}

bool BtCore::enter_translated(uint32_t linear) {
  if (linear == in_place_at_) {
    in_place_at_ = kNone;
    in_place_from_ = linear;
    bt_.faulted_in_place++;
    return false;
  }
  if (!code_segment_flat() || !stack_segment_32()) {
    bt_.ran_in_place++;
    need_block_hook();
    return false;
  }
  CachedBlock* block = nullptr;
  if (linear == single_at_) {
    // (A GDT write still to run keeps the copy for after it: its exit comes back to the core.)
    single_at_ = kNone;
    block = translate(linear, true);
    bt_.single_steps++;
  } else {
    refresh_gdt_if_written();
    block = lookup_or_translate(linear);
  }
  if (!block) {
    bt_.faulted_in_place++;
    // Where the guest's own tables map nothing, the CPU's fetch faults before any of it runs (the
    // shadows follow those tables), and the guest goes on where the core sees it again. Anything
    // else could run in place: the block hook sends the next block to the cache.
    if (!fetch_faults_at(linear)) need_block_hook();
    in_place_from_ = linear;
    return false;
  }
  drop_stale_translations();
  // (From the block hook: Unicorn leaves this block before it runs and resumes at the new EIP.)
  set_reg(kRegEip, block->tc_start);
  bt_.redirects++;
  return true;
}

ExitKind BtCore::on_exception(uint32_t vector, bool software_interrupt) {
  if (!active()) return TrapCore::on_exception(vector, software_interrupt);  // (a hypercall, or TypeScript's)
  bool page_fault = vector == kPf && !software_interrupt;
  ExitKind fault_outcome = kExitException;
  if (page_fault) {
    // A hidden fault, the most frequent exception, reads no register here: EIP only if the fault
    // wrote translated code (code_frame_written).
    handling_fault_ = true;
    faulting_block_written_ = false;
    ExitKind outcome = fault_outcome = handle_shadow_fault();
    handling_fault_ = false;
    if (outcome == kResumeGuest) {
      uint32_t guest = 0;
      bool precise = false;
      // The write changed the block it is in: the instruction runs once alone (its page left
      // writable), and what follows it is translated from the new bytes (SDM Vol. 3 §8.1.3).
      uint32_t eip = faulting_block_written_ ? reg(kRegEip) : 0;
      if (faulting_block_written_ && cache_->guest_point(eip, &guest, &precise) && precise) {
        set_reg(kRegEip, guest);
        single_at_ = guest;
      }
      if (cache_->has_stale_ranges() && at_guest_kernel_ring()) drop_stale_translations();
      return kResumeGuest;
    }
  }
  uint32_t eip = reg(kRegEip);
  bool in_cache = cache_->contains(eip);
  if (!in_cache && !hooked_ && eip < kHoleLinear && eip != in_place_at_ && eip != in_place_from_ && at_guest_kernel_ring()) {
    // Guest kernel code ran in place, entered some way this core does not redirect: from now on
    // the block hook sends every kernel block to the cache. (Counted: none is expected.)
    bt_.escapes++;
    need_block_hook();
  }
  if (in_cache && vector == kUd && !software_interrupt) {
    if (cache_->is_lookup_miss(eip)) return handle_callout(Callout{CalloutKind::kIndirectMiss, 0, 0});
    // (A copy: translating may flush the cache, and the callout table with it.)
    if (const Callout* callout = cache_->callout_at(eip)) return handle_callout(Callout(*callout));
  }
  if (page_fault) {
    ExitKind outcome = fault_outcome;
    if (in_cache && !to_guest_eip(eip)) {
      vcpu_.exit_record()[kFieldVector] = vector;
      return kExitEngineError;
    }
    // A true fault, at its guest address now: the guest's to handle, in its translated handler.
    if (outcome != kExitException) return outcome;
    outcome = reflect_to_guest(kPf, false);
    if (outcome == kResumeGuest) continue_translated(reg(kRegEip));
    return outcome;
  }
  if (in_cache && !to_guest_eip(eip)) {
    vcpu_.exit_record()[kFieldVector] = vector;
    return kExitEngineError;
  }
  ExitKind outcome = TrapCore::on_exception(vector, software_interrupt);
  // Carried out here (INVLPG), or delivered to the guest kernel's handler: on in the cache, without
  // a detour through the block hook. (A return to user code stays where it is.)
  if (outcome == kResumeGuest) continue_translated(reg(kRegEip));
  return outcome;
}

void BtCore::continue_translated(uint32_t eip) {
  // An entry from guest user mode (an exception or INT n reflected to the kernel) is at the stub
  // whose IRET switches rings: its frame is sent on instead.
  uint32_t entry_cs = 0;
  uint32_t* entry = platform_->entry_frame_eip(eip, &entry_cs);
  uint32_t guest = entry ? *entry : eip;
  bool kernel = entry ? (entry_cs & 3) == kGuestKernelRing : at_guest_kernel_ring();
  if (!kernel || guest >= kHoleLinear) return;
  // (An entry from user mode takes the kernel's stack from the TSS, not the SS of now.)
  if (!code_segment_flat(entry ? entry_cs : reg(kRegCs)) || (!entry && !stack_segment_32())) {
    need_block_hook();
    return;
  }
  refresh_gdt_if_written();
  CachedBlock* block = lookup_or_translate(guest);
  if (!block) return;
  drop_stale_translations();
  if (entry) {
    *entry = block->tc_start;
  } else {
    set_reg(kRegEip, block->tc_start);
  }
}

bool BtCore::on_cpuid() {
  if (!active()) return false;
  uint32_t tc = reg(kRegEip);
  if (!cache_->contains(tc)) return false;
  const Callout* callout = cache_->callout_at(tc);
  if (!callout || callout->kind != CalloutKind::kFastCall) return false;  // the guest's own CPUID
  // (A copy: translating may flush the cache, and the callout table with it.)
  uint32_t resume = fast_call(Callout(*callout));
  if (resume) {
    bt_.fast_calls++;
  } else {
    resume = tc + kFastCallBytes;  // the slow way
    bt_.slow_calls++;
  }
  cache_->set_resume(resume);
  return true;
}

// Inside Unicorn's CPU loop, in the middle of a translated block: registers may be read and
// written (Unicorn hands helpers its globals), but not EIP, whose write makes Unicorn leave the
// loop (the JMP after the CPUID sets it). A device waiting to stop the run takes the slow way,
// where TypeScript, which asked first, sees the instruction. (An interrupt waiting for IF is
// found as after the slow way: by the timer thread's poll, which stops at the next block start.)
uint32_t BtCore::fast_call(const Callout& call) {
  if (vcpu_.stop_pending()) return 0;
  refresh_gdt_if_written();
  TrappedInstruction insn;
  if (!fetch_instruction(call.guest_eip, &insn)) return 0;
  if (call.site) {
    // MOV to or from CRn, INVLPG: on after the instruction (the jump to the next block).
    if (!handle_invlpg(insn) && !handle_control_register_move(insn)) return 0;
    vcpu_.trace().record_vmm_call(kTraceCallEmulate, call.guest_eip);
    drop_stale_translations();
    return call.site;
  }
  uint32_t guest = 0;
  if (is_far_transfer(insn)) return far_transfer(insn);
  uint32_t length = emulate_verify(call.guest_eip);
  if (length) {
    guest = call.guest_eip + length;
    bt_.verify_in_core++;
  } else if (emulate_iret(call.guest_eip, &guest)) {
    bt_.iret_in_core++;
    vcpu_.trace().record_vmm_call(kTraceCallIret, call.guest_eip);
    // To ring 3: the VMM's stub, whose IRET enters user code where it is.
    uint32_t cs = 0;
    if (platform_->entry_frame_eip(guest, &cs)) return guest;
  } else {
    return 0;
  }
  if (length) vcpu_.trace().record_vmm_call(kTraceCallEmulate, call.guest_eip);
  CachedBlock* block = code_segment_flat() ? lookup_or_translate(guest) : nullptr;
  drop_stale_translations();
  // VERR and VERW without a translation after them go the slow way, which does them again (they
  // only set ZF); an IRET's target was translated before it was carried out.
  return block ? block->tc_start : 0;
}

// Far JMP ptr16:32 (EA), JMP m16:32 (FF /5), RET far (CB) and RET far imm16 (CA), 32-bit forms.
bool BtCore::is_far_transfer(const TrappedInstruction& insn) {
  uint8_t op = insn.bytes[segment_override(insn.bytes[0]) == kNoSegmentOverride ? 0 : 1];
  return op == 0xEA || op == 0xCA || op == 0xCB || op == 0xFF;
}

// A far JMP or RET of the guest kernel to a code segment of its own ring (SDM Vol. 2, JMP and RET:
// the same-privilege forms), carried out in a fast call when the target is flat 32-bit code
// (Linux reloads CS so, twice in a boot): CS is loaded (the real one at ring 1), ESP released for
// a RET, and the guest goes on in the target's translation, with no block hook needed to see it
// arrive. Anything else (another ring, a gate, a TSS, a 16-bit or based segment, a fault to
// raise) returns 0: the slow way installs the hook and runs the instruction itself.
uint32_t BtCore::far_transfer(const TrappedInstruction& insn) {
  uint32_t segment = segment_override(insn.bytes[0]);
  uint32_t at = segment == kNoSegmentOverride ? 0 : 1;
  if (insn.available < at + 1) return 0;
  uint8_t op = insn.bytes[at];
  uint32_t selector = 0, offset = 0, release = 0;
  SegmentDescriptor stack{};
  uint32_t esp = reg(kRegEsp);
  if (op == 0xEA) {
    if (at != 0 || insn.available < 7) return 0;
    std::memcpy(&offset, insn.bytes + 1, 4);
    selector = insn.bytes[5] | (insn.bytes[6] << 8);
  } else if (op == 0xFF) {
    if (insn.available < at + 2 || ((insn.bytes[at + 1] >> 3) & 7) != 5) return 0;
    MemoryOperand operand{};
    uint32_t linear = 0;
    uint8_t pointer[6] = {};
    if (!memory_operand_address(insn, at + 1, segment, &operand, &linear)) return 0;
    if (!vcpu_.injector().read_guest_linear(linear, pointer, sizeof pointer)) return 0;
    std::memcpy(&offset, pointer, 4);
    selector = pointer[4] | (pointer[5] << 8);
  } else if (op == 0xCB || op == 0xCA) {
    if (at != 0) return 0;
    uint32_t frame[2] = {};
    if (!vcpu_.injector().segment_descriptor(reg(kRegSs), &stack) || !stack.big) return 0;
    if (!vcpu_.injector().read_guest_linear(stack.base + esp, frame, sizeof frame)) return 0;
    offset = frame[0];
    selector = frame[1] & 0xFFFF;
    uint16_t imm = 0;
    if (op == 0xCA) {
      if (insn.available < 3) return 0;
      std::memcpy(&imm, insn.bytes + 1, 2);
    }
    release = 8 + imm;
  } else {
    return 0;
  }
  // The guest's own view: a present, flat, 32-bit code segment of ring 0, reached with RPL 0.
  SegmentDescriptor code{};
  if ((selector & 3) != 0 || guest_gdt_descriptor(selector, &code) != GuestDescriptor::kRead) return 0;
  if (!code.present || !code.is_code() || code.dpl != 0 || code.base != 0 || !code.big) return 0;
  CachedBlock* block = nullptr;
  if (!(block = lookup_or_translate(offset, selector | kGuestKernelRing))) return 0;
  if (reg(kRegCs) != (selector | kGuestKernelRing)) write_register(uc_, kRegCs, selector | kGuestKernelRing);
  if (release) set_reg(kRegEsp, esp + release);
  bt_.far_transfers++;
  vcpu_.trace().record_vmm_call(kTraceCallEmulate, insn.linear);
  drop_stale_translations();
  return block->tc_start;
}

bool BtCore::kernel_return_ready(uint32_t eip, uint32_t selector) { return lookup_or_translate(eip, selector) != nullptr; }

bool BtCore::guest_eip(uint32_t eip, uint32_t* guest) const {
  if (!cache_->contains(eip)) return TrapCore::guest_eip(eip, guest);
  bool precise = false;
  return cache_->guest_point(eip, guest, &precise) && precise;
}

bool BtCore::to_guest_eip(uint32_t tc) {
  uint32_t guest = 0;
  bool precise = false;
  if (!cache_->guest_point(tc, &guest, &precise) || !precise) {
    CachedBlock* block = cache_->block_at(tc);
    vcpu_.exit_record()[kFieldAddress] = block ? block->guest_start : 0;
    return false;
  }
  set_reg(kRegEip, guest);
  return true;
}

void BtCore::gdt_reloaded() {
  gdt_written_ = false;
  cache_->set_gdt_stale(false);
}

void BtCore::descriptors_written() {
  gdt_written_ = true;
  cache_->set_gdt_stale(true);
}

void BtCore::refresh_gdt_if_written() {
  if (!gdt_written_) return;
  gdt_written_ = false;
  cache_->set_gdt_stale(false);
  platform_->reload_guest_gdt(vcpu_.injector());
}

ExitKind BtCore::handle_callout(const Callout& callout) {
  refresh_gdt_if_written();
  switch (callout.kind) {
    case CalloutKind::kGdtRefresh:
      // (Copied above.) On with the segment load, after the check's POPFD.
      bt_.gdt_refreshes++;
      set_reg(kRegEip, callout.site);
      return kResumeGuest;
    case CalloutKind::kEmulate: {
      bt_.emulate_calls++;
      if (!vcpu_.stop_pending() && emulate_iret(callout.guest_eip)) {
        bt_.iret_in_core++;
        vcpu_.trace().record_vmm_call(kTraceCallIret, callout.guest_eip);
        continue_translated(reg(kRegEip));
        return kResumeGuest;
      }
      uint32_t length = vcpu_.stop_pending() ? 0 : emulate_verify(callout.guest_eip);
      if (length) {
        set_reg(kRegEip, callout.guest_eip + length);
        bt_.verify_in_core++;
        vcpu_.trace().record_vmm_call(kTraceCallEmulate, callout.guest_eip);
        continue_translated(reg(kRegEip));
        return kResumeGuest;
      }
      vcpu_.trace().record_vmm_call(kTraceCallEmulate, callout.guest_eip);
      // TypeScript emulates the instruction at its guest address, as it does a trapped one.
      set_reg(kRegEip, callout.guest_eip);
      uint32_t* record = vcpu_.exit_record();
      record[kFieldVector] = kGp;
      record[kFieldErrorCode] = 0;
      return kExitException;
    }
    case CalloutKind::kDirectExit: {
      bt_.exit_calls++;
      vcpu_.trace().record_vmm_call(kTraceCallExit, callout.guest_eip);
      uint64_t flushes = cache_->counters().flushes;
      CachedBlock* target = lookup_or_translate(callout.guest_eip);
      if (!target) {
        run_in_place(callout.guest_eip);
        return kResumeGuest;
      }
      // The jump is chained unless the cache was flushed to make room (then it is gone).
      CachedBlock* from = callout.site && cache_->counters().flushes == flushes ? cache_->block_at(callout.site) : nullptr;
      if (from && from->live) cache_->chain(callout.site, *target);
      drop_stale_translations();
      set_reg(kRegEip, target->tc_start);
      return kResumeGuest;
    }
    case CalloutKind::kFastCall:
      break;  // (a CPUID, never a UD2: on_cpuid carries it out)
    case CalloutKind::kFarTransfer:
      bt_.far_transfers_in_place++;
      need_block_hook();
      set_reg(kRegEip, callout.site);
      return kResumeGuest;
    case CalloutKind::kIndirectMiss: {
      // The lookup's state comes off the stack: eax = target, [esp] the guest's ecx, [esp+4] its
      // eax (translation-cache.h).
      bt_.miss_calls++;
      SegmentDescriptor stack{};
      if (!vcpu_.injector().segment_descriptor(reg(kRegSs), &stack)) stack.base = 0;
      uint32_t esp = reg(kRegEsp);
      uint32_t saved[2] = {};
      if (!vcpu_.injector().read_guest_linear(stack.base + esp, saved, sizeof saved)) {
        vcpu_.exit_record()[kFieldVector] = kPf;
        vcpu_.exit_record()[kFieldAddress] = 0;
        return kExitEngineError;
      }
      uint32_t target_eip = reg(kRegEax);
      vcpu_.trace().record_vmm_call(kTraceCallLookupMiss, target_eip);
      set_reg(kRegEcx, saved[0]);
      set_reg(kRegEax, saved[1]);
      set_reg(kRegEsp, esp + 8);
      CachedBlock* target = lookup_or_translate(target_eip);
      if (!target) {
        run_in_place(target_eip);
        return kResumeGuest;
      }
      cache_->fill_lookup(target_eip, *target);
      drop_stale_translations();
      set_reg(kRegEip, target->tc_start);
      return kResumeGuest;
    }
  }
  return kExitException;
}

uint32_t BtCore::emulate_verify(uint32_t guest_eip) {
  TrappedInstruction insn;
  if (!fetch_instruction(guest_eip, &insn)) return 0;
  const uint8_t* bytes = insn.bytes;
  uint32_t segment = segment_override(bytes[0]);
  uint32_t at = segment == kNoSegmentOverride ? 0 : 1;
  if (insn.available < at + 3 || bytes[at] != 0x0F || bytes[at + 1] != 0x00) return 0;
  uint32_t which = (bytes[at + 2] >> 3) & 7;
  if (which != 4 && which != 5) return 0;
  bool write = which == 5;
  // The selector: a register's low 16 bits, or 16 bits of memory (SDM Vol. 2 VERR/VERW).
  uint32_t selector = 0;
  uint32_t length = 0;
  if ((bytes[at + 2] >> 6) == 3) {
    selector = reg(kRegEax + (bytes[at + 2] & 7)) & 0xFFFF;
    length = at + 3;
  } else {
    MemoryOperand operand{};
    uint32_t linear = 0;
    uint16_t value = 0;
    if (!memory_operand_address(insn, at + 2, segment, &operand, &linear)) return 0;
    if (!vcpu_.injector().read_guest_linear(linear, &value, sizeof value)) return 0;
    selector = value;
    length = at + 2 + operand.length;
  }
  // ZF: a code or data segment of the guest's GDT that CPL 0 and the selector's RPL may read
  // (VERR: data, or readable code) or write (VERW: writable data); a conforming code segment
  // passes the privilege check. Null and LDT selectors fail.
  bool ok = false;
  SegmentDescriptor d{};
  GuestDescriptor found = guest_gdt_descriptor(selector, &d);
  if (found == GuestDescriptor::kUnreadable) return 0;  // (the CPU would fault: TypeScript's)
  if (found == GuestDescriptor::kRead) {
    bool conforming = d.is_code() && (d.type & kSegmentConforming);
    bool privileged = conforming || d.dpl >= (selector & 3);
    bool kind = write ? d.is_data() && (d.type & kSegmentWritable) : d.is_data() || (d.is_code() && (d.type & kSegmentReadable));
    ok = !d.system && privileged && kind;
  }
  uint32_t flags = reg(kRegEflags);
  set_reg(kRegEflags, ok ? flags | kFlagZf : flags & ~kFlagZf);
  return length;
}

// The guest's own descriptor for a GDT selector (not the real copy, whose ring-0 descriptors say
// ring 1): none for a null or LDT selector or one past the limit.
BtCore::GuestDescriptor BtCore::guest_gdt_descriptor(uint32_t selector, SegmentDescriptor* out) {
  uint32_t index = selector & ~7u;
  if (index == 0 || (selector & 4) || index + 7 > platform_->guest_gdt_limit()) return GuestDescriptor::kNone;
  uint32_t raw[2] = {};
  if (!vcpu_.injector().read_guest_linear(platform_->guest_gdt_base() + index, raw, sizeof raw)) return GuestDescriptor::kUnreadable;
  *out = decode_descriptor(raw[0], raw[1]);
  return GuestDescriptor::kRead;
}

void BtCore::drop_stale_translations() {
  for (const auto& [start, end] : cache_->take_stale_ranges()) uc_ctl_remove_cache(uc_, start, end);
}

bool BtCore::stop_allowed_at(uint64_t linear) {
  if (!cache_->contains(static_cast<uint32_t>(linear))) return true;
  uint32_t guest = 0;
  bool precise = false;
  return cache_->guest_point(static_cast<uint32_t>(linear), &guest, &precise) && precise;
}

void BtCore::before_exit() {
  uint32_t eip = reg(kRegEip);
  if (cache_->contains(eip)) to_guest_eip(eip);
}

bool BtCore::guest_instruction(uint32_t linear, uint32_t* guest) {
  if (!cache_->contains(linear)) {
    *guest = linear;
    return true;
  }
  const Boundary* point = cache_->boundary_at(linear);
  if (!point || !point->instruction) return false;
  *guest = point->guest;
  return true;
}

void BtCore::guest_code_changed() {
  cache_->flush();
  global_pages_.clear();
  local_pages_.clear();
  if (active() && at_guest_kernel_ring()) drop_stale_translations();
}

void BtCore::guest_frames_written(uint32_t first_frame, uint32_t last_frame) {
  // Between runs: no translated block is running, so each is simply invalidated.
  for (uint32_t frame = first_frame; frame <= last_frame; frame++) {
    for (CachedBlock* block : cache_->blocks_from_frame(frame)) cache_->invalidate(*block);
  }
}

void BtCore::code_frame_written(uint32_t frame, uint32_t linear) {
  // The cache address of the writing instruction, when a fault in translated code is being handled.
  uint32_t writer = handling_fault_ ? reg(kRegEip) : kNone;
  if (!cache_->contains(writer)) writer = kNone;
  for (CachedBlock* block : cache_->blocks_from_frame(frame)) {
    if (writer >= block->tc_start && writer < block->tc_end) faulting_block_written_ = true;
    cache_->invalidate(*block);
  }
  bt_.code_writes++;
}

void BtCore::record_mapping(uint32_t page, uint32_t frame, bool global) {
  (global ? local_pages_ : global_pages_).erase(page);
  (global ? global_pages_ : local_pages_)[page] = frame;
}

void BtCore::check_mapping(uint32_t page, uint32_t frame) {
  const PagingState& paging = platform_->guest_paging();
  Translation walk = walk_guest_page_tables(ram_, paging, page, 0);
  if (walk.ok && (walk.physical >> 12) == frame) {
    // (The same frame, perhaps through a mapping that is now global or no longer.)
    bool global = maps_globally(walk, paging);
    if (global != (global_pages_.count(page) != 0)) record_mapping(page, frame, global);
    return;
  }
  remapped(page);
}

void BtCore::remapped(uint32_t page) {
  for (CachedBlock* block : cache_->blocks_on_page(page)) cache_->invalidate(*block);
  global_pages_.erase(page);
  local_pages_.erase(page);
  bt_.remaps++;
}

void BtCore::mappings_changed(uint32_t linear, Scope scope) {
  if (scope == Scope::kPage) {
    uint32_t page = linear & ~(kPageSize - 1);
    auto global = global_pages_.find(page);
    auto local = local_pages_.find(page);
    if (global != global_pages_.end()) check_mapping(page, global->second);
    else if (local != local_pages_.end()) check_mapping(page, local->second);
    return;
  }
  // A CR3 load keeps global mappings (SDM Vol. 3 §4.10.4.1); a mode change keeps none. Most pages
  // still map their frame. (A copy: checking edits the maps.)
  std::vector<std::pair<uint32_t, uint32_t>> mappings(local_pages_.begin(), local_pages_.end());
  if (scope == Scope::kAll) mappings.insert(mappings.end(), global_pages_.begin(), global_pages_.end());
  for (const auto& [page, frame] : mappings) check_mapping(page, frame);
}

std::vector<EngineCounter> BtCore::counters() const {
  std::vector<EngineCounter> out = TrapCore::counters();
  const CacheCounters& c = cache_->counters();
  out.push_back({"btBlocksTranslated", c.blocks_translated});
  out.push_back({"btCacheBytes", cache_->bytes_in_use()});
  out.push_back({"btFlushes", c.flushes});
  out.push_back({"btChainLinks", c.chain_links});
  out.push_back({"btChainUnlinks", c.chain_unlinks});
  out.push_back({"btLookupFills", c.lookup_fills});
  out.push_back({"btInvalidatedBlocks", c.invalidated_blocks});
  out.push_back({"btRedirects", bt_.redirects});
  out.push_back({"btRanInPlace", bt_.ran_in_place});
  out.push_back({"btFaultedInPlace", bt_.faulted_in_place});
  out.push_back({"btExitCalls", bt_.exit_calls});
  out.push_back({"btMissCalls", bt_.miss_calls});
  out.push_back({"btEmulateCalls", bt_.emulate_calls});
  out.push_back({"btIretInCore", bt_.iret_in_core});
  out.push_back({"btVerifyInCore", bt_.verify_in_core});
  out.push_back({"btFastCalls", bt_.fast_calls});
  out.push_back({"btFarTransfers", bt_.far_transfers});
  out.push_back({"btFarTransfersInPlace", bt_.far_transfers_in_place});
  out.push_back({"btHookInstalls", bt_.hook_installs});
  out.push_back({"btEscapes", bt_.escapes});
  out.push_back({"btSlowCalls", bt_.slow_calls});
  out.push_back({"btCodeWrites", bt_.code_writes});
  out.push_back({"btRemaps", bt_.remaps});
  out.push_back({"btSingleSteps", bt_.single_steps});
  out.push_back({"btGdtRefreshes", bt_.gdt_refreshes});
  static const char* const kRewriteCounters[] = {"btIdent", "btTrapping", "btJump", "btBranch", "btCall", "btCallIndirect",
                                                 "btJumpIndirect", "btReturn", "btPushf", "btSelector", "btSegmentLoad",
                                                 "btVmmCall"};
  static_assert(sizeof kRewriteCounters / sizeof kRewriteCounters[0] == static_cast<size_t>(Rewrite::kCount), "one name per rewrite");
  for (int kind = 0; kind < static_cast<int>(Rewrite::kCount); kind++) out.push_back({kRewriteCounters[kind], bt_.rewrites[kind]});
  return out;
}

}  // namespace vmm
