#include "event-injection.h"

#include <algorithm>
#include <cstring>
#include <vector>

#include "registers.h"
#include "vmm-region.h"
#include "x86.h"

namespace vmm {
namespace {

// #DE, #TS, #NP, #SS and #GP (SDM Vol. 3 §6.15, Table 6-4).
bool contributory(uint32_t vector) { return vector == kDe || (vector >= kTs && vector <= kGp); }

}  // namespace

uint32_t EventInjector::reg(int id) {
  uint32_t value = 0;
  uc_reg_read(uc_, id, &value);
  return value;
}

PagingState EventInjector::paging() {
  if (trap_view_) return trap_view_->guest_paging;
  return {reg(UC_X86_REG_CR0), reg(UC_X86_REG_CR3), reg(UC_X86_REG_CR4)};
}

EventInjector::MaybeFault EventInjector::read_linear(uint32_t linear, void* out, uint32_t length, uint32_t access, bool guest_mapping_only) {
  PagingState state = paging();
  uint8_t* bytes = static_cast<uint8_t*>(out);
  // The VMM's own tables (the real GDT) live in the hole, which no guest mapping reaches.
  if (trap_view_ && !guest_mapping_only && linear >= kHoleLinear && linear - kHoleLinear + length <= kRegionMappedBytes) {
    std::memcpy(out, trap_view_->hole_memory + (linear - kHoleLinear), length);
    return std::nullopt;
  }
  // One walk per page touched.
  for (uint32_t i = 0; i < length;) {
    uint32_t address = linear + i;
    uint32_t chunk = std::min(length - i, 4096 - (address & 0xFFF));
    Translation t = walk_guest_page_tables(ram_, state, address, access);
    if (!t.ok) return Fault{kPf, t.page_fault_error, address};
    if (!ram_.contains(t.physical, chunk)) return Fault{kGp, 0, 0};
    std::memcpy(bytes + i, ram_.at(t.physical), chunk);
    i += chunk;
  }
  return std::nullopt;
}

EventInjector::MaybeFault EventInjector::write_linear(uint32_t linear, const void* data, uint32_t length, uint32_t access) {
  PagingState state = paging();
  const uint8_t* bytes = static_cast<const uint8_t*>(data);
  // Every page is translated first, so that a fault leaves memory untouched; then once more for
  // the write (a walk per page, each page's bytes contiguous behind it).
  for (int pass = 0; pass < 2; pass++) {
    for (uint32_t i = 0; i < length;) {
      uint32_t address = linear + i;
      uint32_t chunk = std::min(length - i, 4096 - (address & 0xFFF));
      Translation t = walk_guest_page_tables(ram_, state, address, access | kAccessWrite);
      if (!t.ok) return Fault{kPf, t.page_fault_error, address};
      if (!ram_.contains(t.physical, chunk)) return Fault{kGp, 0, 0};
      // Through Unicorn's physical write path, which drops translations of any code on the page.
      // (uc_ctl_remove_cache would take virtual addresses and translate them as an instruction
      // fetch at the current CPL: at CPL 3 that faults on a supervisor stack and clobbers CR2.)
      if (pass == 1) uc_mem_write(uc_, t.physical, bytes + i, chunk);
      i += chunk;
    }
  }
  return std::nullopt;
}

EventInjector::MaybeFault EventInjector::read_descriptor(uint32_t selector, uint32_t ext, SegmentDescriptor* out) {
  uc_x86_mmr table{};
  if (selector & 4) {
    uc_reg_read(uc_, UC_X86_REG_LDTR, &table);
  } else {
    uc_reg_read(uc_, UC_X86_REG_GDTR, &table);
  }
  uint32_t index = selector & ~7u;
  if ((selector & ~3u) == 0 || index + 7 > table.limit) return Fault{kGp, (selector & 0xFFFC) | ext, 0};
  uint64_t raw = 0;
  if (MaybeFault f = read_linear(static_cast<uint32_t>(table.base) + index, &raw, 8, 0)) return f;
  *out = decode_descriptor(raw);
  return std::nullopt;
}

EventInjector::MaybeFault EventInjector::deliver_real_mode(const GuestEvent& event) {
  // SDM §20.1.4: the IVT holds 4-byte far pointers; FLAGS, CS, IP are pushed and IF, TF, AC cleared.
  uc_x86_mmr idtr{};
  uc_reg_read(uc_, UC_X86_REG_IDTR, &idtr);
  if (event.vector * 4 + 3 > idtr.limit) return Fault{kGp, 0, 0};
  uint32_t entry = 0;
  if (!ram_.contains(idtr.base + event.vector * 4, 4)) return Fault{kGp, 0, 0};
  entry = ram_.read32(idtr.base + event.vector * 4);
  uint32_t ss = reg(UC_X86_REG_SS), sp = reg(UC_X86_REG_ESP) & 0xFFFF;
  uint32_t flags = reg(UC_X86_REG_EFLAGS);
  uint16_t frame[3] = {static_cast<uint16_t>(flags), static_cast<uint16_t>(reg(UC_X86_REG_CS)),
                       static_cast<uint16_t>(reg(UC_X86_REG_EIP))};
  for (uint16_t word : frame) {
    sp = (sp - 2) & 0xFFFF;
    uint32_t address = (ss << 4) + sp;
    if (!ram_.contains(address, 2)) return Fault{kSs, 0, 0};
    std::memcpy(ram_.at(address), &word, 2);
  }
  uint32_t esp = (reg(UC_X86_REG_ESP) & 0xFFFF0000u) | sp;
  uint32_t cs = entry >> 16, ip = entry & 0xFFFF;
  flags &= ~(kFlagIf | kFlagTf | kFlagAc);
  uc_reg_write(uc_, UC_X86_REG_ESP, &esp);
  uc_reg_write(uc_, UC_X86_REG_CS, &cs);
  uc_reg_write(uc_, UC_X86_REG_EIP, &ip);
  uc_reg_write(uc_, UC_X86_REG_EFLAGS, &flags);
  return std::nullopt;
}

EventInjector::MaybeFault EventInjector::deliver_protected(const GuestEvent& event, std::string* unsupported) {
  // EXT (bit 0 of a resulting error code) marks faults raised while delivering an event that
  // did not come from an INT n instruction (SDM §6.13).
  const uint32_t ext = event.source == EventSource::kSoftware ? 0 : 1;
  const uint32_t idt_error = event.vector * 8 + 2 + ext;
  uint32_t old_flags = reg(UC_X86_REG_EFLAGS);
  uc_x86_mmr idtr{};
  uc_reg_read(uc_, UC_X86_REG_IDTR, &idtr);
  if (event.vector * 8 + 7 > idtr.limit) return Fault{kGp, idt_error, 0};
  uint64_t gate = 0;
  if (MaybeFault f = read_linear(static_cast<uint32_t>(idtr.base) + event.vector * 8, &gate, 8, 0)) return f;
  uint32_t gate_hi = static_cast<uint32_t>(gate >> 32);
  SegmentDescriptor gate_descriptor = decode_descriptor(gate);
  // A gate is a system descriptor (S clear); the type alone means nothing with S set.
  uint32_t gate_type = gate_descriptor.system ? gate_descriptor.type : ~0u;
  uint32_t cpl = reg(UC_X86_REG_CS) & 3;
  // The trap engine's guest kernel runs on real ring 1: privilege checks are made, and the frame
  // is written, as the guest's ring 0 would see them (its descriptors have DPL 1 in the real GDT).
  auto guest_level = [this](uint32_t level) { return trap_view_ && level == kGuestKernelRing ? 0u : level; };
  uint32_t guest_cpl = guest_level(cpl);

  if (gate_type == kSystemTaskGate) {
    if (event.source == EventSource::kSoftware && gate_descriptor.dpl < guest_cpl) return Fault{kGp, idt_error, 0};
    if (!gate_descriptor.present) return Fault{kNp, idt_error, 0};
    return switch_task_through_gate(event, static_cast<uint32_t>(gate >> 16) & 0xFFFF, ext, unsupported);
  }
  // A task gate leaves virtual-8086 mode by a task switch; an interrupt or trap gate would have
  // to save the V86 segments on the ring-0 stack (§20.3.1.1), which is not modelled.
  if (old_flags & kFlagVm) {
    *unsupported = "event delivery from virtual-8086 mode through an interrupt or trap gate";
    return std::nullopt;
  }
  bool gate32 = gate_type == kSystemInterruptGate32 || gate_type == kSystemTrapGate32;
  bool interrupt_gate = gate_type == kSystemInterruptGate16 || gate_type == kSystemInterruptGate32;
  if (gate_type != kSystemInterruptGate16 && gate_type != kSystemTrapGate16 && !gate32) return Fault{kGp, idt_error, 0};
  // §6.12.1.1: only INT n, INT3 and INTO are checked against the gate's DPL.
  if (event.source == EventSource::kSoftware && gate_descriptor.dpl < guest_cpl) return Fault{kGp, idt_error, 0};
  if (!gate_descriptor.present) return Fault{kNp, idt_error, 0};

  uint32_t code_selector = static_cast<uint32_t>(gate >> 16) & 0xFFFF;
  uint32_t offset = static_cast<uint32_t>(gate & 0xFFFF) | (gate32 ? (gate_hi & 0xFFFF0000u) : 0);
  SegmentDescriptor code{};
  if ((code_selector & ~3u) == 0) return Fault{kGp, ext, 0};
  if (MaybeFault f = read_descriptor(code_selector, ext, &code)) return f;
  if (!code.is_code() || guest_level(code.dpl) > guest_cpl) return Fault{kGp, (code_selector & 0xFFFC) | ext, 0};
  if (!code.present) return Fault{kNp, (code_selector & 0xFFFC) | ext, 0};
  bool conforming = code.type & kSegmentConforming;
  uint32_t new_cpl = conforming ? cpl : code.dpl;

  uint32_t old_ss = reg(UC_X86_REG_SS), old_esp = reg(UC_X86_REG_ESP);
  uint32_t new_ss = old_ss, new_esp = old_esp;
  SegmentDescriptor stack{};
  std::vector<uint32_t> frame;  // pushed in order
  if (new_cpl < cpl) {
    // §6.12.1: the inner stack comes from the TSS.
    uc_x86_mmr tr{};
    uc_reg_read(uc_, UC_X86_REG_TR, &tr);
    uint32_t tss_type = descriptor_type(tr.flags);
    uint32_t stack_slot = new_cpl;
    if (trap_view_) {
      // The guest's TSS, and its ring-0 stack for the kernel that runs on ring 1.
      tr.base = trap_view_->guest_tss_base;
      tr.limit = trap_view_->guest_tss_limit;
      tss_type = kSystemTss32Available;
      stack_slot = 0;
    }
    bool tss32 = tss_type == kSystemTss32Available || tss_type == kSystemTss32Busy;
    uint32_t at = tss32 ? 4 + stack_slot * 8 : 2 + stack_slot * 4;
    uint32_t width = tss32 ? 4 : 2;
    if (at + 2 * width - 1 > tr.limit) return Fault{kTs, (tr.selector & 0xFFFC) | ext, 0};
    uint32_t tss_esp = 0, tss_ss = 0;
    if (MaybeFault f = read_linear(static_cast<uint32_t>(tr.base) + at, &tss_esp, width, 0)) return f;
    if (MaybeFault f = read_linear(static_cast<uint32_t>(tr.base) + at + width, &tss_ss, 2, 0)) return f;
    new_ss = tss_ss & 0xFFFF;
    if (trap_view_ && (new_ss & ~3u) != 0) new_ss = (new_ss & ~3u) | new_cpl;
    new_esp = tss_esp;
    if ((new_ss & ~3u) == 0) return Fault{kTs, ext, 0};
    if (MaybeFault f = read_descriptor(new_ss, ext, &stack)) return Fault{kTs, (new_ss & 0xFFFC) | ext, 0};
    bool writable_data = stack.is_data() && (stack.type & kSegmentWritable);
    if ((new_ss & 3) != new_cpl || stack.dpl != new_cpl || !writable_data) return Fault{kTs, (new_ss & 0xFFFC) | ext, 0};
    if (!stack.present) return Fault{kSs, (new_ss & 0xFFFC) | ext, 0};
    if (new_cpl != 0 && !trap_view_) {
      *unsupported = "delivery into ring " + std::to_string(new_cpl);
      return std::nullopt;
    }
    frame.push_back(old_ss);
    frame.push_back(old_esp);
  } else {
    if (MaybeFault f = read_descriptor(old_ss, ext, &stack)) return f;
  }
  frame.push_back(trap_view_ ? old_flags & ~trap_view_->hidden_flags : old_flags);
  uint32_t old_cs = reg(UC_X86_REG_CS);
  frame.push_back(guest_cpl != cpl ? old_cs & ~3u : old_cs);
  frame.push_back(reg(UC_X86_REG_EIP));
  if (event.has_error_code) frame.push_back(event.error_code);

  // Push the frame (32-bit gates push dwords, 16-bit gates words; SDM Figure 6-4).
  uint32_t width = gate32 ? 4 : 2;
  uint32_t esp = new_esp;
  uint32_t stack_access = new_cpl == 3 ? static_cast<uint32_t>(kAccessUser) : 0u;
  for (uint32_t value : frame) {
    esp -= width;
    uint32_t offset_in_segment = stack.big ? esp : (esp & 0xFFFF);
    if (MaybeFault f = write_linear(stack.base + offset_in_segment, &value, width, stack_access)) return f;
  }
  if (!stack.big) esp = (new_esp & 0xFFFF0000u) | (esp & 0xFFFF);

  // Commit: stack, code segment, EIP, flags.
  uint32_t committed_flags = old_flags & ~(kFlagTf | kFlagNt | kFlagRf | kFlagVm | (interrupt_gate ? kFlagIf : 0));
  if (new_cpl < cpl && trap_view_) {
    trap_view_->enter((code_selector & ~3u) | new_cpl, offset, committed_flags, new_ss, esp);
    return std::nullopt;
  }
  uc_err stack_loaded = new_cpl < cpl ? load_ring0_stack_segment(uc_, live_, new_ss) : uc_reg_write(uc_, UC_X86_REG_SS, &new_ss);
  if (stack_loaded != UC_ERR_OK) {
    *unsupported = "the emulated CPU refused the new stack segment";
    return std::nullopt;
  }
  uint32_t new_cs = (code_selector & ~3u) | new_cpl;
  if (uc_reg_write(uc_, UC_X86_REG_CS, &new_cs) != UC_ERR_OK) {
    *unsupported = "the emulated CPU refused the handler's code segment";
    return std::nullopt;
  }
  uc_reg_write(uc_, UC_X86_REG_ESP, &esp);
  uc_reg_write(uc_, UC_X86_REG_EIP, &offset);
  uc_reg_write(uc_, UC_X86_REG_EFLAGS, &committed_flags);
  return std::nullopt;
}

uint32_t EventInjector::current_linear_eip() {
  uint32_t cs = reg(UC_X86_REG_CS), eip = reg(UC_X86_REG_EIP);
  if (!(reg(UC_X86_REG_CR0) & kCr0Pe)) return (cs << 4) + eip;
  SegmentDescriptor code{};
  if (read_descriptor(cs, 0, &code)) return eip;
  return code.base + eip;
}

uint32_t EventInjector::int_instruction_length(uint32_t vector) {
  // Unicorn reports INT n through the same hook as exceptions, with EIP already past the
  // instruction. INT3 (CC) and INTO (CE) are one byte, INT n (CD ib) two (SDM Vol. 2, INT n).
  if (vector != kBp && vector != kOf) return 2;
  uint32_t cs = reg(UC_X86_REG_CS), eip = reg(UC_X86_REG_EIP);
  uint32_t cs_base = cs << 4;
  if (reg(UC_X86_REG_CR0) & kCr0Pe) {
    SegmentDescriptor code{};
    if (read_descriptor(cs, 0, &code)) return 1;
    cs_base = code.base;
  }
  uint8_t before[2] = {0, 0};
  if (eip >= 2 && !read_linear(cs_base + eip - 2, before, 2, 0) && before[0] == kOpcodeIntN && before[1] == vector) return 2;
  return 1;
}

DeliveryOutcome EventInjector::deliver(GuestEvent event) {
  for (int attempt = 0; attempt < 4; attempt++) {
    std::string unsupported;
    bool protected_mode = reg(UC_X86_REG_CR0) & kCr0Pe;
    task_switch_requested_ = false;
    MaybeFault fault = protected_mode ? deliver_protected(event, &unsupported) : deliver_real_mode(event);
    if (!unsupported.empty()) return {DeliveryResult::kUnsupported, event.vector, unsupported};
    if (task_switch_requested_) return {DeliveryResult::kTaskSwitch, event.vector, "a task switch"};
    if (!fault) return {DeliveryResult::kDelivered, event.vector, ""};
    // A fault while delivering (SDM §6.15, Table 6-5).
    if (event.vector == kDf && event.source == EventSource::kException) {
      return {DeliveryResult::kShutdown, event.vector, "triple fault: delivering #DF raised vector " + std::to_string(fault->vector)};
    }
    bool first_contributory = event.source == EventSource::kException && contributory(event.vector);
    bool first_page_fault = event.source == EventSource::kException && event.vector == kPf;
    bool double_fault = (first_contributory && contributory(fault->vector)) ||
                        (first_page_fault && (fault->vector == kPf || contributory(fault->vector)));
    if (!protected_mode && !double_fault) {
      // Real mode has no error codes and no #DF escalation path we can model usefully.
      return {DeliveryResult::kShutdown, event.vector, "real-mode delivery of vector " + std::to_string(event.vector) + " faulted"};
    }
    if (fault->vector == kPf) write_register(uc_, kRegCr2, fault->cr2);
    // A fault while delivering INT n, INT3 or INTO is a fault of that instruction: the handler
    // returns to it and it runs again (SDM §6.5), so EIP goes back to its start.
    if (event.source == EventSource::kSoftware) {
      uint32_t eip = reg(UC_X86_REG_EIP) - int_instruction_length(event.vector);
      uc_reg_write(uc_, UC_X86_REG_EIP, &eip);
    }
    event = double_fault ? GuestEvent{kDf, EventSource::kException, true, 0}
                         : GuestEvent{fault->vector, EventSource::kException, fault->vector != 0, fault->error_code};
  }
  return {DeliveryResult::kShutdown, event.vector, "events kept faulting during delivery"};
}

}  // namespace vmm
