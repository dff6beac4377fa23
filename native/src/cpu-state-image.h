// The vCPU's whole architectural state as bytes, for snapshots and live migration: the general,
// segment (selector and hidden cache), control, debug and descriptor-table registers, EFLAGS, the
// x87/SSE state, the MSRs QEMU keeps (SYSENTER, EFER, PAT, TSC offset...), the interrupt shadow
// and NMI blocking (hflags, hflags2) and the exception in flight. It is Unicorn's own saved
// context (uc_context_save: QEMU's CPUX86State up to `retaddr`), so nothing is left out by a
// hand-made list; its layout belongs to the Unicorn build, which `cpu_state_format` names, and
// an image is restored only into the same format.
//
// The one part of that state that is not plain data: QEMU keeps pointers to the breakpoints it
// made for armed debug registers (cpu_breakpoint[], after dr[]). They are process-local, so a
// state whose DR7 arms a breakpoint is refused when saved and when restored; with none armed
// those slots are null in both processes.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include <unicorn/unicorn.h>

namespace vmm {

// "unicorn-<version>/x86-<bytes>": images of one format restore into an engine of the same.
std::string cpu_state_format(uc_engine* uc);

// The state now; false (with `why_not`) when it cannot be saved as plain data.
bool save_cpu_state(uc_engine* uc, std::vector<uint8_t>* image, std::string* why_not);

// Puts a saved state back; false (with `why_not`, the engine unchanged) for an image of another
// format or one that arms a debug register.
bool restore_cpu_state(uc_engine* uc, const uint8_t* image, size_t size, std::string* why_not);

}  // namespace vmm
