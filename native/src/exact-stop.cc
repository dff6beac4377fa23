#include "exact-stop.h"

#include <atomic>
#include <chrono>
#include <cstdint>
#include <cstring>
#include <thread>

#include "realtime-priority.h"

namespace vmm {
namespace {

constexpr uint64_t kCode = 0x1000;
constexpr uint32_t kCounters = 0x8000;
// The scan stays well inside uc_struct, which is over 12 KiB (its nested-run jump buffers alone).
constexpr size_t kScanBytes = 8192;
constexpr int kMinimumStops = 8;
constexpr std::chrono::seconds kProofTimeLimit{5};

// The anchor: an int equal to cpu_context_size (uc_context_size() less a header of 16 to 32
// bytes), then the 8-byte-aligned next_pc, then the bools hook_insert, first_tb,
// no_exit_request and init_done.
bool find_candidate(uc_engine* uc, size_t* offset, std::string* why_not) {
  const uint8_t* base = reinterpret_cast<const uint8_t*>(uc);
  size_t context = uc_context_size(uc);
  size_t found = 0;
  int matches = 0;
  for (size_t at = 0; at + 4 <= kScanBytes; at += 4) {
    int32_t value;
    std::memcpy(&value, base + at, sizeof value);
    if (value <= 0 || static_cast<size_t>(value) + 32 < context || static_cast<size_t>(value) + 16 > context) continue;
    size_t next_pc = (at + 4 + 7) & ~size_t{7};
    size_t candidate = next_pc + 8 + 2;
    if (candidate + 1 >= kScanBytes) continue;
    // hook_insert, first_tb and no_exit_request are clear, init_done set.
    if (base[candidate - 2] != 0 || base[candidate - 1] != 0 || base[candidate] != 0 || base[candidate + 1] != 1) continue;
    found = candidate;
    matches++;
  }
  if (matches != 1) {
    *why_not = matches == 0 ? "no candidate for Unicorn's no_exit_request" : "several candidates for Unicorn's no_exit_request";
    return false;
  }
  *offset = found;
  return true;
}

}  // namespace

bool prove_exact_stops(size_t no_exit_request_offset, std::string* why_not) {
  uc_engine* uc = nullptr;
  if (uc_open(UC_ARCH_X86, UC_MODE_32, &uc) != UC_ERR_OK) {
    *why_not = "cannot open a scratch Unicorn engine";
    return false;
  }
  bool exact = false;
  if (uc_mem_map(uc, 0, 0x10000, UC_PROT_ALL) == UC_ERR_OK && uc_ctl_exits_enable(uc) == UC_ERR_OK &&
      no_exit_request_offset < kScanBytes) {
    reinterpret_cast<uint8_t*>(uc)[no_exit_request_offset] = 1;
    // mov ecx, N ; l: inc esi ; inc dword [kCounters] ; add dword [kCounters+4], 3 ; dec ecx ;
    // jnz l ; hlt. A stop taken after the first store re-runs `inc esi` and the store.
    constexpr uint32_t kLoops = 1000000;
    uint8_t code[] = {0xB9, 0, 0, 0, 0, 0x46, 0xFF, 0x05, 0x00, 0x80, 0x00, 0x00, 0x83, 0x05,
                      0x04, 0x80, 0x00, 0x00, 0x03, 0x49, 0x75, 0xEF, 0xF4};
    std::memcpy(code + 1, &kLoops, sizeof kLoops);
    uc_mem_write(uc, kCode, code, sizeof code);
    std::atomic<bool> done{false};
    std::thread stopper([&] {
      while (!done.load()) {
        std::this_thread::sleep_for(std::chrono::microseconds(100));
        if (!done.load()) uc_emu_stop(uc);
      }
    });
    // As the time-slice timer, which makes the real stops: on a busy host a normal thread may not
    // wake at all while a round of the loop runs.
    make_realtime(stopper);
    // Rounds of the loop until enough stops have landed in them, so that the proof does not hang
    // on how the host schedules the stopper; every round must end with exact counts.
    const auto give_up = std::chrono::steady_clock::now() + kProofTimeLimit;
    int stops = 0;
    bool counts_exact = true;
    uc_err err = UC_ERR_OK;
    do {
      const uint32_t zero[2] = {0, 0};
      uc_mem_write(uc, kCounters, zero, sizeof zero);
      uint32_t esi = 0;
      uc_reg_write(uc, UC_X86_REG_ESI, &esi);
      uint64_t eip = kCode;
      while (err == UC_ERR_OK && eip != kCode + sizeof code) {
        err = uc_emu_start(uc, eip, 0, 0, 0);
        uint32_t value = 0;
        uc_reg_read(uc, UC_X86_REG_EIP, &value);
        eip = value;
        if (eip != kCode + sizeof code) stops++;
      }
      uint32_t count = 0, sum = 0;
      uc_reg_read(uc, UC_X86_REG_ESI, &esi);
      uc_mem_read(uc, kCounters, &count, 4);
      uc_mem_read(uc, kCounters + 4, &sum, 4);
      counts_exact = esi == kLoops && count == kLoops && sum == 3 * kLoops;
    } while (err == UC_ERR_OK && counts_exact && stops < kMinimumStops && std::chrono::steady_clock::now() < give_up);
    done.store(true);
    stopper.join();
    if (err != UC_ERR_OK) {
      *why_not = std::string("the proof loop failed: ") + uc_strerror(err);
    } else if (!counts_exact) {
      *why_not = "stops re-executed guest instructions with the candidate offset";
    } else if (stops < kMinimumStops) {
      *why_not = "the proof loop was stopped only " + std::to_string(stops) + " times";
    } else {
      exact = true;
    }
  } else if (no_exit_request_offset >= kScanBytes) {
    *why_not = "offset out of range";
  } else {
    *why_not = "cannot set up the scratch engine";
  }
  uc_close(uc);
  return exact;
}

const ExactStopLayout& exact_stop_layout() {
  static const ExactStopLayout layout = [] {
    ExactStopLayout result;
    uc_engine* uc = nullptr;
    if (uc_open(UC_ARCH_X86, UC_MODE_32, &uc) != UC_ERR_OK) {
      result.why_not = "cannot open a scratch Unicorn engine";
      return result;
    }
    // Any API call initialises the engine (init_done).
    uc_mem_map(uc, 0, 0x1000, UC_PROT_ALL);
    size_t offset = 0;
    bool candidate = find_candidate(uc, &offset, &result.why_not);
    uc_close(uc);
    if (candidate && prove_exact_stops(offset, &result.why_not)) {
      result.proven = true;
      result.no_exit_request_offset = offset;
    }
    return result;
  }();
  return layout;
}

void set_exact_stops(uc_engine* uc, const ExactStopLayout& layout, bool on) {
  if (!layout.proven) return;
  reinterpret_cast<uint8_t*>(uc)[layout.no_exit_request_offset] = on ? 1 : 0;
}

}  // namespace vmm
