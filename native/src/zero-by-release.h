// Zeroing by giving pages back to the kernel, for Unicorn's translation-buffer flush.
//
// Unicorn 2.1.1's tb_flush zeroes the whole translated-code buffer (tcg_region_assign memsets
// all of it), and the vCPU flushes once in its constructor (vcpu.cc says why). That memset
// faulted in and wrote the whole buffer, 64 MiB, at every vCPU's start: a fifth of the time
// `vmm boot` took before the guest's first instruction. The buffer is a private anonymous
// mapping, so giving its pages back (madvise MADV_DONTNEED) zeroes it just as well: a page reads
// as zeros afterwards and is faulted in only when translated code reaches it.
#pragma once

namespace vmm {

// While one is alive on a thread, a memset to zero of at least 1 MiB on that thread releases
// the range's whole pages instead of writing them (and writes only the partial pages at its
// ends). Only for calls whose large zeroings are of private anonymous memory: Unicorn's flush.
class ZeroByRelease {
 public:
  ZeroByRelease();
  ~ZeroByRelease();
  ZeroByRelease(const ZeroByRelease&) = delete;
  ZeroByRelease& operator=(const ZeroByRelease&) = delete;
};

}  // namespace vmm
