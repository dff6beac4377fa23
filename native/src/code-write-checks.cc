#include "code-write-checks.h"

#include <cstdint>

#include "tlb-code-marks.h"

namespace vmm {
namespace {
thread_local uint64_t t_unwritable_from = ~uint64_t{0};
}  // namespace

void set_running_unwritable_code(uint64_t start) { t_unwritable_from = start; }

}  // namespace vmm

extern "C" {

// QEMU's (accel/tcg/translate-all.c), with tb_page_addr_t a 64-bit ram_addr_t in this build.
void __real_tb_invalidate_phys_page_fast_x86_64(void* uc, void* pages, uint64_t start, int len, uintptr_t retaddr);
void tb_invalidate_phys_page_range_x86_64(void* uc, uint64_t start, uint64_t end);
// QEMU's (accel/tcg/cputlb.c, a Unicorn addition): marks not dirty the TLB entries that let stores
// reach [start, start + length), linear.
void __real_tlb_reset_dirty_by_vaddr_x86_64(void* cpu, uint64_t start, uint64_t length);

__attribute__((visibility("hidden"))) void __wrap_tb_invalidate_phys_page_fast_x86_64(void* uc, void* pages, uint64_t start,
                                                                                       int len, uintptr_t retaddr) {
  // Does not return when the store rewrote the block it runs in (the store runs again alone).
  __real_tb_invalidate_phys_page_fast_x86_64(uc, pages, start, len, retaddr);
  constexpr uint64_t kPageMask = ~uint64_t{0xFFF};
  tb_invalidate_phys_page_range_x86_64(uc, start & kPageMask, (start & kPageMask) + 0x1000);
}

__attribute__((visibility("hidden"))) void __wrap_tlb_reset_dirty_by_vaddr_x86_64(void* cpu, uint64_t start, uint64_t length) {
  if (start >= vmm::t_unwritable_from) return;
  // By index where that is proven (tlb-code-marks.h), else Unicorn's walk of the whole TLB.
  if (const vmm::TlbCodeMarksLayout* layout = vmm::tlb_code_marks_in_use()) {
    vmm::mark_code_pages(*layout, cpu, start, length);
    return;
  }
  __real_tlb_reset_dirty_by_vaddr_x86_64(cpu, start, length);
}

}  // extern "C"
