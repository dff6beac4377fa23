#include "code-write-checks.h"

#include <cstdint>

extern "C" {

// QEMU's (accel/tcg/translate-all.c), with tb_page_addr_t a 64-bit ram_addr_t in this build.
void __real_tb_invalidate_phys_page_fast_x86_64(void* uc, void* pages, uint64_t start, int len, uintptr_t retaddr);
void tb_invalidate_phys_page_range_x86_64(void* uc, uint64_t start, uint64_t end);

__attribute__((visibility("hidden"))) void __wrap_tb_invalidate_phys_page_fast_x86_64(void* uc, void* pages, uint64_t start,
                                                                                       int len, uintptr_t retaddr) {
  // Does not return when the store rewrote the block it runs in (the store runs again alone).
  __real_tb_invalidate_phys_page_fast_x86_64(uc, pages, start, len, retaddr);
  constexpr uint64_t kPageMask = ~uint64_t{0xFFF};
  tb_invalidate_phys_page_range_x86_64(uc, start & kPageMask, (start & kPageMask) + 0x1000);
}

}  // extern "C"
