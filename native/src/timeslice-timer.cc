#include "timeslice-timer.h"

namespace vmm {

TimesliceTimer::TimesliceTimer(std::atomic<bool>* stop_flag) : stop_flag_(stop_flag), thread_([this] { loop(); }) {}

TimesliceTimer::~TimesliceTimer() {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    quit_ = true;
  }
  wake_.notify_one();
  thread_.join();
}

void TimesliceTimer::arm(uint64_t microseconds) {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    deadline_ = std::chrono::steady_clock::now() + std::chrono::microseconds(microseconds);
    armed_ = true;
    fired_ = false;
  }
  wake_.notify_one();
}

bool TimesliceTimer::disarm() {
  std::lock_guard<std::mutex> lock(mutex_);
  armed_ = false;
  return fired_;
}

void TimesliceTimer::loop() {
  std::unique_lock<std::mutex> lock(mutex_);
  while (!quit_) {
    if (!armed_) {
      wake_.wait(lock);
      continue;
    }
    if (wake_.wait_until(lock, deadline_) == std::cv_status::timeout && armed_ &&
        std::chrono::steady_clock::now() >= deadline_) {
      fired_ = true;
      armed_ = false;
      stop_flag_->store(true, std::memory_order_release);
    }
  }
}

}  // namespace vmm
