#include "architectural-state.h"

#include <cstring>

#include <unicorn/unicorn.h>

#include "cpu-state-image.h"
#include "guest-page-walk.h"
#include "registers.h"
#include "x86.h"

namespace vmm {
namespace {

struct Scratch {
  uc_engine* uc = nullptr;
  ~Scratch() {
    if (uc) uc_close(uc);
  }
};

// The CPL in hflags' low two bits (QEMU's HF_CPL_MASK), written through a saved context.
bool set_cpl(uc_engine* uc, size_t hflags_offset, uint32_t cpl) {
  uc_context* context = nullptr;
  if (uc_context_alloc(uc, &context) != UC_ERR_OK) return false;
  uc_context_save(uc, context);
  uint8_t* blob = reinterpret_cast<uint8_t*>(context);
  bool ok = hflags_offset + 4 <= uc_context_size(uc);
  if (ok) {
    uint32_t hflags;
    std::memcpy(&hflags, blob + hflags_offset, 4);
    hflags = (hflags & ~3u) | (cpl & 3);
    std::memcpy(blob + hflags_offset, &hflags, 4);
    uc_context_restore(uc, context);
  }
  uc_context_free(context);
  return ok;
}

// A system segment (LDT, TSS) as the guest's GDT describes it, for LLDT's and LTR's cache.
bool system_segment(GuestRam& ram, const PagingState& paging, const GuestSystemState& guest, uint32_t selector, uc_x86_mmr* out) {
  *out = uc_x86_mmr{static_cast<uint16_t>(selector), 0, 0, 0};
  if ((selector & ~3u) == 0) return true;
  uint32_t index = selector & ~7u;
  if ((selector & 4) || index + 7 > guest.gdtr_limit) return false;
  uint32_t raw[2];
  for (int half = 0; half < 2; half++) {
    Translation t = walk_guest_page_tables(ram, paging, guest.gdtr_base + index + half * 4, 0);
    if (!t.ok || !ram.contains(t.physical, 4)) return false;
    raw[half] = ram.read32(t.physical);
  }
  SegmentDescriptor d = decode_descriptor(raw[0], raw[1]);
  *out = uc_x86_mmr{static_cast<uint16_t>(selector), d.base, d.limit, raw[1]};
  return true;
}

std::string hex(uint32_t value) {
  char text[16];
  snprintf(text, sizeof text, "0x%x", value);
  return text;
}

}  // namespace

bool compose_architectural_state(uint8_t* ram, size_t ram_bytes, const std::vector<uint8_t>& deprivileged,
                                 const GuestSystemState& guest, size_t hflags_offset, std::vector<uint8_t>* out,
                                 std::string* why_not) {
  if (guest.dr[7] & 0xff) {
    *why_not = "the guest has hardware breakpoints armed in DR7, which a saved state cannot carry";
    return false;
  }
  Scratch scratch;
  if (uc_open(UC_ARCH_X86, UC_MODE_32, &scratch.uc) != UC_ERR_OK || uc_mem_map_ptr(scratch.uc, 0, ram_bytes, UC_PROT_ALL, ram) != UC_ERR_OK) {
    *why_not = "cannot open a scratch Unicorn engine over guest RAM";
    return false;
  }
  uc_engine* uc = scratch.uc;
  if (!restore_cpu_state(uc, deprivileged.data(), deprivileged.size(), why_not)) return false;
  write_register(uc, kRegCr0, guest.cr0);
  write_register(uc, kRegCr4, guest.cr4);
  write_register(uc, kRegCr3, guest.cr3);
  write_register(uc, kRegCr2, guest.cr2);
  uc_x86_mmr gdtr{0, guest.gdtr_base, guest.gdtr_limit, 0}, idtr{0, guest.idtr_base, guest.idtr_limit, 0};
  uc_reg_write(uc, UC_X86_REG_GDTR, &gdtr);
  uc_reg_write(uc, UC_X86_REG_IDTR, &idtr);
  // The guest's CPL is its CS's RPL: SS must then load at the same level (Unicorn takes the CPL
  // from SS's DPL, SDM Vol. 3 §5.5), and the other loads are judged against it.
  if (!set_cpl(uc, hflags_offset, guest.cs & 3)) {
    *why_not = "cannot set the CPL in a scratch engine";
    return false;
  }
  GuestRam guest_ram(ram, ram_bytes);
  PagingState paging{guest.cr0, guest.cr3, guest.cr4};
  uc_x86_mmr ldtr{}, tr{};
  if (!system_segment(guest_ram, paging, guest, guest.ldtr, &ldtr) || !system_segment(guest_ram, paging, guest, guest.tr, &tr)) {
    *why_not = "the guest's LDTR or TR names no descriptor in its GDT";
    return false;
  }
  uc_reg_write(uc, UC_X86_REG_LDTR, &ldtr);
  uc_reg_write(uc, UC_X86_REG_TR, &tr);
  struct Load {
    int reg;
    uint32_t selector;
    const char* name;
  };
  auto current = [&](int reg) {
    uint32_t value = 0;
    uc_reg_read(uc, reg, &value);
    // A selector the kernel loaded from its own ring-1 copy (RPL 1) is the guest's RPL 0.
    return (value & 3) == 1 ? value & ~3u : value;
  };
  const Load loads[] = {
      {UC_X86_REG_SS, guest.ss, "SS"}, {UC_X86_REG_CS, guest.cs, "CS"},
      {UC_X86_REG_DS, current(UC_X86_REG_DS), "DS"}, {UC_X86_REG_ES, current(UC_X86_REG_ES), "ES"},
      {UC_X86_REG_FS, current(UC_X86_REG_FS), "FS"}, {UC_X86_REG_GS, current(UC_X86_REG_GS), "GS"},
  };
  for (const Load& load : loads) {
    uint16_t selector = static_cast<uint16_t>(load.selector);
    if (uc_reg_write(uc, load.reg, &selector) != UC_ERR_OK) {
      *why_not = std::string("the guest's ") + load.name + " (" + hex(load.selector) + ") does not load from its own descriptor tables";
      return false;
    }
  }
  write_register(uc, kRegEip, guest.eip);
  write_register(uc, kRegEflags, guest.eflags);
  static const uint32_t kDebug[] = {kRegDr0, kRegDr1, kRegDr2, kRegDr3, kRegDr6, kRegDr7};
  static const int kDebugIndex[] = {0, 1, 2, 3, 6, 7};
  for (int i = 0; i < 6; i++) write_register(uc, kDebug[i], guest.dr[kDebugIndex[i]]);
  return save_cpu_state(uc, out, why_not);
}

}  // namespace vmm
