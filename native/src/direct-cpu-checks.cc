#include "direct-cpu-checks.h"

#include "x86.h"

struct CPUX86State;

namespace vmm {
namespace {

thread_local const DirectCpuChecks* t_checks = nullptr;

constexpr uint32_t kCr4De = 1u << 3;
constexpr uint32_t kDr7Fixed = 1u << 10;  // reads as 1 (SDM Vol. 3 §18.2.4)

uint32_t read32(uc_engine* uc, int id) {
  uint32_t value = 0;
  uc_reg_read(uc, id, &value);
  return value;
}

// Whether breakpoint `i` of `dr7` is enabled (L or G) as an instruction breakpoint (R/W = 00).
bool instruction_breakpoint(uint32_t dr7, int i) {
  return ((dr7 >> (2 * i)) & 3) != 0 && ((dr7 >> (16 + 4 * i)) & 3) == 0;
}

bool any_instruction_breakpoint(uint32_t dr7) {
  for (int i = 0; i < 4; i++) {
    if (instruction_breakpoint(dr7, i)) return true;
  }
  return false;
}

// Whether QEMU's MOV to DR`reg` would arm or disarm an instruction breakpoint (and so flush every
// translation); if so, the value is kept in the register as the guest wrote it, and true.
bool keep_debug_register(const DirectCpuChecks& checks, int reg, uint32_t value) {
  uint32_t dr7 = read32(checks.uc, UC_X86_REG_DR7);
  // DR5 is DR7 while CR4.DE is clear (SDM Vol. 3 §18.2.2); with DE set, QEMU raises #UD.
  if (reg == 5 && !(read32(checks.uc, UC_X86_REG_CR4) & kCr4De)) reg = 7;
  if (reg == 7) {
    if (!any_instruction_breakpoint(dr7) && !any_instruction_breakpoint(value)) return false;
    uint32_t kept = value | kDr7Fixed;
    uc_reg_write(checks.uc, UC_X86_REG_DR7, &kept);
    return true;
  }
  if (reg >= 0 && reg <= 3 && instruction_breakpoint(dr7, reg)) {
    uc_reg_write(checks.uc, UC_X86_REG_DR0 + reg, &value);
    return true;
  }
  return false;
}

}  // namespace

void set_running_cpu_checks(const DirectCpuChecks* checks) { t_checks = checks; }

const DirectCpuChecks* running_cpu_checks() { return t_checks; }

}  // namespace vmm

extern "C" {

void __real_helper_write_crN_x86_64(CPUX86State* env, int reg, uint64_t value);
void __real_helper_set_dr_x86_64(CPUX86State* env, int reg, uint64_t value);
void __real_helper_rdmsr_x86_64(CPUX86State* env);
void __real_helper_wrmsr_x86_64(CPUX86State* env);
[[noreturn]] void raise_exception_err_ra_x86_64(CPUX86State* env, int exception_index, int error_code, uintptr_t retaddr);

__attribute__((visibility("hidden"))) void __wrap_helper_write_crN_x86_64(CPUX86State* env, int reg, uint64_t value) {
  const vmm::DirectCpuChecks* checks = vmm::t_checks;
  if (checks != nullptr && reg == 4 && (value & ~uint64_t{checks->cr4_supported}) != 0) {
    // Called from translated code: the return address lets QEMU restore EIP to the MOV.
    raise_exception_err_ra_x86_64(env, vmm::kGp, 0, reinterpret_cast<uintptr_t>(__builtin_return_address(0)));
  }
  __real_helper_write_crN_x86_64(env, reg, value);
}

__attribute__((visibility("hidden"))) void __wrap_helper_set_dr_x86_64(CPUX86State* env, int reg, uint64_t value) {
  const vmm::DirectCpuChecks* checks = vmm::t_checks;
  if (checks != nullptr && vmm::keep_debug_register(*checks, reg, static_cast<uint32_t>(value))) return;
  __real_helper_set_dr_x86_64(env, reg, value);
}

// (Also reached from Unicorn's own register access, uc_reg_read/uc_reg_write of an MSR, which the
// vCPU makes with no checks in force.)
__attribute__((visibility("hidden"))) void __wrap_helper_rdmsr_x86_64(CPUX86State* env) {
  const vmm::DirectCpuChecks* checks = vmm::t_checks;
  uint32_t index = checks != nullptr ? vmm::read32(checks->uc, UC_X86_REG_ECX) : 0;
  if (checks != nullptr && checks->msr_absent(index)) {
    raise_exception_err_ra_x86_64(env, vmm::kGp, 0, reinterpret_cast<uintptr_t>(__builtin_return_address(0)));
  }
  if (checks != nullptr && checks->msrs != nullptr) {
    uint64_t value = 0;
    if (checks->msrs->read_platform_msr(index, &value)) {
      uint32_t low = static_cast<uint32_t>(value), high = static_cast<uint32_t>(value >> 32);
      uc_reg_write(checks->uc, UC_X86_REG_EAX, &low);
      uc_reg_write(checks->uc, UC_X86_REG_EDX, &high);
      return;
    }
  }
  __real_helper_rdmsr_x86_64(env);
}

__attribute__((visibility("hidden"))) void __wrap_helper_wrmsr_x86_64(CPUX86State* env) {
  const vmm::DirectCpuChecks* checks = vmm::t_checks;
  uint32_t index = checks != nullptr ? vmm::read32(checks->uc, UC_X86_REG_ECX) : 0;
  if (checks != nullptr && checks->msr_absent(index)) {
    raise_exception_err_ra_x86_64(env, vmm::kGp, 0, reinterpret_cast<uintptr_t>(__builtin_return_address(0)));
  }
  if (checks != nullptr && checks->msrs != nullptr) {
    uint64_t value = (uint64_t{vmm::read32(checks->uc, UC_X86_REG_EDX)} << 32) | vmm::read32(checks->uc, UC_X86_REG_EAX);
    if (checks->msrs->write_platform_msr(index, value)) return;
  }
  __real_helper_wrmsr_x86_64(env);
}

}  // extern "C"
