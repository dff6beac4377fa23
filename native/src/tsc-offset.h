// The guest's TSC offset. QEMU's RDTSC (helper_rdtsc, RDTSCP too) returns the host's TSC plus
// env->tsc_offset, the field VT-x and SVM call the TSC offset: with it a restored or migrated
// guest's TSC goes on from its saved value instead of jumping by the time the machine spent
// saved (Linux's soft-lockup and RCU watchdogs take such a jump for a CPU stuck that long).
//
// The field is private to Unicorn, so it is found the way the exception state's fields are:
// QEMU 5's CPUX86State puts it right after old_exception and vm_vmcb, so the candidates are the
// few 8-byte slots just past old_exception (found by the exception-state probe); each is proven
// in a scratch engine by behaviour (with the slot set to 2^60, RDTSC must read at least that, and
// with it 0 it must not), and exactly one must pass. Otherwise there is no offset, and the guest
// TSC is the host's as before.
#pragma once
#include <cstddef>
#include <cstdint>
#include <string>

#include <unicorn/unicorn.h>

namespace vmm {

struct TscOffsetLayout {
  bool found = false;
  size_t context_offset = 0;  // in a saved context (uc_context_save), as ExceptionStateLayout's
  std::string why_not;
};

TscOffsetLayout probe_tsc_offset(size_t old_exception_offset);

// Reads or writes the live engine's offset through a saved context.
bool read_tsc_offset(uc_engine* uc, const TscOffsetLayout& layout, int64_t* offset);
bool write_tsc_offset(uc_engine* uc, const TscOffsetLayout& layout, int64_t offset);

}  // namespace vmm
