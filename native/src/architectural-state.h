// The guest's architectural CPU state under an engine that deprivileges it (trap, bt): what
// save_cpu_state() would give had the guest run under direct. The deprivileged vCPU holds the
// guest's general registers, EIP, data-segment selectors, x87/SSE and MSRs, but the VMM's control
// registers, descriptor tables, ring-1 code and stack segments (with limits cut below the hole)
// and flags of its own; the engine keeps the guest's in its virtual CPU. The composition runs in
// a scratch Unicorn engine over the same guest RAM, so the running vCPU is not touched: the
// deprivileged state is restored there, the guest's system registers written, the CPL made the
// guest's, and every segment register loaded again from the guest's own GDT or LDT, as the CPU
// loaded it (segment caches included).
#pragma once
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

namespace vmm {

// What the engine keeps virtual, as the guest believes it.
struct GuestSystemState {
  uint32_t cr0, cr2, cr3, cr4;
  uint32_t gdtr_base, gdtr_limit, idtr_base, idtr_limit;
  uint32_t ldtr, tr;  // selectors
  uint32_t eflags;
  uint32_t cs, ss;  // the guest's selectors (RPL 0 for its kernel)
  uint32_t eip;
  uint32_t dr[8];
};

// `deprivileged`: the vCPU's saved state (save_cpu_state); `hflags_offset`: where a saved
// context keeps hflags (ExceptionStateLayout). False, with why_not, when a segment the guest
// holds does not load from its own tables (they changed under it) or a debug register is armed.
bool compose_architectural_state(uint8_t* ram, size_t ram_bytes, const std::vector<uint8_t>& deprivileged,
                                 const GuestSystemState& guest, size_t hflags_offset, std::vector<uint8_t>* out,
                                 std::string* why_not);

}  // namespace vmm
