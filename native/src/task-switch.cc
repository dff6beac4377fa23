// Delivery of an event through an IDT task gate: a task switch (Intel SDM Vol. 3A §7.3, "Task
// Switching", the steps for an interrupt or exception handled by a task, which nest like a CALL).
// The current state goes into the current TSS; the new TSS is marked busy, links back to the old
// one and is loaded whole (CR3, EIP, EFLAGS with NT set, the general registers, the segment
// registers and the LDT); CR0.TS is set; an error code is pushed on the new task's stack. The
// way back is the handler task's IRET with NT set, which the emulated CPU carries out itself.
//
// Only 32-bit TSSs, and only for a guest the CPU runs as it is. The trap engine's deprivileged
// kernel, whose TR and segments are the VMM's, gets a request instead (kTaskSwitch), which the
// engine carries out. A fault found while checking the
// new TSS is raised in the old task, before anything is saved; one found while loading the new
// task (its LDT, its stack for the error code) is raised in the new task, as §7.3 orders.
#include <cstring>

#include "event-injection.h"
#include "live-cpu-state.h"
#include "registers.h"

namespace vmm {

namespace {

// The 32-bit TSS (SDM Vol. 3A Figure 7-2).
constexpr uint32_t kTssLink = 0x00;
constexpr uint32_t kTssCr3 = 0x1C;
constexpr uint32_t kTssEip = 0x20;
constexpr uint32_t kTssEflags = 0x24;
constexpr uint32_t kTssEax = 0x28;  // then ECX, EDX, EBX, ESP, EBP, ESI, EDI
constexpr uint32_t kTssEs = 0x48;   // then CS, SS, DS, FS, GS
constexpr uint32_t kTssLdt = 0x60;
constexpr uint32_t kTssMinimumLimit = 0x67;
constexpr uint32_t kDescriptorBusyBit = 1u << 9;  // in the high dword: type bit 1

constexpr int kGeneralRegisters[8] = {UC_X86_REG_EAX, UC_X86_REG_ECX, UC_X86_REG_EDX, UC_X86_REG_EBX,
                                      UC_X86_REG_ESP, UC_X86_REG_EBP, UC_X86_REG_ESI, UC_X86_REG_EDI};
constexpr int kSegmentRegisters[6] = {UC_X86_REG_ES, UC_X86_REG_CS, UC_X86_REG_SS,
                                      UC_X86_REG_DS, UC_X86_REG_FS, UC_X86_REG_GS};

}  // namespace

EventInjector::MaybeFault EventInjector::switch_task_through_gate(const GuestEvent& event, uint32_t tss_selector, uint32_t ext,
                                                                  std::string* unsupported) {
  if (trap_view_) {
    // The deprivileged kernel's task state is the engine's (src/engines/trap/task-switch.ts).
    task_switch_ = {event, tss_selector, ext};
    task_switch_requested_ = true;
    return std::nullopt;
  }
  // The new TSS: a GDT descriptor of an available 32-bit TSS, present, at least 104 bytes.
  if (tss_selector & 4) return Fault{kGp, (tss_selector & 0xFFFC) | ext, 0};
  uc_x86_mmr gdtr{};
  uc_reg_read(uc_, UC_X86_REG_GDTR, &gdtr);
  uint32_t index = tss_selector & ~7u;
  if (index == 0 || index + 7 > gdtr.limit) return Fault{kGp, (tss_selector & 0xFFFC) | ext, 0};
  uint32_t descriptor_at = static_cast<uint32_t>(gdtr.base) + index;
  uint32_t raw[2] = {0, 0};
  if (MaybeFault f = read_linear(descriptor_at, raw, 8, 0)) return f;
  SegmentDescriptor tss = decode_descriptor(raw[0], raw[1]);
  if (!tss.system || tss.type != kSystemTss32Available) {
    if (tss.system && tss.type == 0x1) {
      *unsupported = "a 16-bit TSS behind the task gate in IDT entry " + std::to_string(event.vector);
      return std::nullopt;
    }
    return Fault{kGp, (tss_selector & 0xFFFC) | ext, 0};
  }
  if (!tss.present) return Fault{kNp, (tss_selector & 0xFFFC) | ext, 0};
  if (tss.limit < kTssMinimumLimit) return Fault{kTs, (tss_selector & 0xFFFC) | ext, 0};

  // Read the new task's state before touching anything (a fault here leaves the old task whole).
  uint32_t incoming[0x68 / 4] = {};
  if (MaybeFault f = read_linear(tss.base, incoming, sizeof incoming, 0)) return f;
  auto field = [&incoming](uint32_t offset) { return incoming[offset / 4]; };

  // Save the outgoing task into its TSS: EIP (where it resumes), EFLAGS, registers, selectors.
  uc_x86_mmr tr{};
  uc_reg_read(uc_, UC_X86_REG_TR, &tr);
  uint32_t tr_type = descriptor_type(tr.flags);
  if (tr_type != kSystemTss32Busy && tr_type != kSystemTss32Available) {
    *unsupported = "a task switch away from a task without a 32-bit TSS";
    return std::nullopt;
  }
  uint32_t outgoing[(kTssLdt - kTssEip) / 4] = {};
  outgoing[0] = reg(UC_X86_REG_EIP);
  outgoing[1] = reg(UC_X86_REG_EFLAGS);
  for (int i = 0; i < 8; i++) outgoing[2 + i] = reg(kGeneralRegisters[i]);
  for (int i = 0; i < 6; i++) outgoing[10 + i] = reg(kSegmentRegisters[i]) & 0xFFFF;
  if (MaybeFault f = write_linear(static_cast<uint32_t>(tr.base) + kTssEip, outgoing, sizeof outgoing, 0)) return f;

  // Nesting (an event switches like CALL): the new task links back and is marked busy; the old
  // one stays busy.
  uint32_t link = tr.selector;
  if (MaybeFault f = write_linear(tss.base + kTssLink, &link, 2, 0)) return f;
  uint32_t busy_high = raw[1] | kDescriptorBusyBit;
  if (MaybeFault f = write_linear(descriptor_at + 4, &busy_high, 4, 0)) return f;

  // Load the new task.
  uc_x86_mmr new_tr{static_cast<uint16_t>(tss_selector), tss.base, tss.limit, busy_high};
  uc_reg_write(uc_, UC_X86_REG_TR, &new_tr);
  write_register(uc_, kRegCr0, reg(UC_X86_REG_CR0) | kCr0Ts);
  if (reg(UC_X86_REG_CR0) & kCr0Pg) write_register(uc_, kRegCr3, field(kTssCr3));
  uint32_t ldt_selector = field(kTssLdt) & 0xFFFF;
  uc_x86_mmr ldtr{static_cast<uint16_t>(ldt_selector), 0, 0, 0};
  if (ldt_selector & ~3u) {
    SegmentDescriptor ldt{};
    uint32_t ldt_raw[2] = {0, 0};
    if ((ldt_selector & 4) || (ldt_selector | 7) > gdtr.limit ||
        read_linear(static_cast<uint32_t>(gdtr.base) + (ldt_selector & ~7u), ldt_raw, 8, 0)) {
      return Fault{kTs, (ldt_selector & 0xFFFC) | ext, 0};
    }
    ldt = decode_descriptor(ldt_raw[0], ldt_raw[1]);
    if (!ldt.system || ldt.type != 0x2 || !ldt.present) return Fault{kTs, (ldt_selector & 0xFFFC) | ext, 0};
    ldtr = {static_cast<uint16_t>(ldt_selector), ldt.base, ldt.limit, ldt_raw[1]};
  }
  uc_reg_write(uc_, UC_X86_REG_LDTR, &ldtr);
  for (int i = 0; i < 8; i++) {
    uint32_t value = field(kTssEax + 4 * i);
    uc_reg_write(uc_, kGeneralRegisters[i], &value);
  }
  // EFLAGS first, so that the selectors load as protected mode or virtual-8086 mode ones as the
  // new task runs. Into ring 0 the stack goes first (it takes the CPU to CPL 0, which the code
  // segment is checked against); elsewhere CS sets the privilege SS is checked against.
  uint32_t eflags = field(kTssEflags) | kFlagNt | 0x2;
  uc_reg_write(uc_, UC_X86_REG_EFLAGS, &eflags);
  uint32_t cs = field(kTssEs + 4) & 0xFFFF;
  uint32_t ss = field(kTssEs + 8) & 0xFFFF;
  bool to_ring0 = (cs & 3) == 0 && !(eflags & kFlagVm);
  if (to_ring0 && load_ring0_stack_segment(uc_, live_, ss) != UC_ERR_OK) {
    *unsupported = "the emulated CPU refused the new task's stack segment";
    return std::nullopt;
  }
  if (uc_reg_write(uc_, UC_X86_REG_CS, &cs) != UC_ERR_OK) {
    *unsupported = "the emulated CPU refused the new task's code segment";
    return std::nullopt;
  }
  if (!to_ring0 && uc_reg_write(uc_, UC_X86_REG_SS, &ss) != UC_ERR_OK) {
    *unsupported = "the emulated CPU refused the new task's stack segment";
    return std::nullopt;
  }
  for (int i : {0, 3, 4, 5}) {
    uint32_t selector = field(kTssEs + 4 * i) & 0xFFFF;
    if (uc_reg_write(uc_, kSegmentRegisters[i], &selector) != UC_ERR_OK) {
      *unsupported = "the emulated CPU refused a data segment of the new task";
      return std::nullopt;
    }
  }
  uint32_t eip = field(kTssEip);
  uc_reg_write(uc_, UC_X86_REG_EIP, &eip);

  // The error code goes on the new task's stack (§6.12.2, "Interrupt Tasks").
  if (event.has_error_code) {
    SegmentDescriptor stack{};
    if (MaybeFault f = read_descriptor(ss, ext, &stack)) return f;
    uint32_t esp = reg(UC_X86_REG_ESP) - 4;
    uint32_t offset_in_segment = stack.big ? esp : (esp & 0xFFFF);
    if (MaybeFault f = write_linear(stack.base + offset_in_segment, &event.error_code, 4, 0)) return f;
    uc_reg_write(uc_, UC_X86_REG_ESP, &esp);
  }
  return std::nullopt;
}

}  // namespace vmm
