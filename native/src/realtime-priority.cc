#include "realtime-priority.h"

#include <cstring>

#include <pthread.h>
#include <sched.h>

namespace vmm {

std::string make_realtime(std::thread& thread) {
  sched_param param{};
  param.sched_priority = sched_get_priority_min(SCHED_FIFO);
  int error = pthread_setschedparam(thread.native_handle(), SCHED_FIFO, &param);
  return error == 0 ? "" : std::strerror(error);
}

}  // namespace vmm
