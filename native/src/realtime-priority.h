// Real-time priority for the threads that stop the guest from outside: the time-slice timer and
// the exact-stop proof's stopper. On a busy host a normal thread waking from a sleep can wait
// behind other processes for milliseconds; these sleep between callbacks of a few microseconds,
// so at the lowest SCHED_FIFO level they never hold a CPU.
#pragma once
#include <string>
#include <thread>

namespace vmm {

// Gives `thread` the lowest SCHED_FIFO priority; returns "" or why it could not.
std::string make_realtime(std::thread& thread);

}  // namespace vmm
