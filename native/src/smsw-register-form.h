// SMSW into a 32-bit register stores all of CR0.
//
// The SDM (Vol. 2B, SMSW) leaves the upper half of a 32-bit destination undefined, but every
// Intel CPU since the Pentium stores CR0 whole there, QEMU does since 7.0, and software relies on
// it (KVM's realmode test checks it). Unicorn 2.1 translates with QEMU 5, which stores only CR0's
// low 16 bits and leaves the register's upper half as it was. The translation is inline TCG: no
// helper runs that could be wrapped.
//
// So the translator is shown another instruction with the same effect. At CPL 0, where MOV from
// CR0 is allowed, `SMSW r32` (0F 01 /4, mod 11, 32-bit operand size) reads exactly as
// `MOV r32, CR0` (0F 20 /0) does, which QEMU translates to a full 32-bit load of CR0. The addon
// is linked with --wrap for QEMU's translator loop and its code-byte fetch (binding.gyp): at the
// start of each instruction it translates, the loop's wrapper looks at the instruction's
// prefixes and opcode (bytes the translator is about to fetch itself); when it is that SMSW, the
// fetch wrapper hands the translator 20h for the 01h and the MOV's ModRM byte for SMSW's, for
// that instruction alone. Guest memory is not changed. At CPL 1-3 (where MOV from CR0 would fault,
// and the trap and bt engines run the guest kernel) SMSW is left as Unicorn has it; the
// trap engine's equivalence report names it as the sensitive instruction it is there.
#pragma once

#include "live-cpu-state.h"

namespace vmm {

// The CPU whose instructions are being translated on this thread (its privilege level and code
// size say which SMSW forms are rewritten): set by a vCPU around each run, null after. With
// null, nothing is rewritten.
void set_translating_cpu(const LiveCpuState* live);

}  // namespace vmm
