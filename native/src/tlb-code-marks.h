// Marking the TLB entries of a newly translated block's pages "not dirty", by index.
//
// After every translation Unicorn 2.1.1 calls tlb_reset_dirty_by_vaddr (code-write-checks.h) to
// send the next store into the block's pages through the slow path, which checks for
// self-modifying code. It walks every entry of every MMU mode's TLB and of the victim TLBs,
// thousands of entries per translated block: 2-3% of a Linux boot. QEMU's TLB is direct-mapped
// (tlb_index: the page number masked by the table's size, accel/tcg/cputlb.c), so the entries
// that can map a page are its one slot in each mode's table and the eight victim entries: this
// marks just those, with the same test per entry.
//
// The tables lie in QEMU's private CPU object (CPUNegativeOffsetState, just before env: the
// {mask, table} pair of each mode, and each mode's CPUTLBDesc with its victim table), which the
// public API does not reach. As with the other private fields (exception-state.h, exact-stop.h),
// nothing is assumed that is not proven on this build, once per process, in a scratch engine:
//   1. the {mask, table} pairs are the only three consecutive valid pairs in the 1 KiB before
//      env, and a guest store through the kernel's MMU mode filled the slot the mask gives;
//   2. a second store to a page of the same slot moved the first entry into a victim table, found
//      as the one copy of it, with the descriptor's vindex (1) just before it;
//   3. the result is Unicorn's own: entries for the marked pages, pages next to them, MMIO and
//      already marked entries are written into each mode's slot and victim table, the real walk
//      runs, the state is put back, this runs, and the two results must be the same bytes.
// Where any step fails, Unicorn's walk runs as before.
#pragma once
#include <cstddef>
#include <cstdint>
#include <string>

#include "exception-state.h"

namespace vmm {

struct TlbCodeMarksLayout {
  bool proven = false;
  std::string why_not;                  // when not proven
  ptrdiff_t env_from_cpu = 0;           // CPUX86State (env) from QEMU's CPUState
  ptrdiff_t fast_from_env = 0;          // the first mode's {mask, table} pair from env
  ptrdiff_t victims_from_env = 0;       // the first mode's victim table from env
};

// Found and proven once per process (the first call runs the scratch engine); once proven, the
// wrapped tlb_reset_dirty_by_vaddr marks by index from then on.
const TlbCodeMarksLayout& tlb_code_marks_layout(const ExceptionStateLayout& layout);

// For tests: the proof with the pairs' offset moved by `fast_shift` bytes and the victim tables'
// by `victims_shift`: a wrong layout must be rejected before anything is written.
TlbCodeMarksLayout prove_tlb_code_marks(const ExceptionStateLayout& layout, ptrdiff_t fast_shift, ptrdiff_t victims_shift);

// Marks "not dirty" every entry of `cpu`'s TLB that lets a store reach a page of
// [start, start + length) linear, as Unicorn's tlb_reset_dirty_by_vaddr does.
void mark_code_pages(const TlbCodeMarksLayout& layout, void* cpu, uint64_t start, uint64_t length);

// The layout the wrapped tlb_reset_dirty_by_vaddr uses (null: Unicorn's walk, until
// tlb_code_marks_layout() has proven one).
const TlbCodeMarksLayout* tlb_code_marks_in_use();

}  // namespace vmm
