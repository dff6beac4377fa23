// Remedy for Unicorn issue #1883: Unicorn never runs QEMU's exception delivery, so
// env->old_exception is never reset and the second contributory exception is escalated to #DF,
// the third to a triple fault. After each exception we save the context, reset old_exception to
// -1 inside the saved blob, and restore it. The same blob holds env->error_code, the real error
// code of #GP/#PF/..., which Unicorn's interrupt hook does not pass.
//
// The field offsets differ between Unicorn versions, so they are found at start-up by diffing
// two context blobs taken around one deliberately provoked #GP (selector 0x1234 loaded into DS
// with an empty GDT: error code 0x1234).
#pragma once
#include <cstddef>
#include <string>

#include <unicorn/unicorn.h>

namespace vmm {

struct ExceptionStateLayout {
  size_t old_exception_offset = 0;
  size_t error_code_offset = 0;
  // env->exception_is_int, the int after error_code in QEMU's CPUX86State (checked by the probe
  // with an INT n): 1 when the event came from INT n / INT3 / INTO, 0 for a fault or trap.
  size_t is_int_offset = 0;
  // env->hflags, whose bit 3 (HF_INHIBIT_IRQ) is the interrupt shadow: set by STI, MOV SS and
  // POP SS, cleared once the next instruction has run (QEMU ends a block after each of them).
  size_t hflags_offset = 0;
};

// Returns false and sets `error` when the probe cannot identify both fields unambiguously.
bool probe_exception_state_layout(ExceptionStateLayout* layout, std::string* error);

class LiveCpuState;

class ExceptionState {
 public:
  // With `live` (null: not located), the fields are read and written in place; without, through
  // a saved context (a copy of the whole CPU state per access).
  ExceptionState(uc_engine* uc, const ExceptionStateLayout& layout, const LiveCpuState* live);
  ~ExceptionState();
  bool ok() const { return context_ != nullptr; }
  // The error code of the exception being reported. Call inside the interrupt hook: once the hook
  // returns, Unicorn goes on to raise a second, escalated event (old_exception then reads #DF
  // and CR2 0xFFFFFFFF after a #PF), so nothing in the context afterwards describes this one.
  uint32_t error_code_in_hook();
  // Whether the event being reported came from an INT n, INT3 or INTO instruction (EIP is then
  // past it). Valid after error_code_in_hook(), from the same saved context.
  bool is_software_interrupt() const;
  // Whether the CPU holds off interrupts for one instruction after STI, MOV SS or POP SS (SDM
  // Vol. 3 §6.8.3); true at the boundary right after one. Valid between blocks.
  bool interrupt_shadow();
  // Whether the code segment the CPU runs with is a 32-bit one (QEMU's HF_CS32 in hflags): false in
  // real mode, and between a MOV to CR0 that sets PE and the far jump that loads CS.
  bool code_segment_32();
  // Delivering an event ends the shadow.
  void clear_interrupt_shadow();
  // Clears old_exception so the next exception is not escalated. Call after every uc_emu_start:
  // an exception raised while a stop is already requested is dropped without reaching the hook
  // (the instruction runs again on the next entry) but still leaves old_exception set.
  void reset_old_exception();

 private:
  uint32_t hflags();
  uc_engine* uc_;
  uc_context* context_ = nullptr;
  ExceptionStateLayout layout_;
  volatile int32_t* live_error_code_ = nullptr;
  volatile int32_t* live_is_int_ = nullptr;
  volatile int32_t* live_hflags_ = nullptr;
  volatile int32_t* live_old_exception_ = nullptr;
  bool is_int_in_hook_ = false;
};

}  // namespace vmm
