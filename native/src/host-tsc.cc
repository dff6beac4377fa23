#include "host-tsc.h"

#include <chrono>
#include <thread>
#include <x86intrin.h>

namespace vmm {

uint64_t host_tsc_hz() {
  static uint64_t measured = [] {
    using clock = std::chrono::steady_clock;
    auto t0 = clock::now();
    uint64_t c0 = __rdtsc();
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
    uint64_t c1 = __rdtsc();
    auto t1 = clock::now();
    double seconds = std::chrono::duration<double>(t1 - t0).count();
    if (seconds <= 0 || c1 <= c0) return uint64_t{0};
    // Round to 1 kHz: Linux works in kHz.
    return static_cast<uint64_t>((c1 - c0) / seconds / 1000.0 + 0.5) * 1000;
  }();
  return measured;
}

}  // namespace vmm
