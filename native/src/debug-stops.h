// Debugger stops (the GDB stub): breakpoints, watchpoints and single steps at guest linear
// addresses, made with Unicorn hooks so that guest memory is never written (a guest that checksums
// its own code, or reads it back, sees no INT3).
//
// - A breakpoint is a code hook bounded to its one address: translated code calls out only there,
//   so a guest with breakpoints runs at full speed elsewhere. The hook stops the guest before the
//   instruction runs (Unicorn checks for a stop right after an instruction's code hook).
// - A single step and a watchpoint's "stop after the access" need to see the next instruction,
//   wherever it is: an unbounded code hook, present only while a step is armed or a watchpoint
//   set (the guest then runs at tracing speed), and the block hook. Translations made before the
//   code hook was added do not call it, and dropping them all is slow (Unicorn 2.1.1 clears its
//   whole code buffer on a flush): a step drops only the translation at EIP, so the first
//   instruction runs in a block that calls the hook, and the next instruction is seen either by
//   the hook (same block) or at the next block's start (the block hook).
// - A watchpoint is a memory hook bounded around its range; the access is checked for overlap
//   and the stop is taken before the next instruction, with the access done (as the CPU's data
//   breakpoints do: SDM Vol. 3 §17.3.1.2, a trap after the access).
// The VMM's own code (the trap engine's stubs in its hole) is never stepped or stopped in.
#pragma once
#include <cstdint>
#include <vector>

#include <unicorn/unicorn.h>

namespace vmm {

enum class DebugStopReason : uint32_t {
  kNone = 0,
  kBreakpoint = 1,
  kStep = 2,
  kWatchWrite = 3,
  kWatchRead = 4,
  kWatchAccess = 5,
};

// GDB's Z2/Z3/Z4 types.
enum class WatchKind : uint32_t { kWrite = 2, kRead = 3, kAccess = 4 };

struct Watchpoint {
  uint32_t linear;
  uint32_t length;
  WatchKind kind;
};

class DebugStops {
 public:
  // What the stops need from their vCPU.
  class Host {
   public:
    // Stops the guest before the instruction whose code hook is running; it has not run.
    virtual void stop_before_this_instruction() = 0;
    // Whether code at this linear address is the VMM's own (never shown to a debugger).
    virtual bool is_vmm_code(uint64_t linear) const = 0;

   protected:
    ~Host() = default;
  };

  explicit DebugStops(Host& host) : host_(host) {}

  // The addresses whose breakpoint came or went: their translations must be dropped (those made
  // before a hook was added do not call it).
  std::vector<uint32_t> set_breakpoints(uc_engine* uc, const std::vector<uint32_t>& linears);
  // True when watchpoints changed: all translations must be dropped (memory hooks are compiled
  // into the translated accesses).
  bool set_watchpoints(uc_engine* uc, const std::vector<Watchpoint>& watchpoints);
  // Arms a step: the guest stops before the (count+1)-th guest instruction from now (count 0:
  // before the first guest instruction, leaving any VMM code in between). Disarmed by the stop.
  // The caller drops the translation at EIP.
  void step(uc_engine* uc, uint32_t count);
  void cancel_step(uc_engine* uc);
  // The debugger resumes the guest at `linear`: a breakpoint there lets the instruction run once
  // (as EFLAGS.RF does for the CPU's own instruction breakpoints).
  void resume_from(uint32_t linear);
  // Called at every block start (the block hook is on while the debugger is attached); true
  // when the guest must stop before the block (a step is over, or a watched access was made).
  bool on_block(uint64_t linear);
  // The instruction at `linear` raised an exception the engine handled by running it again:
  // it did not complete, so it does not count as a step.
  void instruction_restarted(uint32_t linear);

  // Whether any hook is installed (exact stops must be off: they skip the exit checks after
  // code hooks, and a stop at a block start must set EIP itself).
  bool has_code_hooks() const { return !breakpoints_.empty() || instruction_hook_ != 0; }
  bool stopped() const { return reason_ != DebugStopReason::kNone; }
  DebugStopReason reason() const { return reason_; }
  // The breakpoint's address, or the watched access's address.
  uint32_t address() const { return address_; }
  // At the start of each run: the last stop was reported.
  void clear_stop() { reason_ = DebugStopReason::kNone; }
  // A watched access happened and its stop was not taken yet (the run ended first).
  bool take_pending_watch();

 private:
  struct Breakpoint {
    uint32_t linear;
    uc_hook hook;
  };
  struct InstalledWatch {
    Watchpoint watch;
    uc_hook hook;
  };
  void update_instruction_hook(uc_engine* uc);
  void stop(DebugStopReason reason, uint32_t address);
  // The guest is about to run the instruction at `linear`: true when a step ends before it.
  bool step_arrives(uint32_t linear);
  static void on_breakpoint(uc_engine* uc, uint64_t address, uint32_t size, void* self);
  static void on_instruction(uc_engine* uc, uint64_t address, uint32_t size, void* self);
  static void on_memory(uc_engine* uc, uc_mem_type type, uint64_t address, int size, int64_t value, void* self);

  Host& host_;
  std::vector<Breakpoint> breakpoints_;
  std::vector<InstalledWatch> watchpoints_;
  uc_hook instruction_hook_ = 0;
  bool stepping_ = false;
  // Instructions a step lets run, and the instruction starts seen since it was armed (at block
  // starts and, in blocks that call the code hook, at each instruction).
  uint32_t step_count_ = 0;
  uint32_t arrivals_ = 0;
  uint32_t last_arrival_ = 0;
  // A block start already counted the first instruction of its block: its code hook call is not
  // another arrival.
  bool announced_ = false;
  uint32_t announced_linear_ = 0;
  uint32_t resume_linear_ = 0;
  uint32_t blocks_since_resume_ = 2;
  // A watched access seen, to be reported before the next instruction.
  DebugStopReason watch_hit_ = DebugStopReason::kNone;
  uint32_t watch_address_ = 0;
  DebugStopReason reason_ = DebugStopReason::kNone;
  uint32_t address_ = 0;
};

}  // namespace vmm
