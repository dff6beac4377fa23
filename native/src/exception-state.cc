#include "exception-state.h"

#include <cstdint>
#include <cstring>
#include <vector>

#include "live-cpu-state.h"
#include "x86.h"

namespace vmm {
namespace {

constexpr uint32_t kProbeSelector = 0x1234;
constexpr uint64_t kProbeCode = 0x1000;

void stop_on_interrupt(uc_engine* uc, uint32_t intno, void* user_data) {
  *static_cast<int*>(user_data) = static_cast<int>(intno);
  uc_emu_stop(uc);
}

std::vector<uint8_t> snapshot(uc_engine* uc, uc_context* ctx) {
  uc_context_save(uc, ctx);
  const uint8_t* p = reinterpret_cast<const uint8_t*>(ctx);
  return std::vector<uint8_t>(p, p + uc_context_size(uc));
}

int32_t int32_at(const std::vector<uint8_t>& blob, size_t offset) {
  int32_t v;
  std::memcpy(&v, blob.data() + offset, sizeof v);
  return v;
}

constexpr uint32_t kInhibitIrq = 1u << 3;  // QEMU's HF_INHIBIT_IRQ_MASK
constexpr uint32_t kCs32 = 1u << 4;        // QEMU's HF_CS32_MASK
constexpr uint64_t kShadowProbeCode = 0x2000;

// Stops at the block at the address user_data points to.
void stop_at_block(uc_engine* uc, uint64_t address, uint32_t size, void* user_data) {
  if (address == *static_cast<uint64_t*>(user_data)) uc_emu_stop(uc);
}

// The hflags word: one run stops right after an STI (the shadow held), another one instruction
// later (the shadow over); the only 32-bit word that differs in just the inhibit bit is it.
bool probe_hflags(uc_engine* uc, uc_context* ctx, size_t* offset) {
  const uint8_t code[] = {0xFB, 0x90, 0x90, 0x90, 0xF4};  // sti ; nop ; nop ; nop ; hlt
  uc_mem_write(uc, kShadowProbeCode, code, sizeof code);
  uint64_t stop_at = kShadowProbeCode + 1;
  uc_hook hook;
  uc_hook_add(uc, &hook, UC_HOOK_BLOCK, reinterpret_cast<void*>(stop_at_block), &stop_at, 1, 0);
  uc_emu_start(uc, kShadowProbeCode, 0, 0, 0);
  std::vector<uint8_t> held = snapshot(uc, ctx);
  stop_at = kShadowProbeCode + 2;
  uc_emu_start(uc, kShadowProbeCode + 1, 0, 0, 0);
  std::vector<uint8_t> over = snapshot(uc, ctx);
  uc_hook_del(uc, hook);
  std::vector<size_t> found;
  for (size_t off = 0; off + 4 <= held.size(); off += 4) {
    uint32_t a, b;
    std::memcpy(&a, held.data() + off, 4);
    std::memcpy(&b, over.data() + off, 4);
    if ((a & kInhibitIrq) && (a ^ b) == kInhibitIrq) found.push_back(off);
  }
  if (found.size() != 1) return false;
  *offset = found[0];
  return true;
}

}  // namespace

bool probe_exception_state_layout(ExceptionStateLayout* layout, std::string* error) {
  uc_engine* uc = nullptr;
  if (uc_open(UC_ARCH_X86, UC_MODE_32, &uc) != UC_ERR_OK) {
    *error = "cannot open a Unicorn x86 engine";
    return false;
  }
  // mov eax, 0xABCD1234 ; mov ds, ax  (the GDT is empty, so this raises #GP(0x1234)); EAX's
  // upper half keeps the register itself from matching the error code in the diff.
  const uint8_t code[] = {0xB8, 0x34, 0x12, 0xCD, 0xAB, 0x8E, 0xD8, 0xF4};
  int vector = -1;
  uc_hook hook;
  uc_context* ctx = nullptr;
  bool found = false;
  uc_mem_map(uc, 0, 0x10000, UC_PROT_ALL);
  uc_mem_write(uc, kProbeCode, code, sizeof code);
  uc_hook_add(uc, &hook, UC_HOOK_INTR, reinterpret_cast<void*>(stop_on_interrupt), &vector, 1, 0);
  if (uc_context_alloc(uc, &ctx) == UC_ERR_OK) {
    std::vector<uint8_t> before = snapshot(uc, ctx);
    uc_emu_start(uc, kProbeCode, kProbeCode + sizeof code, 0, 0);
    std::vector<uint8_t> after = snapshot(uc, ctx);
    std::vector<size_t> old_exception, error_code;
    for (size_t off = 0; off + 4 <= before.size(); off += 4) {
      if (int32_at(before, off) == -1 && int32_at(after, off) == static_cast<int32_t>(kGp)) old_exception.push_back(off);
      if (int32_at(before, off) != static_cast<int32_t>(kProbeSelector) &&
          int32_at(after, off) == static_cast<int32_t>(kProbeSelector)) error_code.push_back(off);
    }
    if (vector != static_cast<int>(kGp)) {
      *error = "exception-state probe: expected #GP (13), Unicorn reported " + std::to_string(vector);
    } else if (old_exception.size() != 1 || error_code.size() != 1) {
      *error = "exception-state probe: cannot identify Unicorn's old_exception/error_code fields (" +
               std::to_string(old_exception.size()) + " and " + std::to_string(error_code.size()) +
               " candidates)";
    } else {
      layout->old_exception_offset = old_exception[0];
      layout->error_code_offset = error_code[0];
      layout->is_int_offset = error_code[0] + sizeof(int32_t);
      // The field after error_code must read 0 after the #GP and 1 after an INT n.
      const uint8_t int21[] = {0xCD, 0x21, 0xF4};
      // (At a fresh address: the first probe's translation is still cached at kProbeCode.)
      constexpr uint64_t kIntProbeCode = kProbeCode + 0x100;
      uc_mem_write(uc, kIntProbeCode, int21, sizeof int21);
      vector = -1;
      uc_emu_start(uc, kIntProbeCode, kIntProbeCode + sizeof int21, 0, 0);
      std::vector<uint8_t> after_int = snapshot(uc, ctx);
      if (vector != 0x21 || int32_at(after, layout->is_int_offset) != 0 || int32_at(after_int, layout->is_int_offset) != 1) {
        *error = "exception-state probe: cannot identify Unicorn's exception_is_int field";
      } else if (!probe_hflags(uc, ctx, &layout->hflags_offset)) {
        *error = "exception-state probe: cannot identify Unicorn's hflags (the interrupt shadow)";
      } else {
        found = true;
      }
    }
    uc_context_free(ctx);
  } else {
    *error = "cannot allocate a Unicorn context";
  }
  uc_close(uc);
  return found;
}

ExceptionState::ExceptionState(uc_engine* uc, const ExceptionStateLayout& layout, const LiveCpuState* live)
    : uc_(uc), layout_(layout) {
  if (uc_context_alloc(uc, &context_) != UC_ERR_OK) context_ = nullptr;
  if (live) {
    live_error_code_ = live->field(layout.error_code_offset);
    live_is_int_ = live->field(layout.is_int_offset);
    live_hflags_ = live->field(layout.hflags_offset);
    live_old_exception_ = live->field(layout.old_exception_offset);
    // All four or none.
    if (!live_error_code_ || !live_is_int_ || !live_hflags_ || !live_old_exception_) {
      live_error_code_ = live_is_int_ = live_hflags_ = live_old_exception_ = nullptr;
    }
  }
}

ExceptionState::~ExceptionState() {
  if (context_ != nullptr) uc_context_free(context_);
}

uint32_t ExceptionState::error_code_in_hook() {
  if (live_error_code_) {
    is_int_in_hook_ = *live_is_int_ != 0;
    return static_cast<uint32_t>(*live_error_code_);
  }
  uc_context_save(uc_, context_);
  uint32_t error_code;
  std::memcpy(&error_code, reinterpret_cast<uint8_t*>(context_) + layout_.error_code_offset, sizeof error_code);
  return error_code;
}

bool ExceptionState::is_software_interrupt() const {
  if (live_is_int_) return is_int_in_hook_;
  int32_t is_int;
  std::memcpy(&is_int, reinterpret_cast<const uint8_t*>(context_) + layout_.is_int_offset, sizeof is_int);
  return is_int != 0;
}

uint32_t ExceptionState::hflags() {
  if (live_hflags_) return static_cast<uint32_t>(*live_hflags_);
  uc_context_save(uc_, context_);
  uint32_t hflags;
  std::memcpy(&hflags, reinterpret_cast<uint8_t*>(context_) + layout_.hflags_offset, sizeof hflags);
  return hflags;
}

bool ExceptionState::interrupt_shadow() { return hflags() & kInhibitIrq; }

bool ExceptionState::code_segment_32() { return hflags() & kCs32; }

void ExceptionState::clear_interrupt_shadow() {
  if (live_hflags_) {
    *live_hflags_ &= ~static_cast<int32_t>(kInhibitIrq);
    return;
  }
  uc_context_save(uc_, context_);
  uint8_t* blob = reinterpret_cast<uint8_t*>(context_);
  uint32_t hflags;
  std::memcpy(&hflags, blob + layout_.hflags_offset, sizeof hflags);
  if (!(hflags & kInhibitIrq)) return;
  hflags &= ~kInhibitIrq;
  std::memcpy(blob + layout_.hflags_offset, &hflags, sizeof hflags);
  uc_context_restore(uc_, context_);
}

void ExceptionState::reset_old_exception() {
  if (live_old_exception_) {
    *live_old_exception_ = -1;
    return;
  }
  uc_context_save(uc_, context_);
  uint8_t* blob = reinterpret_cast<uint8_t*>(context_);
  const int32_t none = -1;
  int32_t current;
  std::memcpy(&current, blob + layout_.old_exception_offset, sizeof current);
  if (current == none) return;
  std::memcpy(blob + layout_.old_exception_offset, &none, sizeof none);
  uc_context_restore(uc_, context_);
}

}  // namespace vmm
