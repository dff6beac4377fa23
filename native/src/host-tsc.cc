#include "host-tsc.h"

#include <chrono>
#include <future>
#include <thread>
#include <x86intrin.h>

namespace vmm {

namespace {

using Clock = std::chrono::steady_clock;

// A TSC reading and a monotonic-clock reading taken at the same moment: the clock read between
// two TSC reads, from the tightest of several tries, so that the thread being preempted (a busy
// host) in one try costs nothing. The pairing error is then tens of nanoseconds.
struct ClockPair {
  uint64_t tsc;
  Clock::time_point time;
};

ClockPair tight_pair() {
  ClockPair best{};
  uint64_t best_width = ~uint64_t{0};
  for (int attempt = 0; attempt < 32; attempt++) {
    uint64_t before = __rdtsc();
    Clock::time_point time = Clock::now();
    uint64_t after = __rdtsc();
    if (after - before < best_width) {
      best_width = after - before;
      best = {before + (after - before) / 2, time};
    }
  }
  return best;
}


uint64_t measure_tsc_hz() {
  ClockPair start = tight_pair();
  std::this_thread::sleep_for(std::chrono::milliseconds(20));
  ClockPair end = tight_pair();
  double seconds = std::chrono::duration<double>(end.time - start.time).count();
  if (seconds <= 0 || end.tsc <= start.tsc) return uint64_t{0};
  // Round to 1 kHz: Linux works in kHz.
  return static_cast<uint64_t>((end.tsc - start.tsc) / seconds / 1000.0 + 0.5) * 1000;
}

// Started when the module loads, so that its 20 ms pass while the VMM reads its images (or a
// snapshot) rather than in front of the first machine.
std::shared_future<uint64_t>& measurement() {
  static std::shared_future<uint64_t> measured = std::async(std::launch::async, measure_tsc_hz).share();
  return measured;
}

}  // namespace

void start_host_tsc_measurement() { measurement(); }

uint64_t host_tsc_hz() { return measurement().get(); }

uint64_t host_tsc() { return __rdtsc(); }

}  // namespace vmm
