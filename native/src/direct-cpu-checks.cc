#include "direct-cpu-checks.h"

#include "x86.h"

struct CPUX86State;

namespace vmm {
namespace {

thread_local const DirectCpuChecks* t_checks = nullptr;

}  // namespace

void set_running_cpu_checks(const DirectCpuChecks* checks) { t_checks = checks; }

}  // namespace vmm

extern "C" {

void __real_helper_write_crN_x86_64(CPUX86State* env, int reg, uint64_t value);
[[noreturn]] void raise_exception_err_ra_x86_64(CPUX86State* env, int exception_index, int error_code, uintptr_t retaddr);

__attribute__((visibility("hidden"))) void __wrap_helper_write_crN_x86_64(CPUX86State* env, int reg, uint64_t value) {
  const vmm::DirectCpuChecks* checks = vmm::t_checks;
  if (checks != nullptr && reg == 4 && (value & ~uint64_t{checks->cr4_supported}) != 0) {
    // Called from translated code: the return address lets QEMU restore EIP to the MOV.
    raise_exception_err_ra_x86_64(env, vmm::kGp, 0, reinterpret_cast<uintptr_t>(__builtin_return_address(0)));
  }
  __real_helper_write_crN_x86_64(env, reg, value);
}

}  // extern "C"
