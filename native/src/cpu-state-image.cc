#include "cpu-state-image.h"

#include <cstring>
#include <memory>

namespace vmm {
namespace {

// DR7's L0-L3 and G0-G3 (SDM Vol. 3 §17.2.4): any of them set makes QEMU insert a breakpoint
// and keep a pointer to it in the CPU state.
constexpr uint64_t kDr7Enables = 0xff;

struct ContextDeleter {
  void operator()(uc_context* context) const { uc_context_free(context); }
};
using Context = std::unique_ptr<uc_context, ContextDeleter>;

Context new_context(uc_engine* uc) {
  uc_context* context = nullptr;
  if (uc_context_alloc(uc, &context) != UC_ERR_OK) return nullptr;
  return Context(context);
}

// Where the CPU state starts in a saved context, after Unicorn's header: found once, as the one
// place where four general registers written with distinctive values sit in order (the state's
// first field is the general registers, in 8-byte slots); the registers are put back after.
size_t find_state_start(uc_engine* uc) {
  static const int kRegs[] = {UC_X86_REG_EAX, UC_X86_REG_ECX, UC_X86_REG_EDX, UC_X86_REG_EBX};
  static const uint32_t kMarks[] = {0x5eed0a11, 0x5eed0c22, 0x5eed0d33, 0x5eed0b44};
  uint32_t saved[4];
  for (int i = 0; i < 4; i++) uc_reg_read(uc, kRegs[i], &saved[i]);
  for (int i = 0; i < 4; i++) uc_reg_write(uc, kRegs[i], &kMarks[i]);
  uint8_t pattern[32] = {};
  for (int i = 0; i < 4; i++) std::memcpy(pattern + i * 8, &kMarks[i], 4);
  size_t found = 0, matches = 0;
  uc_context* context = nullptr;
  if (uc_context_alloc(uc, &context) == UC_ERR_OK) {
    uc_context_save(uc, context);
    const uint8_t* blob = reinterpret_cast<const uint8_t*>(context);
    size_t total = uc_context_size(uc);
    for (size_t at = 0; at + sizeof pattern <= total; at++) {
      if (std::memcmp(blob + at, pattern, sizeof pattern) == 0) {
        found = at;
        matches++;
      }
    }
    uc_context_free(context);
  }
  for (int i = 0; i < 4; i++) uc_reg_write(uc, kRegs[i], &saved[i]);
  return matches == 1 ? found : 0;
}

// A saved context is Unicorn's header followed by the CPU state; the header's first field is the
// state's size (uc_context.context_size), and the state must fit the context after its start.
bool state_span(uc_engine* uc, uc_context* context, uint8_t** data, size_t* size) {
  static const size_t start = find_state_start(uc);
  size_t total = uc_context_size(uc);
  size_t state = 0;
  std::memcpy(&state, context, sizeof state);
  if (start == 0 || state == 0 || start + state > total) return false;
  *data = reinterpret_cast<uint8_t*>(context) + start;
  *size = state;
  return true;
}

bool debug_registers_armed(uc_engine* uc) {
  uint64_t dr7 = 0;
  uc_reg_read(uc, UC_X86_REG_DR7, &dr7);
  return (dr7 & kDr7Enables) != 0;
}

}  // namespace

std::string cpu_state_format(uc_engine* uc) {
  unsigned int major = 0, minor = 0;
  uc_version(&major, &minor);
  Context context = new_context(uc);
  uint8_t* data = nullptr;
  size_t size = 0;
  if (!context || !state_span(uc, context.get(), &data, &size)) size = 0;
  return "unicorn-" + std::to_string(major) + "." + std::to_string(minor) + "/x86-" + std::to_string(size);
}

bool save_cpu_state(uc_engine* uc, std::vector<uint8_t>* image, std::string* why_not) {
  if (debug_registers_armed(uc)) {
    *why_not = "the guest has hardware breakpoints armed in DR7, which a saved state cannot carry";
    return false;
  }
  Context context = new_context(uc);
  uint8_t* data = nullptr;
  size_t size = 0;
  if (!context || uc_context_save(uc, context.get()) != UC_ERR_OK || !state_span(uc, context.get(), &data, &size)) {
    *why_not = "Unicorn could not save the CPU state";
    return false;
  }
  image->assign(data, data + size);
  return true;
}

bool restore_cpu_state(uc_engine* uc, const uint8_t* image, size_t size, std::string* why_not) {
  Context context = new_context(uc);
  uint8_t* data = nullptr;
  size_t expected = 0;
  if (!context || uc_context_save(uc, context.get()) != UC_ERR_OK || !state_span(uc, context.get(), &data, &expected)) {
    *why_not = "Unicorn could not save the CPU state";
    return false;
  }
  if (size != expected) {
    *why_not = "the CPU state is " + std::to_string(size) + " bytes, this build's is " + std::to_string(expected);
    return false;
  }
  // Kept to put back if the image arms a debug register.
  std::vector<uint8_t> before(data, data + expected);
  std::memcpy(data, image, size);
  uc_context_restore(uc, context.get());
  if (debug_registers_armed(uc)) {
    std::memcpy(data, before.data(), before.size());
    uc_context_restore(uc, context.get());
    *why_not = "the saved CPU state arms hardware breakpoints in DR7, which a saved state cannot carry";
    return false;
  }
  return true;
}

}  // namespace vmm
