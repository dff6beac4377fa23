// Hypercalls (the VMM's paravirtual interface, `--pv kvm`): KVM's ABI
// (Documentation/virt/kvm/x86/hypercalls.rst). The guest kernel executes VMCALL (Intel) or
// VMMCALL (AMD) with the hypercall's number in EAX and its arguments in EBX, ECX, EDX and ESI;
// the result comes back in EAX and the guest goes on after the instruction.
//
// Neither instruction exists for this CPU: Unicorn raises #UD for both (it runs outside VMX
// operation and without SVM). While hypercalls are on, the vCPU looks at each #UD of the guest
// (not INT n) before it is delivered: if the instruction at CS:EIP is one of the two, it is a
// hypercall, answered through an inline exit (kInlineHypercall), and never reaches the guest's
// #UD handler. KVM also answers either instruction whatever the vendor (it patches the other one
// into the native one; here nothing is patched).
#pragma once
#include <cstdint>

namespace vmm {

constexpr uint32_t kHypercallInstructionLength = 3;

// 0F 01 C1 (VMCALL) or 0F 01 D9 (VMMCALL) (SDM Vol. 2C, VMCALL; AMD APM Vol. 3, VMMCALL).
inline bool is_hypercall_instruction(const uint8_t bytes[kHypercallInstructionLength]) {
  return bytes[0] == 0x0F && bytes[1] == 0x01 && (bytes[2] == 0xC1 || bytes[2] == 0xD9);
}

}  // namespace vmm
