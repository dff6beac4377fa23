// Unicorn 2.1.1 (QEMU 5.0's x86 translator) keeps the arithmetic flags lazily: env->cc_op names
// the last flag-setting operation and CC_SRC/CC_DST hold its operands; the translator stores its
// own cc_op into env only where something needs it. CMPXCHG8B's helpers (helper_cmpxchg8b and
// helper_cmpxchg8b_unlocked) compute the flags they keep with cpu_cc_compute_all(env, env->cc_op)
// without that store, so after an earlier flag-setting instruction of the same translated block
// env->cc_op is stale. When it reads CC_OP_EFLAGS (as after every uc_emu_start, whose CPU entry
// sets it, and after POPF or IRET), the "flags" are that instruction's CC_SRC operand, any 32-bit
// value (an ADD's source register: a kernel pointer in Linux's SLUB fast path), and the helper
// stores them back as CC_SRC under CC_OP_EFLAGS. A run that ends before the next flag-setting
// instruction then folds them into EFLAGS: VM, IF, DF, TF, NT, IOPL, AC or reserved bits, set in
// the guest for good. Exact stops, which stop and restart the guest every few tens of
// microseconds while an interrupt waits, made that likely enough to be seen.
//
// cpu_cc_compute_all's result is by definition the six arithmetic flags, and it is the one path
// by which a stale operand becomes EFLAGS bits: the CMPXCHG8B helpers, the end of a run and
// uc_reg_read all call it. The addon is linked with --wrap for it (binding.gyp), and the wrapper
// keeps those six bits only. The other arithmetic flags after a CMPXCHG8B that ran with a stale
// cc_op can still differ from the ones it should have left alone, as in Unicorn; ZF, the flag
// code tests after it, is exact.
#include <cstdint>

#include "x86.h"

struct CPUX86State;

extern "C" {

uint32_t __real_cpu_cc_compute_all_x86_64(CPUX86State* env, int op);

__attribute__((visibility("hidden"))) uint32_t __wrap_cpu_cc_compute_all_x86_64(CPUX86State* env, int op) {
  return __real_cpu_cc_compute_all_x86_64(env, op) & vmm::kArithmeticFlags;
}

}  // extern "C"
