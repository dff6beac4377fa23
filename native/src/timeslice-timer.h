// Ends a run after a wall-clock time slice by calling uc_emu_stop from one long-lived thread.
// Unicorn's own `timeout` argument starts a new thread on every uc_emu_start, and the `count`
// argument flushes every translation when it changes (UNICORN-NOTES item 9), so neither suits a
// run loop that re-enters the guest thousands of times a second.
#pragma once
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <mutex>
#include <thread>

#include <unicorn/unicorn.h>

namespace vmm {

class TimesliceTimer {
 public:
  explicit TimesliceTimer(uc_engine* uc);
  ~TimesliceTimer();
  void arm(uint64_t microseconds);
  // Disarms and reports whether the slice had expired (and the engine was told to stop).
  bool disarm();

 private:
  void loop();
  uc_engine* uc_;
  std::mutex mutex_;
  std::condition_variable wake_;
  std::chrono::steady_clock::time_point deadline_;
  bool armed_ = false;
  bool fired_ = false;
  bool quit_ = false;
  std::thread thread_;
};

}  // namespace vmm
