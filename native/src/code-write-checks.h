// Stores to a page of translated code must keep being checked while the page holds translations.
//
// QEMU marks every TLB entry for RAM "not dirty" when it is filled, so the first store through it
// takes the slow path: notdirty_write drops the translated blocks the store overlaps
// (tb_invalidate_phys_page_fast), then clears the mark. QEMU clears it only once the page holds
// no code (cpu_physical_memory_is_clean); Unicorn 2.1.1 clears it always, and sets it again only
// when a new block is translated in that page. So after one store into a code page, the next
// stores to it went unchecked, and a block elsewhere in the page that one of them rewrote ran as
// it was translated. KVM's realmode test copies each test's instructions into a buffer in its own
// code page byte by byte and runs them: from the second test on it ran the previous test's code.
//
// The addon is linked with --wrap for tb_invalidate_phys_page_fast (binding.gyp): after QEMU's
// own check (which restarts a block that rewrote itself), the wrapper drops every other
// translated block of the page too, so none is left that later, unchecked stores could make
// stale. A block translated in the page afterwards marks its TLB entries again. The cost falls on
// pages that hold both code and data that is written, where a loop that stores into its own page
// is translated again after each store that follows a new translation there.
//
// Each new block marks its pages' TLB entries again (Unicorn's tlb_reset_dirty_by_vaddr, which
// tb_gen_code calls). Unicorn walks the whole TLB for it, every entry of every MMU mode: a third
// of what a small block's translation costs. tlb_reset_dirty_by_vaddr is wrapped: where the TLB's
// layout is proven on this build it marks just the pages' slots and victim entries
// (tlb-code-marks.h). The bt engine's translation cache is mapped read-only, so no TLB entry lets
// a store reach it: the wrapper skips blocks in it.
#pragma once
#include <cstdint>

namespace vmm {

// Set by a vCPU around each of its runs, on the thread that runs it: the first linear address of
// code no guest store can reach (EngineCore::unwritable_code_start), ~0 for none.
void set_running_unwritable_code(uint64_t start);

}  // namespace vmm
