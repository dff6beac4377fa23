// The current privilege level without a register read. Reading CS through uc_reg_read costs a
// call chain per read; the bt engine's block hook asks for every executed guest block (to send
// kernel blocks to their translations and leave user blocks alone), which made user code run at
// a third of its speed. QEMU keeps the CPL in the low two bits of env->hflags (HF_CPL_MASK), a
// field of Unicorn's private CPU state, so the word is found once per engine and read directly.
//
// Finding it follows the discipline of exception-state.h and exact-stop.h: nothing is assumed
// about Unicorn's structures. Distinctive values are written to four general registers; a saved
// context (a copy of the CPU state) shows at which offset they sit and, from the exception-state
// probe, where hflags sits relative to them; the live copy is the one place in the memory the
// engine points to that holds the same values, read with process_vm_readv so that a wrong
// candidate pointer costs nothing. It is then proven: a register written through Unicorn must
// show there, and the live hflags must equal the saved one. Anything else: not located, and the
// callers read CS as before.
#pragma once
#include <cstdint>
#include <memory>
#include <string>

#include <unicorn/unicorn.h>

#include "exception-state.h"

namespace vmm {

class LiveCpuState {
 public:
  // Null, with `why_not` set, when the state cannot be located and proven on this Unicorn build.
  // Call before the guest first runs; the general registers are put back as they were.
  static std::unique_ptr<LiveCpuState> locate(uc_engine* uc, const ExceptionStateLayout& layout, std::string* why_not);

  // The current privilege level (SDM Vol. 3 §5.5), as the CS the CPU runs with says.
  uint32_t cpl() const { return *hflags_ & 3u; }
  // Sets the CPL alone, for the moment between two segment loads of a ring switch (below).
  void set_cpl(uint32_t cpl) { *hflags_ = (*hflags_ & ~3u) | (cpl & 3u); }
  // Whether the code segment the CPU runs is 32-bit (QEMU's HF_CS32_MASK, hflags bit 4): the
  // default operand size.
  bool code_segment_is_32() const { return (*hflags_ & (1u << 4)) != 0; }
  // Whether the stack segment the CPU runs with is 32-bit (QEMU's HF_SS32_MASK, hflags bit 5):
  // PUSH, POP, CALL and RET use ESP, not SP alone.
  bool stack_segment_is_32() const { return (*hflags_ & (1u << 5)) != 0; }
  // Whether CR0.PE is set (QEMU's HF_PE_MASK, hflags bit 7).
  bool protected_mode() const { return (*hflags_ & (1u << 7)) != 0; }
  // QEMU's CPUX86State, which the live registers open (its first field is the general
  // registers): what QEMU's own helpers take as `env`.
  void* cpu_env() const { return reinterpret_cast<void*>(origin_ + state_start_); }
  // The live field that a saved context holds at `context_offset` (a saved context is a copy of
  // the live state): what uc_context_save and uc_context_restore would copy whole to reach one
  // field, read or written in place. Null for an offset outside the state.
  volatile int32_t* field(size_t context_offset) const {
    if (context_offset < state_start_ || context_offset + 4 > context_bytes_) return nullptr;
    return reinterpret_cast<volatile int32_t*>(origin_ + context_offset);
  }

  // Whether flush_tlb_page() is available: QEMU's CPU object was found and proven.
  bool flushes_pages() const { return cpu_ != nullptr; }
  // QEMU's CPUState, when found and proven (null otherwise).
  void* cpu_object() const { return cpu_; }
  // Drops one page from Unicorn's TLB (every privilege level), and the cached code lookups for it,
  // as INVLPG does under QEMU; the whole TLB is flushed (uc_ctl_flush_tlb) otherwise.
  void flush_tlb_page(uint32_t linear) const;

 private:
  LiveCpuState(uintptr_t origin, size_t state_start, size_t context_bytes)
      : hflags_(nullptr), origin_(origin), state_start_(state_start), context_bytes_(context_bytes) {}
  volatile uint32_t* hflags_;
  uintptr_t origin_;     // the live address that context offset 0 stands for
  size_t state_start_;   // the saved state's first offset in a context (the registers)
  size_t context_bytes_;
  void* cpu_ = nullptr;  // QEMU's CPUState
};

// Loads SS with a ring-0 selector from an outer ring, as a transfer to ring 0 does (SDM Vol. 3
// §6.12.1): Unicorn loads SS only when its DPL equals the CPL, and takes the CPL from SS, so the
// CPL is made 0 first. With the live state, by writing it; without, by a stack load with CR0.PE
// clear (a real-mode load, DPL 0), which costs two flushes of Unicorn's whole TLB and the
// refills after them (a world switch per guest system call and page fault made that most of
// their cost).
uc_err load_ring0_stack_segment(uc_engine* uc, LiveCpuState* live, uint32_t selector);

}  // namespace vmm
