#include "tsc-offset.h"

#include <cstring>
#include <vector>

namespace vmm {
namespace {

constexpr uint64_t kProbeCode = 0x1000;
constexpr uint64_t kMarker = uint64_t{1} << 60;
constexpr size_t kCandidateBytes = 64;  // slots looked at past old_exception

// RDTSC once in real mode: the value it read.
uint64_t run_rdtsc(uc_engine* uc) {
  uint32_t zero = 0;
  uc_reg_write(uc, UC_X86_REG_EAX, &zero);
  uc_reg_write(uc, UC_X86_REG_EDX, &zero);
  uc_emu_start(uc, kProbeCode, kProbeCode + 2, 0, 1);
  uint32_t eax = 0, edx = 0;
  uc_reg_read(uc, UC_X86_REG_EAX, &eax);
  uc_reg_read(uc, UC_X86_REG_EDX, &edx);
  return (uint64_t{edx} << 32) | eax;
}

bool with_context(uc_engine* uc, bool (*body)(uint8_t* blob, size_t size, void* arg), void* arg, bool write_back) {
  uc_context* context = nullptr;
  if (uc_context_alloc(uc, &context) != UC_ERR_OK) return false;
  uc_context_save(uc, context);
  bool ok = body(reinterpret_cast<uint8_t*>(context), uc_context_size(uc), arg);
  if (ok && write_back) uc_context_restore(uc, context);
  uc_context_free(context);
  return ok;
}

struct Access {
  size_t offset;
  int64_t value;
};

}  // namespace

TscOffsetLayout probe_tsc_offset(size_t old_exception_offset) {
  TscOffsetLayout layout;
  uc_engine* uc = nullptr;
  if (uc_open(UC_ARCH_X86, UC_MODE_32, &uc) != UC_ERR_OK) {
    layout.why_not = "cannot open a Unicorn x86 engine";
    return layout;
  }
  const uint8_t code[] = {0x0F, 0x31, 0xF4};  // rdtsc ; hlt
  uc_mem_map(uc, 0, 0x10000, UC_PROT_ALL);
  uc_mem_write(uc, kProbeCode, code, sizeof code);
  uc_context* context = nullptr;
  uc_context_alloc(uc, &context);
  uc_context_save(uc, context);
  std::vector<uint8_t> clean(reinterpret_cast<uint8_t*>(context), reinterpret_cast<uint8_t*>(context) + uc_context_size(uc));
  std::vector<size_t> proven;
  // (4-byte steps: a context's state need not start 8-byte aligned within it.)
  for (size_t at = old_exception_offset + 4; at + 8 <= clean.size() && at < old_exception_offset + 4 + kCandidateBytes; at += 4) {
    uint64_t was;
    std::memcpy(&was, clean.data() + at, 8);
    if (was != 0) continue;  // the offset of a fresh CPU is 0
    uint8_t* blob = reinterpret_cast<uint8_t*>(context);
    std::memcpy(blob, clean.data(), clean.size());
    std::memcpy(blob + at, &kMarker, 8);
    uc_context_restore(uc, context);
    bool moved = run_rdtsc(uc) >= kMarker;
    std::memcpy(blob, clean.data(), clean.size());
    uc_context_restore(uc, context);
    bool back = run_rdtsc(uc) < kMarker;
    if (moved && back) proven.push_back(at);
  }
  uc_context_free(context);
  uc_close(uc);
  if (proven.size() != 1) {
    layout.why_not = proven.empty() ? "no slot after old_exception moves RDTSC" : "more than one slot moves RDTSC";
    return layout;
  }
  layout.found = true;
  layout.context_offset = proven[0];
  return layout;
}

bool read_tsc_offset(uc_engine* uc, const TscOffsetLayout& layout, int64_t* offset) {
  if (!layout.found) return false;
  Access access{layout.context_offset, 0};
  bool ok = with_context(uc, [](uint8_t* blob, size_t size, void* arg) {
    auto* a = static_cast<Access*>(arg);
    if (a->offset + 8 > size) return false;
    std::memcpy(&a->value, blob + a->offset, 8);
    return true;
  }, &access, false);
  *offset = access.value;
  return ok;
}

bool write_tsc_offset(uc_engine* uc, const TscOffsetLayout& layout, int64_t offset) {
  if (!layout.found) return false;
  Access access{layout.context_offset, offset};
  return with_context(uc, [](uint8_t* blob, size_t size, void* arg) {
    auto* a = static_cast<Access*>(arg);
    if (a->offset + 8 > size) return false;
    std::memcpy(blob + a->offset, &a->value, 8);
    return true;
  }, &access, true);
}

}  // namespace vmm
