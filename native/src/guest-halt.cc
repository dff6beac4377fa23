#include "guest-halt.h"

struct CPUX86State;

namespace vmm {

GuestHalt& guest_halt() {
  static thread_local GuestHalt record;
  return record;
}

}  // namespace vmm

extern "C" {

void __real_helper_hlt_x86_64(CPUX86State* env, int next_eip_addend);

// Records first: the real helper does not return (it leaves the CPU loop by longjmp).
__attribute__((visibility("hidden"))) void __wrap_helper_hlt_x86_64(CPUX86State* env, int next_eip_addend) {
  vmm::GuestHalt& record = vmm::guest_halt();
  record.halted = true;
  record.length = static_cast<uint32_t>(next_eip_addend);
  __real_helper_hlt_x86_64(env, next_eip_addend);
}

}  // extern "C"
