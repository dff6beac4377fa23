// Where an engine plugs into the native core. The generic vCPU (vcpu.h) owns Unicorn, its hooks,
// the run loop, stops, interrupt windows, block discovery and tracing, and knows no engine. An
// engine whose work must stay native, because it happens per exception or per block and a round
// trip to TypeScript costs microseconds, implements EngineCore; the vCPU calls it from its run
// loop and its hooks. The direct engine has no core: every exception goes to TypeScript. The
// trap engine's core (trap-core.h) fills hidden page faults, carries out CLI and STI, keeps IRET
// trapping and refreshes the real GDT. An engine core reaches its vCPU only through VcpuServices.
#pragma once
#include <cstdint>
#include <vector>

#include "exit-record.h"

namespace vmm {

class EventInjector;
class TraceRecorder;

// What the vCPU offers the engine core plugged into it.
class VcpuServices {
 public:
  // The exit record shared with TypeScript (exit-record.h). When on_exception runs it holds the
  // exception's vector, error code and CR2; a core may amend them before TypeScript reads them.
  virtual uint32_t* exit_record() = 0;
  // The guest's memory and descriptor tables as the guest sees them, and event delivery.
  virtual EventInjector& injector() = 0;
  // For records of what a core did without TypeScript, in line with the instructions.
  virtual TraceRecorder& trace() = 0;
  // Whether the VMM waits to deliver an external interrupt (setInterruptPending).
  virtual bool interrupt_pending() const = 0;
  // Whether interrupts wait one more instruction here (SDM Vol. 3 §6.8.3): after STI, MOV SS or
  // POP SS, run by the CPU or emulated.
  virtual bool in_interrupt_shadow() = 0;
  // Whether the run is to end (time slice, requestStop, a handler that threw): whatever the guest
  // could see is then left to TypeScript, which asked first.
  virtual bool stop_pending() const = 0;
  // Holds the interrupt shadow (SDM Vol. 3 §6.8.3) for the instruction at `linear`: the core
  // emulated an STI that set IF, and interrupts wait one more instruction.
  virtual void hold_interrupt_shadow(uint32_t linear) = 0;
  // The current privilege level, cheap enough for every block (live-cpu-state.h).
  virtual uint32_t current_cpl() = 0;
  // Delivers the exception being reported (its error code in the exit record) to the guest's own
  // handler, as the run loop would, when the run loop allows it (setExceptionReflection: no trace
  // or debugger to show it to) and no device has asked to stop. False: leave it to TypeScript.
  virtual bool reflect_exception(uint32_t vector, bool software_interrupt) = 0;
  // Installs the block hook now, if the core did not want it at start-up (uses_block_events):
  // Unicorn's translations are dropped, so that every block calls it from then on. Outside
  // Unicorn's CPU loop only (from on_exception or before_resume).
  virtual void need_block_events() = 0;
  // The #UD being reported is a hypercall the VMM answered (hypercall.h): EAX holds its result
  // and EIP is past the instruction. False: not a hypercall, or hypercalls are off.
  virtual bool take_hypercall(bool from_user) = 0;
  // Ends the run at the start of the block at `linear` (from on_block: the block does not run),
  // with an exit of the core's own `kind` for TypeScript.
  virtual void end_run_at_block_start(uint64_t linear, ExitKind kind) = 0;

 protected:
  ~VcpuServices() = default;
};

// on_exception's answer when the core handled the exception: the guest goes on in the same run.
constexpr ExitKind kResumeGuest = kExitNone;

// One of a core's counters, under the name TypeScript reads (trapCounters()).
struct EngineCounter {
  const char* name;
  uint64_t value;
};

class EngineCore {
 public:
  virtual ~EngineCore() = default;

  // An exception reached Unicorn's interrupt hook while the guest ran: its vector, error code and
  // CR2 are in the exit record, and software_interrupt says whether INT n, INT3 or INTO raised it.
  // Returns kResumeGuest when handled here (the vCPU then clears Unicorn's exception state, so the
  // next exception is not escalated, and resumes the guest), kExitException to leave it to
  // TypeScript (an exception exit, the usual answer), or another exit kind to end the run with.
  // This is the hot path that saves the round trips: keep what is left to TypeScript rare.
  virtual ExitKind on_exception(uint32_t vector, bool software_interrupt) = 0;

  // Whether the core may ever want on_block: the vCPU then installs its block hook at start-up,
  // before anything is translated (adding it later means flushing every translation).
  virtual bool uses_block_events() const = 0;
  // A translated block is about to run. Called only while block_events_wanted(), which the block
  // hook tests inline: a core with nothing to do at block starts costs no virtual call per block.
  // Returns true when the core has moved EIP elsewhere (the block does not run).
  virtual bool on_block(uint64_t address, uint32_t size) { return false; }

  // Whether a stop may be taken at this linear EIP. A core whose code runs in the guest's place
  // (the bt engine's translation cache) refuses points where the guest's state is incomplete;
  // the vCPU then runs on to the next point it accepts.
  virtual bool stop_allowed_at(uint64_t linear) { return true; }
  // The guest ran CPUID (Unicorn's hook, inside its CPU loop, EIP at the instruction). A core
  // whose own code calls into it so (the bt engine's fast calls) returns true when the CPUID was
  // its call, carried out: the instruction is then skipped, and the guest's CPUID is not asked.
  virtual bool on_cpuid() { return false; }
  // Whether on_block must see blocks the guest runs at CPL 3 (user code, which deprivileging
  // cores run in place). False lets the block hook return at once for them. A field, not a
  // virtual call: the hook tests it at every user block.
  bool user_blocks_wanted() const { return user_blocks_wanted_; }
  // The run is ending: whatever TypeScript reads now must be the guest's (EIP at a guest address).
  virtual void before_exit() {}
  // The guest is about to run (a run starts, or goes on after the run loop handled something):
  // a core whose code runs in the guest's place may move EIP there (the bt engine's cache).
  virtual void before_resume() {}
  // The VMM wrote guest memory behind the guest's back (a debugger): translations may be stale.
  virtual void guest_code_changed() {}
  // A device wrote guest-physical frames [first, last] (DMA): translations of code there are stale.
  virtual void guest_frames_written(uint32_t first_frame, uint32_t last_frame) {}
  // For the trace: the guest instruction that code at `linear` carries out (identity for guest
  // code), or false when `linear` is the core's own code and no guest instruction starts there.
  virtual bool guest_instruction(uint32_t linear, uint32_t* guest) {
    *guest = linear;
    return true;
  }
  bool block_events_wanted() const { return block_events_wanted_; }
  // The last linear address whose blocks the core needs to see, when not all: a core that runs
  // code of its own above it (the bt engine's translation cache) keeps the hook out of that code.
  // Only with exact stops, which need no block hook to take a stop.
  virtual uint64_t block_events_end() const { return ~uint64_t{0}; }
  // The first linear address of code the core makes that no guest store can reach (the bt
  // engine's translation cache, mapped read-only), or ~0: Unicorn's translations there need not
  // be write-checked (code-write-checks.h).
  virtual uint64_t unwritable_code_start() const { return ~uint64_t{0}; }

  // The vCPU has just delivered an event into the guest (inject()): a core that must catch the
  // handler's return (the trap engine's IRET) arranges it here.
  virtual void after_event_delivered() {}
  // An NMI was delivered (SDM Vol. 3 §6.7.1): further NMIs wait for the handler's IRET. A core
  // that emulates the guest kernel's IRET keeps this blocking (the CPU's own never sees the IRET).
  virtual void block_nmis() {}
  virtual bool nmis_blocked() const { return false; }

  // What the core did without TypeScript, for the run summary.
  virtual std::vector<EngineCounter> counters() const = 0;

 protected:
  void want_block_events(bool on) { block_events_wanted_ = on; }
  void want_user_blocks(bool on) { user_blocks_wanted_ = on; }

 private:
  bool block_events_wanted_ = false;
  bool user_blocks_wanted_ = true;
};

}  // namespace vmm
