// Ends a run after a wall-clock time slice: one long-lived thread raises a flag at the deadline,
// and the vCPU's block hook stops the guest at the next translated-block boundary.
// The thread must never call uc_emu_stop itself: Unicorn 2.1 checks the exit request after guest
// stores as well as at block starts, and an exit taken after a store resumes at the block's start,
// so the instructions before it run twice (docs/design.md, "Stopping the guest").
// Unicorn's own `timeout` argument has that flaw too, and starts a thread on every uc_emu_start.
#pragma once
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <mutex>
#include <thread>


namespace vmm {

class TimesliceTimer {
 public:
  explicit TimesliceTimer(std::atomic<bool>* stop_flag);
  ~TimesliceTimer();
  void arm(uint64_t microseconds);
  // Disarms and reports whether the slice had expired (and the stop flag was raised).
  bool disarm();

 private:
  void loop();
  std::atomic<bool>* stop_flag_;
  std::mutex mutex_;
  std::condition_variable wake_;
  std::chrono::steady_clock::time_point deadline_;
  bool armed_ = false;
  bool fired_ = false;
  bool quit_ = false;
  std::thread thread_;
};

}  // namespace vmm
