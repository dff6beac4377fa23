// Whether the guest executed HLT in the last run on this thread, and the instruction's length.
//
// Unicorn ends uc_emu_start after a HLT the same way as after an asynchronous stop, with EIP past
// the instruction, and its API says nothing of which it was. With exact stops a stop requested
// from the timer's thread (a time slice, an interrupt-window poll) or by a device during the
// block can be pending when the block ends in HLT: taken for the stop, the HLT was lost and the
// guest ran on past it (a guest that printed and halted with interrupts disabled ran off into
// whatever followed). The addon is linked with --wrap for Unicorn's HLT helper (binding.gyp),
// whose wrapper records the HLT here before the CPU halts (QEMU's helper_hlt, target/i386/
// misc_helper.c: EIP moves past the instruction, then the CPU loop exits).
#pragma once
#include <cstdint>

namespace vmm {

struct GuestHalt {
  bool halted = false;
  // The HLT's length (prefixes included): EIP less this is the instruction.
  uint32_t length = 0;
};

// This thread's record (uc_emu_start runs the guest, and so calls the helper, on its caller's
// thread). Clear it before each run.
GuestHalt& guest_halt();

}  // namespace vmm
