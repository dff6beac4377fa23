// Ends a run after a wall-clock time slice, and polls for an interrupt window: one long-lived
// thread calls back at the slice's deadline and, while polling is on, at intervals that start at
// 20 µs and double up to 1 ms. After the deadline it calls again every 200 µs until disarmed, so
// a stop that landed between two Unicorn runs (where Unicorn drops it) is never lost.
// The callbacks run on the timer's thread: with exact stops they call uc_emu_stop (a stop taken
// at the next block start, exact-stop.h); otherwise they only raise flags for the block hook.
// Unicorn's own `timeout` argument starts a thread on every uc_emu_start.
#pragma once
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <mutex>
#include <string>
#include <thread>

namespace vmm {

class TimesliceTimer {
 public:
  TimesliceTimer(std::function<void()> on_deadline, std::function<void()> on_poll);
  ~TimesliceTimer();
  // Whether the thread runs at real-time priority (exact stops need it, see the constructor),
  // and if not, why.
  bool realtime() const { return why_not_realtime_.empty(); }
  const std::string& why_not_realtime() const { return why_not_realtime_; }
  void arm(uint64_t microseconds);
  // Disarms (the deadline and polling) and reports whether the deadline had passed.
  bool disarm();
  // Polling on, from the shortest interval; off.
  void start_polling();
  void stop_polling();
  // Reads and clears a flag that the callbacks set, under the timer's lock: the callbacks set
  // their flag and stop the guest under that lock, so once the flag is taken no stop made with
  // it can still land (in a run started after).
  bool take(std::atomic<bool>* flag);

 private:
  using Clock = std::chrono::steady_clock;
  void loop();
  std::function<void()> on_deadline_;
  std::function<void()> on_poll_;
  std::mutex mutex_;
  std::condition_variable wake_;
  Clock::time_point deadline_;
  Clock::time_point next_poll_;
  // When the thread wakes by itself: max while it waits for arm(), min while it is awake.
  Clock::time_point waiting_until_ = Clock::time_point::min();
  std::chrono::microseconds poll_interval_{0};
  bool armed_ = false;
  bool fired_ = false;
  bool polling_ = false;
  bool quit_ = false;
  std::string why_not_realtime_;
  std::thread thread_;
};

}  // namespace vmm
