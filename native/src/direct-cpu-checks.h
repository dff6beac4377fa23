// What Unicorn's CPU carries out under `direct` that the CPU the guest is told about refuses.
//
// Under `trap` and `bt` the guest kernel's MOV to CR4 traps and the VMM emulates it, refusing with
// #GP(0) a bit that CPUID does not offer (SDM Vol. 3 §2.5: setting a reserved or unsupported CR4
// bit raises #GP(0)). Under `direct` it runs in Unicorn, whose CPU takes any bit: CR4.LA57 on a
// CPU that has no 5-level paging, for one. The addon is linked with --wrap for QEMU's
// helper_write_crN (binding.gyp); while a direct vCPU runs, the wrapper raises #GP(0) for a CR4
// value with a bit outside the supported set, at the instruction (QEMU's own exception path,
// with the return address into the translated block, restores EIP to the MOV), before anything
// of it takes effect.
//
// RDMSR and WRMSR of an MSR the CPU model lacks (src/vmm/cpu-model.ts, absentMsrs: on a 32-bit
// model EFER and the other 64-bit MSRs) raise #GP(0) the same way, before Unicorn's helper reads
// or writes it.
//
// The checks are in force under every engine: the trap and bt engines' guest runs as under
// direct until it is deprivileged (real mode), and once it is, its kernel's privileged
// instructions fault at ring 1 before any of these helpers runs.
//
// A MOV to DR7 (or to DR0-DR3 of an enabled breakpoint) that arms or disarms an instruction
// breakpoint makes QEMU flush every translation (breakpoint_invalidate), which QEMU defers until
// the CPU leaves the block but Unicorn does at once, under the block that is running: the host
// crashed (SIGSEGV) when a guest armed one (KVM's emulator test does). The wrapped helper_set_dr
// keeps such a value in the debug register without arming anything, as the `trap` and `bt`
// engines keep the guest's debug registers: hardware breakpoints are held but not carried out.
#pragma once
#include <cstdint>
#include <vector>

#include <unicorn/unicorn.h>

namespace vmm {

// The MSRs of the VMM's platform (the local APIC's IA32_APIC_BASE), which the CPU alone cannot
// carry out: RDMSR and WRMSR of the guest are offered to the VMM first (QEMU's helper_rdmsr and
// helper_wrmsr are wrapped), as the trap and bt engines' emulation does.
class PlatformMsrs {
 public:
  virtual ~PlatformMsrs() = default;
  // True when the MSR is the platform's (`value` filled in / taken).
  virtual bool read_platform_msr(uint32_t index, uint64_t* value) = 0;
  virtual bool write_platform_msr(uint32_t index, uint64_t value) = 0;
};

struct DirectCpuChecks {
  uc_engine* uc = nullptr;
  PlatformMsrs* msrs = nullptr;
  // The CR4 bits a MOV to CR4 may set (the VMM's CPU model says which: cpuid.ts).
  uint32_t cr4_supported = ~0u;
  // MSRs the CPU model lacks though Unicorn's has them (cpu-model.ts, absentMsrs): RDMSR and
  // WRMSR of one raise #GP(0).
  std::vector<uint32_t> absent_msrs;
  bool msr_absent(uint32_t index) const {
    for (uint32_t absent : absent_msrs) {
      if (absent == index) return true;
    }
    return false;
  }
};

// Set by a vCPU around each of its runs (null after), on the thread that runs it.
void set_running_cpu_checks(const DirectCpuChecks* checks);
// The checks in force on this thread (null outside a vCPU's run).
const DirectCpuChecks* running_cpu_checks();

}  // namespace vmm
