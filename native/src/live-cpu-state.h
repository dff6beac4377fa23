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

 private:
  explicit LiveCpuState(const volatile uint32_t* hflags) : hflags_(hflags) {}
  const volatile uint32_t* hflags_;
};

}  // namespace vmm
