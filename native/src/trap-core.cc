#include "trap-core.h"

#include <algorithm>

#include "event-injection.h"
#include "modrm.h"
#include "registers.h"
#include "trace-recorder.h"
#include "x86.h"

namespace vmm {

std::unique_ptr<TrapCore> TrapCore::create(VcpuServices& vcpu, uc_engine* uc, LiveCpuState* live, GuestRam ram,
                                           uint64_t ram_bytes, uint64_t region_physical, uint32_t pool_bytes, uc_err* err) {
  std::unique_ptr<TrapPlatform> platform =
      TrapPlatform::create(uc, live, ram, ram_bytes, region_physical, kTrapKernelFlags, pool_bytes, err);
  if (!platform) return nullptr;
  return std::unique_ptr<TrapCore>(new TrapCore(vcpu, uc, std::move(platform)));
}

void TrapCore::configure(const PagingState& guest) {
  if (!active_) platform_->reveal_region();
  platform_->set_guest_paging(guest);
  vcpu_.injector().set_trap_view(platform_->view());
  bool first = !active_;
  active_ = true;
  if (first) {
    // (The watch for a return to protected mode, if on, is over: the guest is deprivileged.)
    want_block_events(false);
    configured();
  }
}

bool TrapCore::leave() {
  if (!active_) return true;
  LiveCpuState* live = platform_->live();
  if (!live) return false;
  live->set_cpl(0);
  active_ = false;
  vcpu_.injector().set_trap_view(nullptr);
  platform_->mmu().invalidate_all();
  platform_->conceal_region();
  gdt_refresh_countdown_ = 0;
  want_user_blocks(false);
  want_block_events(watch_protected_mode_);
  if (watch_protected_mode_) vcpu_.need_block_events();
  return true;
}

void TrapCore::watch_protected_mode(bool on) {
  // (Only with the live CPU state: a register read per block would slow real-mode code down.)
  watch_protected_mode_ = on && platform_->live() != nullptr;
  if (!active_) {
    want_block_events(watch_protected_mode_);
    if (watch_protected_mode_) vcpu_.need_block_events();
  }
}

bool TrapCore::stop_at_protected_mode(uint64_t address) {
  LiveCpuState* live = platform_->live();
  if (!watch_protected_mode_ || !live || !live->protected_mode() || !live->code_segment_is_32()) return false;
  if (!protected_mode_ready()) return false;
  vcpu_.end_run_at_block_start(address, kExitProtectedMode);
  return true;
}

bool TrapCore::protected_mode_ready() {
  if (!(register32(kRegCr0) & kCr0Pe) || !code_segment_32()) return false;
  // Descriptors are read from the GDT the CPU has (the guest's, while it runs as under direct).
  uc_x86_mmr gdtr{};
  uc_reg_read(uc_, UC_X86_REG_GDTR, &gdtr);
  auto in_gdt = [&gdtr](uint32_t selector) { return !(selector & 4) && (selector & ~7u) + 7 <= gdtr.limit; };
  uint32_t ss = register32(kRegSs) & 0xFFFF;
  SegmentDescriptor stack{};
  if ((ss & ~3u) == 0 || !in_gdt(ss) || !vcpu_.injector().segment_descriptor(ss, &stack)) return false;
  if (!stack.present || !stack.is_data() || !(stack.type & kSegmentWritable)) return false;
  for (uint32_t id : {kRegDs, kRegEs, kRegFs, kRegGs}) {
    uint32_t selector = register32(id) & 0xFFFF;
    if ((selector & ~3u) != 0 && !in_gdt(selector)) return false;
  }
  return true;
}

ExitKind TrapCore::on_exception(uint32_t vector, bool software_interrupt) {
  // A hypercall (hypercall.h) from the guest kernel, or refused to its user mode: at real ring 1
  // the kernel is the guest's ring 0; before trapConfigure the guest runs at its own privilege.
  if (vector == kUd && !software_interrupt && vcpu_.take_hypercall(active_ ? !at_guest_kernel_ring() : vcpu_.current_cpl() != 0)) {
    return kResumeGuest;
  }
  // Before trapConfigure the guest still runs as it was loaded: TypeScript sees everything.
  if (!active_) return kExitException;
  // (What the guest runs next, or TypeScript emulates, may load a segment.)
  refresh_unwatched_gdt();
  if (paravirtual_) return on_paravirtual_exception(vector, software_interrupt);
  if (vector == kPf && !software_interrupt) {
    ExitKind outcome = handle_shadow_fault();
    return outcome == kExitException ? reflect_to_guest(kPf, false) : outcome;
  }
  // (Nothing the guest can see runs once a stop is pending: the device asked first.)
  if (vector == kGp && !software_interrupt && !vcpu_.stop_pending() && at_guest_kernel_ring()) {
    TrappedInstruction insn;
    uint32_t length = 0;
    if (fetch_trapped_instruction(&insn)) {
      if (interrupt_window_before(insn)) return kExitInterruptWindow;
      if ((length = handle_interrupt_flag_trap(insn)) || (length = handle_invlpg(insn)) ||
          (length = handle_control_register_move(insn))) {
        uint64_t eip = 0;
        read_register(uc_, kRegEip, &eip);
        write_register(uc_, kRegEip, eip + length);
        return kResumeGuest;
      }
    }
  }
  if (vector == kUd && !software_interrupt && smap_offered_ && at_guest_kernel_ring()) {
    TrappedInstruction insn;
    if (fetch_trapped_instruction(&insn) && is_access_flag_instruction(insn)) {
      // With a stop pending the run stops here, before the instruction, which raises #UD again
      // when the guest goes on (the CPU's #UD is never the guest's).
      if (!vcpu_.stop_pending()) {
        uint64_t eip = 0;
        read_register(uc_, kRegEip, &eip);
        write_register(uc_, kRegEip, eip + carry_out_access_flag_instruction(insn));
      }
      return kResumeGuest;
    }
  }
  // IRET at real ring 1 is a task return (the VMM keeps NT set there), which raises #TS.
  if (vector == kTs && !software_interrupt && !vcpu_.stop_pending() && at_guest_kernel_ring() &&
      emulate_iret(vcpu_.injector().current_linear_eip())) {
    iret_in_core_++;
    return kResumeGuest;
  }
  // A #GP or #TS may be a privileged instruction of the guest kernel to emulate: TypeScript's.
  if (!software_interrupt && (vector == kGp || vector == kTs)) return kExitException;
  return reflect_to_guest(vector, software_interrupt);
}

// A paravirtual kernel: hidden faults are filled and its own exceptions delivered through the
// gates of its virtual trap table, as under trap; a hypercall, and every #GP, #TS and #UD of the
// kernel (a privileged instruction the engine names, or the kernel's own fault), go to TypeScript.
ExitKind TrapCore::on_paravirtual_exception(uint32_t vector, bool software_interrupt) {
  if (software_interrupt && vector == hypercall_vector_) {
    if (!at_guest_kernel_ring() || !carry_out_hypercall()) return kExitException;
    // An unmask the kernel made before this call (the callback's, before its iret) is noticed
    // here: the run ends, and the engine enters the callback before the next one.
    return upcall_deliverable() ? kExitInterruptWindow : kResumeGuest;
  }
  if (vector == kPf && !software_interrupt) {
    ExitKind outcome = handle_shadow_fault();
    return outcome == kExitException ? reflect_to_guest(kPf, false) : outcome;
  }
  if (!software_interrupt && (vector == kGp || vector == kTs || vector == kUd) && at_guest_kernel_ring()) return kExitException;
  return reflect_to_guest(vector, software_interrupt);
}

void TrapCore::set_paravirtual(uint32_t hypercall_vector, uint32_t shared_info, uint32_t hypercall_page) {
  paravirtual_ = true;
  hypercall_vector_ = hypercall_vector;
  shared_info_ = shared_info;
  hypercall_page_ = hypercall_page;
  if (!guard_) guard_ = std::make_unique<PageTableGuard>(platform_->ram());
}

int32_t TrapCore::update_page_table(uint32_t pointer, uint32_t value) {
  if (!guard_) return kErrnoInval;
  uint32_t frame = 0;
  int32_t refused = guard_->update(pointer, value, &frame);
  if (!refused) platform_->mmu().guest_entry_updated(frame, (pointer % kPageSize) / 4);
  return refused;
}

bool TrapCore::carry_out_hypercall() {
  uint32_t number = register32(kRegEax);
  if (number == kHypercallIret) {
    uint32_t resume = 0;
    if (!paravirtual_iret(&resume)) return false;
    write_register(uc_, kRegEip, resume);
    pv_iret_in_core_++;
    return true;
  }
  int32_t result = 0;
  if (!page_table_call(number, &result)) return false;
  write_register(uc_, kRegEax, static_cast<uint32_t>(-result));
  return true;
}

// A fast call: a CPUID from the hypercall page at the kernel's ring, in the middle of a translated
// block. Registers may be written here but not EIP (the RET after the CPUID goes on); CR3 may
// change, as the bt engine's MOV to CR3 does from its fast calls. No event is delivered here: the
// kernel's next INT 0x82 hypercall, or the end of the time slice, sees an unmasked one.
bool TrapCore::on_cpuid() {
  if (!paravirtual_ || !active_) return false;
  uint32_t leaf = register32(kRegEax);
  if ((leaf & ~0xFFu) != kFastHypercallLeaf || register32(kRegEip) - hypercall_page_ >= kPageSize || !at_guest_kernel_ring()) {
    return false;
  }
  if ((leaf & 0xFF) == kHypercallIret) {
    fast_iret();
    return true;
  }
  int32_t result = 0;
  if (!page_table_call(leaf & 0xFF, &result)) return false;
  write_register(uc_, kRegEax, static_cast<uint32_t>(-result));
  pv_fast_calls_++;
  return true;
}

// Only a return to the kernel's own ring, with no event to deliver, is made here; the rest goes on
// to the stub's INT 0x82 (whose path ends the run for an event, or enters user mode through the
// world switch), with nothing changed.
void TrapCore::fast_iret() {
  uint32_t resume = hypercall_page_ + kHypercallIret * kHypercallStubBytes + kIretStubSlowPath;
  SegmentDescriptor stack{};
  uint32_t cs = 0;
  if (!upcall_deliverable() && vcpu_.injector().segment_descriptor(register32(kRegSs), &stack) &&
      vcpu_.injector().read_guest_linear(stack.base + register32(kRegEsp) + 8, &cs, 4, true) && (cs & 3) == 0) {
    uint32_t target = 0;
    if (paravirtual_iret(&target)) {
      resume = target;
      pv_iret_in_core_++;
      pv_fast_calls_++;
    }
  }
  std::memcpy(platform_->region_bytes(kRegionParavirtResume), &resume, 4);
}

bool TrapCore::page_table_call(uint32_t number, int32_t* result) {
  uint32_t a = register32(kRegEbx), b = register32(kRegEcx);
  switch (number) {
    case kHypercallMmuUpdate:
      *result = mmu_update(a, b);
      pv_mmu_update_in_core_++;
      break;
    case kHypercallTlbFlush:
      *result = tlb_flush(a, b);
      pv_tlb_flush_in_core_++;
      break;
    case kHypercallUpdateVaMapping:
      *result = update_va_mapping(a, b, register32(kRegEdx));
      pv_update_va_in_core_++;
      break;
    case kHypercallNewBaseptr:
      *result = new_baseptr(a);
      pv_new_baseptr_in_core_++;
      break;
    default:
      return false;
  }
  if (*result) pv_refused_in_core_++;
  return true;
}

int32_t TrapCore::mmu_update(uint32_t requests, uint32_t count) {
  if (count > kMaxMmuUpdates) return kErrnoInval;
  uint32_t batch[2 * 64];
  for (uint32_t done = 0; done < count;) {
    uint32_t n = std::min<uint32_t>(count - done, 64);
    // (Through the kernel's own tables only: the hole's VMM pages are never read for a guest.)
    if (!vcpu_.injector().read_guest_linear(requests + done * kMmuUpdateRequestBytes, batch, n * kMmuUpdateRequestBytes, true)) {
      return kErrnoFault;
    }
    for (uint32_t i = 0; i < n; i++) {
      if (int32_t refused = update_page_table(batch[2 * i], batch[2 * i + 1])) return refused;
    }
    done += n;
  }
  return 0;
}

int32_t TrapCore::tlb_flush(uint32_t kind, uint32_t linear) {
  if (kind == kTlbFlushPage) {
    platform_->mmu().invalidate_page(linear);
    return 0;
  }
  if (kind != kTlbFlushAll) return kErrnoInval;
  configure(platform_->guest_paging());
  platform_->reload_guest_gdt(vcpu_.injector());
  return 0;
}

// Xen's update_va_mapping: the entry that maps `linear` in the current tables, updated as
// mmu_update would, with its page's translation gone; a new mapping whose entries have A set is
// filled into the shadow at once (its first access would fault only to fill it).
int32_t TrapCore::update_va_mapping(uint32_t linear, uint32_t value, uint32_t flags) {
  const PagingState& guest = platform_->guest_paging();
  if (!(guest.cr0 & kCr0Pg) || linear >= kHoleLinear) return kErrnoInval;
  GuestRam& ram = platform_->ram();
  uint32_t pde_at = (guest.cr3 & ~(kPageSize - 1)) + (linear >> 22) * 4;
  if (!ram.contains(pde_at, 4)) return kErrnoInval;
  uint32_t pde = ram.read32(pde_at);
  if (!(pde & kPtePresent) || (pde & kPteLargePage)) return kErrnoInval;
  if (int32_t refused = update_page_table((pde & ~(kPageSize - 1)) + ((linear >> 12) & 0x3FF) * 4, value)) return refused;
  if (flags == kUpdateVaFlushAll) return tlb_flush(kTlbFlushAll, 0);
  if ((value & (kPtePresent | kPteAccessed)) == (kPtePresent | kPteAccessed) && (pde & kPteAccessed)) {
    ShadowFault filled = platform_->mmu().prefill(linear);
    if (filled.new_root) platform_->load_shadow_root(filled.new_root);
  }
  return 0;
}

int32_t TrapCore::new_baseptr(uint32_t directory) {
  if (int32_t refused = guard_->pin_directory(directory)) return refused;
  PagingState guest = platform_->guest_paging();
  guest.cr3 = directory;
  // The first one turns paging on, with write protection, as Xen runs its guests: the kernel's
  // own tables are read-only to it.
  guest.cr0 |= kCr0Pg | kCr0Wp;
  configure(guest);
  // The kernel's GDT is read through its linear addresses, which the new tables may map anew.
  platform_->reload_guest_gdt(vcpu_.injector());
  return 0;
}

// The iret hypercall (Xen's HYPERVISOR_iret): its stub pushed EAX over the frame of an event or
// exception; EAX comes back from there, then the frame is popped as an IRET would, with IF set
// (events stand in for it).
bool TrapCore::paravirtual_iret(uint32_t* resume_out) {
  EventInjector& injector = vcpu_.injector();
  SegmentDescriptor stack{};
  if (!injector.segment_descriptor(register32(kRegSs), &stack)) return false;
  uint32_t esp = register32(kRegEsp), saved = 0;
  if (!injector.read_guest_linear(stack.base + esp, &saved, 4, true)) return false;
  write_register(uc_, kRegEsp, esp + 4);
  uint32_t resume = 0;
  if (!return_from_frame(&resume, kFlagIf, true)) {
    write_register(uc_, kRegEsp, esp);
    return false;
  }
  write_register(uc_, kRegEax, saved);
  *resume_out = resume;
  return true;
}

bool TrapCore::upcall_deliverable() {
  GuestRam& ram = platform_->ram();
  if (!ram.contains(shared_info_, kSharedInfoFaultAddress)) return false;
  const uint8_t* page = ram.at(shared_info_);
  return page[kSharedInfoUpcallPending] != 0 && page[kSharedInfoUpcallMask] == 0;
}

void TrapCore::set_paravirtual_kernel_stack(uint32_t ss, uint32_t esp) {
  uint8_t* tss = platform_->region_bytes(kRegionParavirtTss);
  // ESP0 and SS0 of a 32-bit TSS (SDM Vol. 3 Figure 8-2); the delivery takes slot 0 for the
  // deprivileged kernel.
  std::memcpy(tss + 4, &esp, 4);
  std::memcpy(tss + 8, &ss, 4);
  set_guest_tss(kHoleLinear + kRegionParavirtTss, kParavirtTssBytes - 1);
}

// Any other exception, INT n and a true page fault are the guest's own: delivered to its handler
// here, as TypeScript would (through the guest's IDT, as the guest's ring 0 sees it), without
// the round trip, whenever the run loop allows it.
ExitKind TrapCore::reflect_to_guest(uint32_t vector, bool software_interrupt) {
  uint32_t cr2 = vcpu_.exit_record()[kFieldCr2];
  if (!vcpu_.reflect_exception(vector, software_interrupt)) return kExitException;
  // The guest's CR2 (SDM Vol. 3 §4.7), which its handler reads with a trapped MOV.
  if (vector == kPf && !software_interrupt) {
    guest_cr2_ = cr2;
    if (paravirtual_ && platform_->ram().contains(uint64_t{shared_info_} + kSharedInfoFaultAddress, 4)) {
      platform_->ram().write32(uint64_t{shared_info_} + kSharedInfoFaultAddress, cr2);
    }
  }
  reflected_in_core_++;
  return kResumeGuest;
}

// A real #PF under the shadow MMU: filled here when the guest's own tables allow the access (a
// hidden fault, never seen by the guest); otherwise the guest's #PF, with the error code its
// tables give, or the VMM's hole.
ExitKind TrapCore::handle_shadow_fault() {
  uint32_t* record = vcpu_.exit_record();
  // (AC matters only to a supervisor protection fault: EFLAGS is read for those alone.)
  uint32_t error_code = record[kFieldErrorCode];
  bool supervisor_protection = (error_code & (kAccessProtection | kAccessUser)) == kAccessProtection;
  ShadowFault fault = platform_->mmu().handle_fault(record[kFieldCr2], error_code, !supervisor_protection || user_data_for_supervisor());
  switch (fault.outcome) {
    case FaultOutcome::kHidden:
      if (fault.new_root) platform_->load_shadow_root(fault.new_root);
      // The guest is writing its GDT: copy it once the writing instruction has run (the next
      // block boundary after the block that starts with it).
      if (platform_->mmu().take_descriptors_written()) descriptors_written();
      vcpu_.trace().record_hidden_fault(record[kFieldCr2], record[kFieldErrorCode]);
      return kResumeGuest;
    case FaultOutcome::kGuestFault:
      record[kFieldErrorCode] = fault.guest_error_code;
      return kExitException;
    case FaultOutcome::kHole:
    case FaultOutcome::kPoolExhausted:
      return kExitVmmHole;
  }
  return kExitException;
}

void TrapCore::descriptors_written() {
  gdt_refresh_countdown_ = 2;
  want_user_blocks(true);
  want_block_events(true);
}

void TrapCore::before_resume() {
  if (active_) refresh_unwatched_gdt();
}

bool TrapCore::on_block(uint64_t address, uint32_t size) {
  if (!active_) return stop_at_protected_mode(address);
  refresh_gdt_when_due();
  return false;
}

void TrapCore::refresh_gdt_when_due() {
  if (gdt_refresh_countdown_ <= 0 || --gdt_refresh_countdown_ > 0) return;
  platform_->reload_guest_gdt(vcpu_.injector());
  gdt_reloaded();
}

// A page of the guest's GDT that also holds data the guest writes (a stack, variables) is left
// writable (ShadowMmu::descriptors_unwatched): a fault at every store there would cost more than
// the copy (the Linux decompressor's GDT shares its page with its stack and heap: two million
// stores). The guest's descriptors are compared with the copy instead whenever the VMM sees the
// guest: at every exception (a trapped instruction may load a segment: an emulated MOV SS or IRET)
// and before every run. syslinux's shuffler edits its 16-bit segments' bases in place (to its
// real-mode entry point, in a page with its stack) and reads CR0 (a trap) before it loads them.
// A descriptor written and loaded with no exit in between is still seen as it was. (Comparing at
// every block start as well made the Linux boot 25% slower: its decompressor runs 300 million
// blocks with such a GDT, which never changes.)
void TrapCore::refresh_unwatched_gdt() {
  if (!unwatched_gdt_changed()) return;
  platform_->reload_guest_gdt(vcpu_.injector());
  gdt_unwatched_refreshes_++;
  gdt_reloaded();
}

bool TrapCore::unwatched_gdt_changed() const {
  return platform_->mmu().descriptors_unwatched() && platform_->guest_gdt_changed();
}

void TrapCore::gdt_reloaded() {
  gdt_refresh_countdown_ = 0;
  want_user_blocks(false);
  if (!keeps_block_events()) want_block_events(false);
}

bool TrapCore::code_segment_32() {
  if (LiveCpuState* live = platform_->live()) return live->code_segment_is_32();
  SegmentDescriptor code{};
  return vcpu_.injector().segment_descriptor(register32(kRegCs), &code) && code.big;
}

bool TrapCore::at_guest_kernel_ring() { return vcpu_.current_cpl() == kGuestKernelRing; }

// SMAP (SDM Vol. 3 §4.6.1): supervisor data accesses to user pages are allowed with CR4.SMAP
// clear, or at CPL < 3 with EFLAGS.AC set (the real AC is the guest's: STAC, CLAC and POPF set
// it); an implicit supervisor access from CPL 3 (a descriptor table read) is always checked.
bool TrapCore::user_data_for_supervisor() {
  if (!(platform_->guest_paging().cr4 & kCr4Smap)) return true;
  uint64_t eflags = 0;
  read_register(uc_, kRegEflags, &eflags);
  return (eflags & kFlagAc) && at_guest_kernel_ring();
}

// CLAC and STAC (0F 01 CA, 0F 01 CB; SDM Vol. 2A) are #UD at CPL > 0, so the deprivileged kernel's
// raise #UD: carried out here on the real AC, where the CPU the guest is told about has SMAP.
bool TrapCore::is_access_flag_instruction(const TrappedInstruction& insn) const {
  return insn.available >= 3 && insn.bytes[0] == 0x0F && insn.bytes[1] == 0x01 &&
         (insn.bytes[2] == kModrmClac || insn.bytes[2] == kModrmStac);
}

uint32_t TrapCore::carry_out_access_flag_instruction(const TrappedInstruction& insn) {
  uint64_t eflags = 0;
  read_register(uc_, kRegEflags, &eflags);
  eflags = insn.bytes[2] == kModrmStac ? (eflags | kFlagAc) : (eflags & ~uint64_t{kFlagAc});
  write_register(uc_, kRegEflags, eflags);
  access_flag_in_core_++;
  return 3;
}

// An instruction the core carries out, read once for its handlers. It may end just before an
// unmapped page: no further than the page's end is read (a longer instruction there is left to
// TypeScript).
bool TrapCore::fetch_instruction(uint32_t linear, TrappedInstruction* insn) {
  insn->linear = linear;
  insn->available = std::min<uint32_t>(kMaxInstructionLength, kPageSize - (linear & (kPageSize - 1)));
  return vcpu_.injector().read_guest_linear(linear, insn->bytes, insn->available);
}

bool TrapCore::memory_operand_address(const TrappedInstruction& insn, uint32_t modrm, uint32_t segment, MemoryOperand* operand,
                                      uint32_t* linear) {
  auto reg = [this](uint32_t id) {
    uint64_t value = 0;
    read_register(uc_, id, &value);
    return static_cast<uint32_t>(value);
  };
  if (insn.available <= modrm || !decode_memory_operand32(insn.bytes + modrm, insn.available - modrm, reg, operand)) return false;
  if (segment == kNoSegmentOverride) segment = operand->stack_segment ? kRegSs : kRegDs;
  SegmentDescriptor data{};
  if (!vcpu_.injector().segment_descriptor(reg(segment), &data)) return false;
  *linear = data.base + operand->offset;
  return true;
}

// A CLI of the guest kernel while an interrupt waits and the guest could take it (IF set, no
// shadow: the window an earlier STI opened): the CPU takes the interrupt at this boundary, before
// the CLI (SDM Vol. 3 §6.8.3), so the run ends here with an interrupt window and the CLI runs
// (traps again) after the handler returns.
bool TrapCore::interrupt_window_before(const TrappedInstruction& insn) {
  if (insn.bytes[0] != kOpcodeCli || !vcpu_.interrupt_pending()) return false;
  uint64_t eflags = 0;
  read_register(uc_, kRegEflags, &eflags);
  return (eflags & kFlagIf) && !vcpu_.in_interrupt_shadow();
}

// The trap engine's most frequent traps, CLI and STI from the guest kernel (real ring 1, where
// IOPL 0 makes them raise #GP), are carried out here: the real IF is the guest's. STI with an
// interrupt waiting goes to the VMM, which opens the interrupt window. Anything else (prefixes,
// other instructions) goes to the VMM.
uint32_t TrapCore::handle_interrupt_flag_trap(const TrappedInstruction& insn) {
  uint32_t linear = insn.linear;
  uint8_t opcode = insn.bytes[0];
  uint64_t eflags = 0;
  read_register(uc_, kRegEflags, &eflags);
  if (opcode == kOpcodeCli) {
    eflags &= ~uint64_t{kFlagIf};
    cli_in_core_++;
  } else if (opcode == kOpcodeSti && !vcpu_.interrupt_pending()) {
    // STI with IF clear holds interrupts for one more instruction (SDM Vol. 3 §6.8.3).
    if (!(eflags & kFlagIf)) vcpu_.hold_interrupt_shadow(linear + 1);
    eflags |= kFlagIf;
    sti_in_core_++;
  } else {
    return 0;
  }
  write_register(uc_, kRegEflags, eflags);
  return 1;
}

// INVLPG m (0F 01 /7; SDM Vol. 2, INVLPG) from the guest kernel: one page of the shadows is
// dropped, as the TypeScript engine would, without the round trip (Linux runs ~70,000 in a boot).
// Only the plain form: 32-bit code and addressing, no prefix but a segment override; the rest,
// rare, goes to TypeScript, which emulates every form.
uint32_t TrapCore::handle_invlpg(const TrappedInstruction& insn) {
  EventInjector& injector = vcpu_.injector();
  const uint8_t* bytes = insn.bytes;
  uint32_t segment = segment_override(bytes[0]);
  uint32_t at = segment == kNoSegmentOverride ? 0 : 1;
  if (insn.available < at + 3 || bytes[at] != 0x0F || bytes[at + 1] != 0x01 || ((bytes[at + 2] >> 3) & 7) != 7) return 0;
  uint64_t cs = 0;
  read_register(uc_, kRegCs, &cs);
  SegmentDescriptor code{};
  if (!injector.segment_descriptor(static_cast<uint32_t>(cs), &code) || !code.big) return 0;
  MemoryOperand operand{};
  uint32_t linear = 0;
  if (!memory_operand_address(insn, at + 2, segment, &operand, &linear)) return 0;
  platform_->mmu().invalidate_page(linear);
  invlpg_in_core_++;
  return at + 2 + operand.length;
}

// MOV r32, CR2/CR3/CR4 and MOV CR3, r32 (0F 20 /r, 0F 22 /r; SDM Vol. 2, MOV—Move to/from
// Control Registers) from the guest kernel: the guest's own values, kept in the core, and a CR3
// load switches the shadow root, as TypeScript would, without the round trip (Linux reads CR2 in
// every page fault, reads CR3 to flush its TLB and loads it at every address-space switch). The
// operand is always a register (the mod bits are ignored). CR0, whose guest value TypeScript
// keeps, and every other form go to TypeScript.
uint32_t TrapCore::handle_control_register_move(const TrappedInstruction& insn) {
  constexpr uint32_t kLength = 3;  // 0F 20/22 ModRM
  const uint8_t* bytes = insn.bytes;
  if (insn.available < kLength || bytes[0] != 0x0F || (bytes[1] != 0x20 && bytes[1] != 0x22)) return 0;
  uint32_t control = (bytes[2] >> 3) & 7;
  uint32_t general = kRegEax + (bytes[2] & 7);  // EAX, ECX, EDX, EBX, ESP, EBP, ESI, EDI: ModRM order
  PagingState guest = platform_->view()->guest_paging;
  if (bytes[1] == 0x20) {
    if (control != 2 && control != 3 && control != 4) return 0;
    write_register(uc_, general, control == 2 ? guest_cr2_ : control == 3 ? guest.cr3 : guest.cr4);
    cr_reads_in_core_++;
  } else {
    if (control != 3) return 0;
    uint64_t value = 0;
    read_register(uc_, general, &value);
    guest.cr3 = static_cast<uint32_t>(value);
    configure(guest);
    // The guest's GDT is read through its linear addresses, which the new tables may map anew.
    platform_->reload_guest_gdt(vcpu_.injector());
    cr3_writes_in_core_++;
  }
  return kLength;
}

// IRET (SDM Vol. 2, IRET: protected-mode return to the same or an outer level) of the guest
// kernel, as the TypeScript engines would do it: the 32-bit form only, no task return of the
// guest's own, no virtual-8086 mode. The guest may change IF and the other flags; the flags the VMM
// owns (KernelRingFlags) are its own again, set as the kernel ring wants them.
bool TrapCore::emulate_iret(uint32_t guest_eip) {
  uint32_t resume = 0;
  if (!emulate_iret(guest_eip, &resume)) return false;
  write_register(uc_, kRegEip, resume);
  return true;
}

bool TrapCore::emulate_iret(uint32_t guest_eip, uint32_t* resume) {
  EventInjector& injector = vcpu_.injector();
  uint8_t opcode = 0;
  // A task return, or the IRET that unblocks NMIs (a waiting one is then delivered): TypeScript's.
  if (guest_nested_task_ || nmis_blocked_) return false;
  if (!injector.read_guest_linear(guest_eip, &opcode, 1) || opcode != kOpcodeIret) return false;
  // A plain CF in a 16-bit code segment is the 16-bit IRET (IP, CS, FLAGS: SDM Vol. 2, IRET):
  // TypeScript's, which decodes with the segment's operand size.
  if (!code_segment_32()) return false;
  const KernelRingFlags& kernel = platform_->kernel_flags();
  uint32_t current = register32(kRegEflags);
  // NT is the guest's task return only where the VMM does not set it for itself.
  if ((current & kFlagVm) || (current & kFlagNt & ~kernel.set)) return false;
  return return_from_frame(resume, 0, false);
}

bool TrapCore::return_from_frame(uint32_t* resume, uint32_t forced_flags, bool guest_mapping_only) {
  EventInjector& injector = vcpu_.injector();
  const KernelRingFlags& kernel = platform_->kernel_flags();
  uint32_t current = register32(kRegEflags);
  SegmentDescriptor stack{};
  if (!injector.segment_descriptor(register32(kRegSs), &stack)) return false;
  uint32_t esp = register32(kRegEsp);
  uint32_t frame[5] = {};
  if (!injector.read_guest_linear(stack.base + esp, frame, 12, guest_mapping_only)) return false;
  uint32_t eip = frame[0], cs = frame[1] & 0xFFFF;
  uint32_t keep = kernel.owned | kFlagVm | kFlagRf;
  uint32_t flags = (current & keep) | (frame[2] & ~keep & kDefinedFlags) | kFlagFixed | forced_flags;
  if ((cs & 3) == 0 && (cs & ~3u)) {
    if (!kernel_return_ready(eip, cs | kGuestKernelRing)) return false;
    // (A CS load reads the descriptor again: skipped when the selector stays.)
    if (register32(kRegCs) != (cs | kGuestKernelRing)) write_register(uc_, kRegCs, cs | kGuestKernelRing);
    *resume = eip;
    write_register(uc_, kRegEflags, (flags & ~kernel.owned) | kernel.set);
    write_register(uc_, kRegEsp, esp + 12);
    return true;
  }
  if ((cs & 3) != 3 || (frame[2] & kFlagVm)) return false;
  if (!injector.read_guest_linear(stack.base + esp + 12, frame + 3, 8, guest_mapping_only)) return false;
  // To guest user mode: the guest edits descriptors in place (Linux's TLS entries at each
  // context switch), so a copy still due is made before user code can load them.
  if (gdt_copy_stale() || unwatched_gdt_changed()) {
    if (!platform_->reload_guest_gdt(injector)) return false;
    gdt_reloaded();
  }
  *resume = platform_->enter_without_eip(cs, eip, flags, frame[4] & 0xFFFF, frame[3]);
  return true;
}

// At real ring 1, IRET must trap: it would not restore IF at CPL > IOPL (SDM Vol. 2, IRET). With
// EFLAGS.NT set, IRET is a task return through the VMM's TSS, whose null back link raises #TS.
void TrapCore::after_event_delivered() {
  if (!active_ || !at_guest_kernel_ring()) return;
  uint64_t eflags = 0;
  read_register(uc_, kRegEflags, &eflags);
  if (!(eflags & kFlagNt)) write_register(uc_, kRegEflags, eflags | kFlagNt);
}

std::vector<EngineCounter> TrapCore::counters() const {
  const ShadowCounters& c = platform_->mmu().counters();
  return {
      {"invlpgInCore", invlpg_in_core_},
      {"accessFlagInCore", access_flag_in_core_},
      {"crReadsInCore", cr_reads_in_core_},
      {"cr3WritesInCore", cr3_writes_in_core_},
      {"reflectedInCore", reflected_in_core_},
      {"iretInCore", iret_in_core_},
      {"gdtUnwatchedRefreshes", gdt_unwatched_refreshes_},
      {"hiddenFaults", c.hidden_faults},
      {"trueFaults", c.true_faults},
      {"shadowPagesBuilt", c.shadow_pages_built},
      {"shadowPoolResets", c.pool_resets},
      {"pageTableWrites", c.page_table_writes},
      {"dirtyLogFaults", c.dirty_log_faults},
      {"rootSwitches", c.root_switches},
      {"rootCacheHits", c.root_cache_hits},
      {"pagesInvalidated", c.pages_invalidated},
      {"cliInCore", cli_in_core_},
      {"stiInCore", sti_in_core_},
      {"pvIretInCore", pv_iret_in_core_},
      {"pvMmuUpdateInCore", pv_mmu_update_in_core_},
      {"pvTlbFlushInCore", pv_tlb_flush_in_core_},
      {"pvNewBaseptrInCore", pv_new_baseptr_in_core_},
      {"pvRefusedInCore", pv_refused_in_core_},
      {"pvUpdateVaMappingInCore", pv_update_va_in_core_},
      {"shadowPrefills", c.prefills},
      {"pvFastCalls", pv_fast_calls_},
  };
}

}  // namespace vmm
