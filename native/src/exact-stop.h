// Exact asynchronous stops. Unicorn 2.1 tests the exit request at every translated block's start
// and after every guest load and store; an exit taken after a load or store reports "block not
// started", and the CPU loop resets EIP to the block's start, so the instructions before it run
// twice. Unicorn's private `uc_struct.no_exit_request` (set only for ARM Thumb IT blocks) turns
// the load/store checks off: a stop from any thread is then taken at a block start, exactly, as
// in QEMU, and no per-block hook is needed to make stops safe.
//
// The field's offset is not public. It is found at start-up in a scratch engine, next to fields
// whose values are known (`cpu_context_size` is uc_context_size() less the context header; the
// bool after `no_exit_request`, `init_done`, reads 1 once the engine is initialised), and then
// proven by behaviour: rounds of a loop of loads and stores, stopped from another thread every
// 100 µs until eight stops have landed in them (however busy the host), must each end with every
// counter exact. Only a proven offset is ever written in a real engine; anything
// else leaves the vCPU on the block hook, and says why.
#pragma once
#include <cstddef>
#include <string>

#include <unicorn/unicorn.h>

namespace vmm {

struct ExactStopLayout {
  bool proven = false;
  size_t no_exit_request_offset = 0;
  std::string why_not;  // when not proven: the reason, for the run summary
};

// Finds and proves the offset (once per process; later calls return the first answer).
const ExactStopLayout& exact_stop_layout();

// The proof alone, for a given offset: used by exact_stop_layout and by the tests, which check
// that a wrong offset is rejected.
bool prove_exact_stops(size_t no_exit_request_offset, std::string* why_not);

// Turns the load/store exit checks of `uc` off (on = true) or back on; translations made before
// keep what they had, so flush them after a change.
void set_exact_stops(uc_engine* uc, const ExactStopLayout& layout, bool on);

}  // namespace vmm
