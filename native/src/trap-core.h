// The trap engine's native core (docs/trap-engine.md): what trap-and-emulate does per exception
// or per block without a round trip to TypeScript. A #PF the shadow MMU can fill (a hidden
// fault) is filled; CLI and STI from the guest kernel are carried out; after an event is
// delivered to the kernel, IRET is kept trapping; after the guest writes its GDT, the real one
// is copied again at the next block boundary. Everything else the guest does goes to the
// TypeScript engine (src/engines/trap). It owns the VMM region (trap-platform.h) and serves the
// trap-only methods of the vCPU object (src/vmm/native.ts).
#pragma once
#include <cstdint>
#include <cstring>
#include <memory>
#include <vector>

#include <unicorn/unicorn.h>

#include "engine-core.h"
#include "modrm.h"
#include "page-table-guard.h"
#include "paravirt-abi.h"
#include "trap-platform.h"

namespace vmm {

class TrapCore : public EngineCore {
 public:
  // Maps the VMM region at `region_physical` (just above guest RAM) and builds it; nullptr and
  // `err` set when Unicorn refuses.
  // `pool_bytes`: the shadow page-table pool (0: all the region offers).
  static std::unique_ptr<TrapCore> create(VcpuServices& vcpu, uc_engine* uc, LiveCpuState* live, GuestRam ram,
                                          uint64_t ram_bytes, uint64_t region_physical, uint32_t pool_bytes, uc_err* err);

  ExitKind on_exception(uint32_t vector, bool software_interrupt) override;
  bool uses_block_events() const override { return true; }
  bool on_block(uint64_t address, uint32_t size) override;
  void before_resume() override;
  void after_event_delivered() override;
  std::vector<EngineCounter> counters() const override;

  // trapConfigure(cr0, cr3, cr4): the guest's paging state; from now on the guest runs
  // deprivileged on shadows, and this core handles its exceptions.
  void configure(const PagingState& guest);
  // trapSetSmapOffered(offered): CPUID tells the guest it has SMAP, so its CLAC and STAC are
  // carried out (they raise #UD at ring 1).
  void set_smap_offered(bool offered) { smap_offered_ = offered; }
  // trapLeave(): the guest cleared CR0.PE (SDM Vol. 3 §9.9.2) and from now on runs as under
  // direct until it is deprivileged again (configure): no shadows (every one is dropped, since
  // its page tables may change unseen), the VMM region closed, events delivered by the CPU. The
  // CPL becomes 0, as the guest's own ring-0 code would have it, with every segment cache kept
  // (big real mode keeps the limits it loaded). The caller gives the CPU the guest's CR0, CR3,
  // CR4, descriptor-table registers and EFLAGS. False, with nothing changed, when the CPL cannot
  // be set without reloading SS (Unicorn's live CPU state was not located).
  bool leave();
  // trapWatchProtectedMode(on): while the guest runs as under direct after leaving protected mode
  // (leave), the block hook watches for its return there, and the run ends (kExitProtectedMode) at
  // the first block start where protected_mode_ready(), so that the engine deprivileges it before
  // that block runs: the guest's protected-mode code runs deprivileged every time, never at real
  // ring 0 after the VMM first deprivileged it. State it saved while deprivileged holds ring-1
  // values (a PUSHF image with the VMM's NT, selectors with RPL 1); run at ring 0, a POPF of that
  // image made NT the guest's, and its next IRET a task return (SDM Vol. 3 §7.3). Needs the live
  // CPU state (its hflags say cheaply, at every block, whether PE is set and CS is 32-bit); without
  // it the engine deprivileges the guest at the next stop, as on its first entry.
  void watch_protected_mode(bool on);
  // trapProtectedModeReady(): the guest, running as under direct, can be deprivileged now:
  // CR0.PE set, a 32-bit code segment (after the MOV to CR0 that sets PE, CS is still the
  // real-mode one until the far jump; SDM Vol. 3 §9.9.1), SS a writable data segment of the GDT
  // and DS, ES, FS, GS null or in the GDT (until the guest reloads them they hold real-mode values:
  // SS 0 cannot be entered at ring 1, and a real-mode DS would name an arbitrary descriptor).
  bool protected_mode_ready();
  // The guest's CR3 as the guest last loaded it (the core carries out MOV to CR3 itself).
  uint32_t guest_cr3() const { return platform_->view()->guest_paging.cr3; }
  // The guest's CR2: the address of its last page fault (the real CR2 also changes with the
  // shadow MMU's hidden faults). Set here when the core delivers a #PF, by TypeScript otherwise.
  uint32_t guest_cr2() const { return guest_cr2_; }
  void set_guest_cr2(uint32_t value) { guest_cr2_ = value; }
  virtual bool keeps_block_events() const { return false; }
  // The guest instruction the vCPU stands at, for a saved state: EIP itself while it is in guest
  // code; false at a point that is no guest instruction boundary (the VMM's stubs in the hole, a
  // translation's inside), where the caller runs on a little and asks again.
  virtual bool guest_eip(uint32_t eip, uint32_t* guest) const {
    *guest = eip;
    return eip < kHoleLinear;
  }
  // trapLoadGdt(base, limit)
  bool load_guest_gdt(uint32_t base, uint32_t limit) { return platform_->load_guest_gdt(vcpu_.injector(), base, limit); }
  // trapEnter(cs, eip, eflags, ss, esp): the next run starts with an IRET into that state.
  void enter(uint32_t cs, uint32_t eip, uint32_t eflags, uint32_t ss, uint32_t esp) { platform_->enter(cs, eip, eflags, ss, esp); }
  // trapSetGuestTss(base, limit)
  void set_guest_tss(uint32_t base, uint32_t limit) { platform_->set_guest_tss(base, limit); }
  // The guest's own EFLAGS.NT (the real one is the VMM's at ring 1): its IRET is then a task
  // return, which the engine carries out, not the core.
  void set_guest_nested_task(bool nested) { guest_nested_task_ = nested; }
  // NMI blocking (engine-core.h): the IRET that ends it is emulated by TypeScript, which
  // unblocks them; the core leaves the guest's IRETs to it meanwhile.
  void block_nmis() override { nmis_blocked_ = true; }
  bool nmis_blocked() const override { return nmis_blocked_; }
  void unblock_nmis() { nmis_blocked_ = false; }
  // trapInvalidatePage(linear): the guest's INVLPG.
  void invalidate_page(uint32_t linear) { platform_->mmu().invalidate_page(linear); }
  // setDirtyLogging(on), takeDirtyLog()
  void set_dirty_logging(bool on) { platform_->mmu().set_dirty_logging(on); }
  std::vector<uint8_t> take_dirty_log() { return platform_->mmu().take_dirty_log(); }
  // Paravirtual mode (the paravirt engine, docs/paravirt-abi.md): the guest kernel asks through
  // hypercalls, so the core carries out none of its privileged instructions (each comes to
  // TypeScript, which ends the run naming it). INT `hypercall_vector` from the kernel is a
  // hypercall: iret, mmu_update, update_va_mapping, tlb_flush and new_baseptr (with paging on) are carried out here
  // (paravirt-abi.h), the rest go to TypeScript. `shared_info` is the guest-physical shared-info
  // page (~0: none yet): a #PF delivered to the kernel stores its address there (the kernel cannot
  // read CR2), and an event that became deliverable ends the run after a hypercall.
  // `hypercall_page`: its linear address, where the fast calls' CPUIDs are.
  void set_paravirtual(uint32_t hypercall_vector, uint32_t shared_info, uint32_t hypercall_page);
  bool on_cpuid() override;
  // trapGuestCr0(): the guest's CR0 as the core has it (new_baseptr turns paging on here).
  uint32_t guest_cr0() const { return platform_->guest_paging().cr0; }
  // The page-table rules (page-table-guard.h), for new_baseptr and mmu_update from TypeScript.
  int32_t pin_page_directory(uint32_t physical) { return guard_ ? guard_->pin_directory(physical) : kErrnoInval; }
  int32_t update_page_table(uint32_t pointer, uint32_t value);
  // The gates the paravirt engine built from the guest's virtual trap table (2 KiB, 256 gates),
  // into the region's IDT, which the real IDTR names (kRegionParavirtIdt).
  void set_paravirtual_idt(const uint8_t* gates) { std::memcpy(platform_->region_bytes(kRegionParavirtIdt), gates, kParavirtIdtBytes); }
  // The kernel stack for deliveries from guest ring 3 (the stack-switch hypercall): a TSS image of
  // the VMM's, which the delivery reads as the guest's TSS.
  void set_paravirtual_kernel_stack(uint32_t ss, uint32_t esp);
  // trapRegionBase
  uint64_t region_physical() const { return platform_->region_physical(); }

 protected:
  TrapCore(VcpuServices& vcpu, uc_engine* uc, std::unique_ptr<TrapPlatform> platform)
      : vcpu_(vcpu), uc_(uc), platform_(std::move(platform)) {
    // Only the GDT refresh counts block starts at every level.
    want_user_blocks(false);
  }
  // Called once the guest is deprivileged (configure).
  virtual void configured() {}
  // The guest wrote its GDT (the write is let through): the real one must follow before a segment
  // is loaded from it. Here: copied at the second block start after the writing instruction.
  virtual void descriptors_written();
  // That copy, counted down at block starts.
  void refresh_gdt_when_due();
  // While a page of the guest's GDT is left writable (ShadowMmu::descriptors_unwatched): the
  // real GDT is copied again if the guest's descriptors changed.
  void refresh_unwatched_gdt();
  // Whether a page of the guest's GDT is left writable and its descriptors differ from the copy.
  bool unwatched_gdt_changed() const;
  bool active() const { return active_; }
  ExitKind handle_shadow_fault();
  // A #GP at the guest kernel: the instruction's bytes, fetched once for the handlers that may
  // carry it out in the core.
  struct TrappedInstruction {
    uint32_t linear = 0;
    uint8_t bytes[kMaxInstructionLength] = {};
    uint32_t available = 0;  // bytes read (to the end of the page at most)
  };
  bool fetch_trapped_instruction(TrappedInstruction* insn) { return fetch_instruction(vcpu_.injector().current_linear_eip(), insn); }
  // The guest's instruction bytes at `linear`, to the end of its page at most.
  bool fetch_instruction(uint32_t linear, TrappedInstruction* insn);
  // The linear address of the memory operand (32-bit addressing) whose ModRM byte is at
  // insn.bytes[modrm], in the segment a prefix names (`segment`, or kNoSegmentOverride for the
  // operand's default: SS for an ESP or EBP base, else DS); false for a register operand or
  // bytes that end first. `operand` gets its length.
  bool memory_operand_address(const TrappedInstruction& insn, uint32_t modrm, uint32_t segment, MemoryOperand* operand,
                              uint32_t* linear);
  // The instructions the core carries out at the guest kernel's trapped EIP. Each returns the
  // instruction's length when it has carried it out (EIP is the caller's to move: under bt the
  // instruction may run from a fast call, where EIP is not the guest's), 0 when it leaves it.
  uint32_t handle_interrupt_flag_trap(const TrappedInstruction& insn);
  bool interrupt_window_before(const TrappedInstruction& insn);
  uint32_t handle_invlpg(const TrappedInstruction& insn);
  uint32_t handle_control_register_move(const TrappedInstruction& insn);
  // The guest's own exception, delivered in the core (kResumeGuest) or left to TypeScript.
  ExitKind reflect_to_guest(uint32_t vector, bool software_interrupt);
  // IRET from the guest kernel at `guest_eip` (trapped through NT under trap, a call from the
  // translation cache under bt), to guest ring 0 or 3; false: TypeScript's (other forms). Sets
  // every register the IRET loads but EIP: `*resume` gets where the guest goes on (its ring-0
  // EIP, or the VMM's stub that enters ring 3).
  bool emulate_iret(uint32_t guest_eip, uint32_t* resume);
  // The same, EIP set too.
  bool emulate_iret(uint32_t guest_eip);
  // An IRET to the guest kernel at `eip` with real CS `selector` is about to be carried out:
  // false leaves it to TypeScript, before anything is changed. (The bt core makes the target's
  // translation here, which an IRET carried out inside Unicorn's CPU loop must go on in.)
  virtual bool kernel_return_ready(uint32_t eip, uint32_t selector) { return true; }
  // The real GDT was copied from the guest's again: no copy is due.
  virtual void gdt_reloaded();
  // Whether the guest wrote its GDT since the real one was copied.
  virtual bool gdt_copy_stale() const { return gdt_refresh_countdown_ > 0; }
  bool at_guest_kernel_ring();
  // Whether the code segment the guest runs is a 32-bit one (its descriptor's D bit).
  bool code_segment_32();
  uint32_t register32(uint32_t id) {
    uint64_t value = 0;
    read_register(uc_, id, &value);
    return static_cast<uint32_t>(value);
  }
  bool user_data_for_supervisor();
  bool is_access_flag_instruction(const TrappedInstruction& insn) const;
  // CLAC or STAC (is_access_flag_instruction) on the real AC; returns its length.
  uint32_t carry_out_access_flag_instruction(const TrappedInstruction& insn);
  static constexpr uint8_t kModrmClac = 0xCA;
  static constexpr uint8_t kModrmStac = 0xCB;

  VcpuServices& vcpu_;
  uc_engine* uc_;
  std::unique_ptr<TrapPlatform> platform_;
  bool active_ = false;  // trapConfigure has run: the guest is deprivileged
  int gdt_refresh_countdown_ = 0;  // block starts until the real GDT is copied again (0: none due)
  uint64_t cli_in_core_ = 0;
  uint64_t sti_in_core_ = 0;
  uint64_t invlpg_in_core_ = 0;
  uint64_t cr_reads_in_core_ = 0;
  uint64_t cr3_writes_in_core_ = 0;
  uint64_t reflected_in_core_ = 0;
  uint64_t iret_in_core_ = 0;
  uint64_t gdt_unwatched_refreshes_ = 0;  // copies refresh_unwatched_gdt() made
  uint64_t access_flag_in_core_ = 0;  // CLAC and STAC
  bool smap_offered_ = false;
  bool guest_nested_task_ = false;
  bool watch_protected_mode_ = false;  // trapWatchProtectedMode
  // on_block while the guest runs as under direct: true (the run ends there) when it is back in
  // protected mode and ready to be deprivileged.
  bool stop_at_protected_mode(uint64_t address);
  bool nmis_blocked_ = false;
  uint32_t guest_cr2_ = 0;
  bool paravirtual_ = false;
  uint32_t hypercall_vector_ = 0;
  uint32_t shared_info_ = ~0u;
  uint32_t hypercall_page_ = ~0u;
  uint64_t pv_fast_calls_ = 0;
  std::unique_ptr<PageTableGuard> guard_;
  uint64_t pv_iret_in_core_ = 0;
  uint64_t pv_mmu_update_in_core_ = 0;
  uint64_t pv_tlb_flush_in_core_ = 0;
  uint64_t pv_new_baseptr_in_core_ = 0;
  uint64_t pv_refused_in_core_ = 0;
  uint64_t pv_update_va_in_core_ = 0;
  ExitKind on_paravirtual_exception(uint32_t vector, bool software_interrupt);
  // A hypercall the core answers: true when carried out (EAX holds its result, the guest goes
  // on), false to leave it to TypeScript.
  bool carry_out_hypercall();
  // The page-table calls (mmu_update, update_va_mapping, tlb_flush, new_baseptr) with the
  // arguments in EBX, ECX, EDX: true and `*result` set when `number` is one of them.
  bool page_table_call(uint32_t number, int32_t* result);
  int32_t mmu_update(uint32_t requests, uint32_t count);
  int32_t tlb_flush(uint32_t kind, uint32_t linear);
  int32_t update_va_mapping(uint32_t linear, uint32_t value, uint32_t flags);
  int32_t new_baseptr(uint32_t directory);
  // The iret hypercall's frame popped (its stub pushed EAX over it); `*resume`: where the kernel
  // goes on. False, with nothing changed, when it cannot be done here.
  bool paravirtual_iret(uint32_t* resume);
  // The iret fast call: to the kernel's ring through the resume slot, else on to the INT.
  void fast_iret();
  bool upcall_deliverable();
  // The frame an IRET pops at SS:ESP (EIP, CS, EFLAGS, and ESP, SS to user mode), to guest ring 0
  // or 3, with `forced_flags` set in what it loads; false, with nothing changed, for other forms.
  // `guest_mapping_only`: the frame is read through the guest's tables even in the hole.
  bool return_from_frame(uint32_t* resume, uint32_t forced_flags, bool guest_mapping_only);
};

}  // namespace vmm
