// The host's TSC rate. Unicorn's RDTSC returns the host TSC, so this is also the guest's TSC
// rate, which the VMM advertises in CPUID leaf 0x15 instead of letting the guest calibrate it
// against the PIT (a calibration that needs port I/O with microsecond-steady latency).
#pragma once
#include <cstdint>

namespace vmm {

// Measured once over ~20 ms of the monotonic clock (robust to the thread being preempted meanwhile);
// 0 where there is no usable TSC.
uint64_t host_tsc_hz();

// Begins the measurement in the background (at module load); host_tsc_hz() waits for it.
void start_host_tsc_measurement();

// The host's TSC now: what the guest's RDTSC would read at this moment (kvmclock's reference).
uint64_t host_tsc();

}  // namespace vmm
