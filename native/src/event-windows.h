// Exact interrupt and NMI windows under `direct`, from QEMU's own interrupt check; interrupt
// windows alone under `bt`, whose guest kernel runs CLI, STI and POPF on the real IF (its IRET is
// emulated, so NMI blocking is the engine core's there).
//
// Under `direct` the guest kernel runs STI, POPF and IRET itself, so the VMM cannot see IF turn
// on, nor an IRET end an NMI handler (SDM Vol. 3 §6.7.1: NMIs stay blocked until the next IRET).
// Polling for the window from the timer's thread misses a one-instruction window (`sti; nop;
// cli`), and NMIs were not blocked at all. QEMU's CPU loop already knows the exact moment: each
// instruction that can open a window (STI, after the one instruction of its shadow; POPF; IRET)
// ends its translated block and returns to the loop, which asks the target, through
// x86_cpu_exec_interrupt, whether an interrupt the CPU has been told about (CPUState's
// interrupt_request) can be taken now; x86_cpu_pending_interrupt answers with IF, the shadow,
// and for NMIs the blocking bit of env->hflags2 that IRET clears. Unicorn keeps that loop but
// never sets interrupt_request for x86.
//
// So the VMM sets it: CPU_INTERRUPT_HARD while an interrupt waits for IF, CPU_INTERRUPT_NMI while
// an NMI waits for the IRET, and the addon is linked with --wrap for x86_cpu_exec_interrupt
// (binding.gyp). Its wrapper, when one of those can now be taken, clears the bit and stops the run
// there (uc_emu_stop) instead of letting QEMU deliver it; the VMM then delivers the event itself,
// exactly at that boundary. An NMI the VMM delivers sets the hflags2 blocking bit, as QEMU's own
// NMI delivery does, and the guest's IRET clears it.
//
// Neither field is public. interrupt_request's offset is read from the code of QEMU's
// tcg_handle_interrupt (`or [rdi + offset], esi`), hflags2 is the word after hflags (found by the
// exception-state probe); both are then proven by behaviour in a scratch engine: `sti; inc eax`
// with an interrupt waiting must stop right after the `inc`, a waiting NMI must not stop a run
// while blocked and must stop it at once when not. Anything else: not proven, and the vCPU polls
// for windows as before, without NMI blocking.
#pragma once
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>

#include <unicorn/unicorn.h>

#include "exception-state.h"

namespace vmm {

class LiveCpuState;

enum class EventWindow : uint8_t { kNone, kInterrupt, kNmi };

struct EventWindowLayout {
  bool proven = false;
  size_t interrupt_request_offset = 0;  // in QEMU's CPUState
  size_t hflags2_context_offset = 0;    // in a saved context (LiveCpuState::field)
  std::string why_not;
};

// Found and proven once per process (later calls return the first answer).
const EventWindowLayout& event_window_layout(const ExceptionStateLayout& exceptions);

class EventWindows {
 public:
  // Null when the layout is not proven or the engine's CPU object was not located.
  static std::unique_ptr<EventWindows> create(uc_engine* uc, const LiveCpuState* live, const EventWindowLayout& layout);

  // Which windows runs stop at from now on (also while the guest runs, from a device's I/O): an
  // interrupt waits for IF (and the shadow), an NMI for the blocking to end.
  void watch(bool interrupt, bool nmi);
  // NMIs are blocked: an NMI was delivered and its handler has not run IRET yet.
  bool nmi_blocked() const;
  // An NMI was delivered (as the CPU's own delivery, before the handler runs).
  void block_nmis();

  // Around each uc_emu_start: the window that stopped the run, if one did.
  void begin_run();
  EventWindow end_run();

  // The proof of `layout`'s offsets in a scratch engine (event_window_layout's; the reason in
  // layout->why_not when it fails).
  static bool prove(const ExceptionStateLayout& exceptions, EventWindowLayout* layout);

  // Called from the wrapped x86_cpu_exec_interrupt: true when the CPU loop reached a window this
  // vCPU watches (the run then stops there and nothing is delivered by QEMU).
  static bool take_window(void* cpu, int interrupt_request);

 private:
  EventWindows(uc_engine* uc, void* cpu, volatile uint32_t* interrupt_request, volatile int32_t* hflags2)
      : uc_(uc), cpu_(cpu), interrupt_request_(interrupt_request), hflags2_(hflags2) {}
  bool take(int interrupt_request);

  uc_engine* uc_;
  void* cpu_;
  volatile uint32_t* interrupt_request_;
  volatile int32_t* hflags2_;
  uint32_t watched_ = 0;  // the CPU_INTERRUPT_* bits this vCPU set
  EventWindow opened_ = EventWindow::kNone;
};

}  // namespace vmm
