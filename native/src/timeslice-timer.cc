#include "timeslice-timer.h"

#include <algorithm>

#include "realtime-priority.h"

namespace vmm {
namespace {

constexpr std::chrono::microseconds kFirstPoll{20};
constexpr std::chrono::microseconds kLongestPoll{1000};
constexpr std::chrono::microseconds kRefire{200};

}  // namespace

TimesliceTimer::TimesliceTimer(std::function<void()> on_deadline, std::function<void()> on_poll)
    : on_deadline_(std::move(on_deadline)), on_poll_(std::move(on_poll)), thread_([this] { loop(); }) {
  // Real-time priority (realtime-priority.h): while the thread waits behind other processes, an
  // interrupt the guest could take waits too. A Linux guest that printed a line and powered off
  // at once lost the line that way (its UART interrupt came after the power-off).
  why_not_realtime_ = make_realtime(thread_);
}

TimesliceTimer::~TimesliceTimer() {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    quit_ = true;
  }
  wake_.notify_one();
  thread_.join();
}

// A run is armed after every exit: waking the thread each time (a futex wake and two context
// switches) had been a tenth of a trap-engine boot. The thread is woken only when it would
// otherwise sleep past the new deadline; else it wakes at the earlier time it waits for and
// sleeps again until the new one.
void TimesliceTimer::arm(uint64_t microseconds) {
  bool wake;
  {
    std::lock_guard<std::mutex> lock(mutex_);
    deadline_ = Clock::now() + std::chrono::microseconds(microseconds);
    armed_ = true;
    fired_ = false;
    wake = deadline_ < waiting_until_;
  }
  if (wake) wake_.notify_one();
}

bool TimesliceTimer::disarm() {
  std::lock_guard<std::mutex> lock(mutex_);
  armed_ = false;
  polling_ = false;
  bool fired = fired_;
  fired_ = false;
  return fired;
}

void TimesliceTimer::start_polling() {
  bool wake;
  {
    std::lock_guard<std::mutex> lock(mutex_);
    if (polling_) return;
    polling_ = true;
    poll_interval_ = kFirstPoll;
    next_poll_ = Clock::now() + poll_interval_;
    wake = next_poll_ < waiting_until_;
  }
  if (wake) wake_.notify_one();
}

bool TimesliceTimer::take(std::atomic<bool>* flag) {
  std::lock_guard<std::mutex> lock(mutex_);
  return flag->exchange(false);
}

void TimesliceTimer::stop_polling() {
  std::lock_guard<std::mutex> lock(mutex_);
  polling_ = false;
}

// The callbacks run with the lock held: disarm() returning means no callback runs any more.
void TimesliceTimer::loop() {
  std::unique_lock<std::mutex> lock(mutex_);
  while (!quit_) {
    if (!armed_ && !polling_) {
      waiting_until_ = Clock::time_point::max();
      wake_.wait(lock);
      continue;
    }
    Clock::time_point next = Clock::time_point::max();
    if (armed_) next = deadline_;
    if (polling_) next = std::min(next, next_poll_);
    waiting_until_ = next;
    wake_.wait_until(lock, next);
    waiting_until_ = Clock::time_point::min();  // awake: no one needs to wake it
    if (quit_) break;
    Clock::time_point now = Clock::now();
    if (armed_ && now >= deadline_) {
      fired_ = true;
      deadline_ = now + kRefire;
      on_deadline_();
    }
    if (polling_ && now >= next_poll_) {
      poll_interval_ = std::min(poll_interval_ * 2, kLongestPoll);
      next_poll_ = now + poll_interval_;
      on_poll_();
    }
  }
}

}  // namespace vmm
