// EFLAGS.RF as the guest sees it through PUSHF (SDM Vol. 2B, PUSHF/PUSHFD: "the VM and RF flags
// are not copied; instead, the values for these flags are cleared in the EFLAGS image stored on
// the stack"; Vol. 3 §18.3.1.1: the processor clears RF at the end of every instruction but IRET,
// POPF and JMP/CALL/INT to a task, whose image may set it).
//
// Unicorn 2.1.1 (QEMU 5.0) loads RF from an IRET image and never clears it, and its PUSHF pushes
// helper_read_eflags, which keeps it: after an IRET whose image had RF, every later PUSHF shows RF
// set (kvm-unit-tests' realmode test checks it). The addon is linked with --wrap for that helper
// (binding.gyp), and the wrapper leaves RF out. Unicorn's other caller of the helper stores its
// result back into env->eflags (its sync of EFLAGS for hooks), where clearing RF is what the CPU
// does after the instruction anyway. VM is left as Unicorn has it: in virtual-8086 mode PUSHF
// faults to the monitor unless IOPL is 3, and the emulated CPU's VM flag lives in that word.
#include <cstdint>

#include "x86.h"

struct CPUX86State;

extern "C" {

uint64_t __real_helper_read_eflags_x86_64(CPUX86State* env);

__attribute__((visibility("hidden"))) uint64_t __wrap_helper_read_eflags_x86_64(CPUX86State* env) {
  return __real_helper_read_eflags_x86_64(env) & ~uint64_t{vmm::kFlagRf};
}

}  // extern "C"
