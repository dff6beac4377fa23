#include "debug-stops.h"

#include <algorithm>
#include <iterator>

namespace vmm {

namespace {

// The widest single access an instruction makes (a 16-byte SSE move): a memory hook's bounds
// start this far below the watched range, so that an access beginning before it is seen too.
constexpr uint32_t kWidestAccess = 16;

}  // namespace

std::vector<uint32_t> DebugStops::set_breakpoints(uc_engine* uc, const std::vector<uint32_t>& linears) {
  std::vector<uint32_t> wanted(linears);
  std::sort(wanted.begin(), wanted.end());
  wanted.erase(std::unique(wanted.begin(), wanted.end()), wanted.end());
  std::vector<uint32_t> installed;
  for (const Breakpoint& b : breakpoints_) installed.push_back(b.linear);
  std::sort(installed.begin(), installed.end());
  std::vector<uint32_t> changed;
  std::set_symmetric_difference(installed.begin(), installed.end(), wanted.begin(), wanted.end(), std::back_inserter(changed));
  if (changed.empty()) return changed;
  for (const Breakpoint& b : breakpoints_) uc_hook_del(uc, b.hook);
  breakpoints_.clear();
  for (uint32_t linear : wanted) {
    Breakpoint b{linear, 0};
    if (uc_hook_add(uc, &b.hook, UC_HOOK_CODE, reinterpret_cast<void*>(on_breakpoint), this, linear, linear) == UC_ERR_OK) {
      breakpoints_.push_back(b);
    }
  }
  return changed;
}

bool DebugStops::set_watchpoints(uc_engine* uc, const std::vector<Watchpoint>& watchpoints) {
  bool same = watchpoints.size() == watchpoints_.size();
  for (size_t i = 0; same && i < watchpoints.size(); i++) {
    const Watchpoint& a = watchpoints[i];
    const Watchpoint& b = watchpoints_[i].watch;
    same = a.linear == b.linear && a.length == b.length && a.kind == b.kind;
  }
  if (same) return false;
  for (const InstalledWatch& w : watchpoints_) uc_hook_del(uc, w.hook);
  watchpoints_.clear();
  for (const Watchpoint& watch : watchpoints) {
    int types = watch.kind == WatchKind::kWrite  ? UC_HOOK_MEM_WRITE
                : watch.kind == WatchKind::kRead ? UC_HOOK_MEM_READ
                                                 : UC_HOOK_MEM_READ | UC_HOOK_MEM_WRITE;
    uint64_t begin = watch.linear >= kWidestAccess ? watch.linear - (kWidestAccess - 1) : 0;
    uint64_t end = uint64_t{watch.linear} + watch.length - 1;
    InstalledWatch installed{watch, 0};
    if (uc_hook_add(uc, &installed.hook, types, reinterpret_cast<void*>(on_memory), this, begin, end) == UC_ERR_OK) {
      watchpoints_.push_back(installed);
    }
  }
  watch_hit_ = DebugStopReason::kNone;
  update_instruction_hook(uc);
  return true;
}

void DebugStops::step(uc_engine* uc, uint32_t count) {
  stepping_ = true;
  step_count_ = count;
  arrivals_ = 0;
  announced_ = false;
  update_instruction_hook(uc);
}

void DebugStops::cancel_step(uc_engine* uc) {
  stepping_ = false;
  update_instruction_hook(uc);
}

void DebugStops::resume_from(uint32_t linear) {
  resume_linear_ = linear;
  blocks_since_resume_ = 0;
}

void DebugStops::instruction_restarted(uint32_t linear) {
  // It will arrive again; this time it runs.
  if (stepping_ && arrivals_ > 0 && linear == last_arrival_) arrivals_--;
}

bool DebugStops::step_arrives(uint32_t linear) {
  arrivals_++;
  last_arrival_ = linear;
  if (arrivals_ <= step_count_) return false;
  stop(DebugStopReason::kStep, linear);
  return true;
}

bool DebugStops::on_block(uint64_t linear) {
  if (host_.is_vmm_code(linear)) return false;
  if (blocks_since_resume_ < 2) blocks_since_resume_++;
  if (stopped()) return false;
  if (watch_hit_ != DebugStopReason::kNone) {
    take_pending_watch();
    stepping_ = false;
    return true;
  }
  if (!stepping_) return false;
  announced_ = true;
  announced_linear_ = static_cast<uint32_t>(linear);
  // At a block start the caller stops the guest itself.
  return step_arrives(static_cast<uint32_t>(linear));
}

bool DebugStops::take_pending_watch() {
  if (watch_hit_ == DebugStopReason::kNone) return false;
  reason_ = watch_hit_;
  address_ = watch_address_;
  watch_hit_ = DebugStopReason::kNone;
  return true;
}

// The unbounded hook exists only while something needs every instruction. (Translations made
// while it existed keep calling into Unicorn's hook list after it is removed, at no effect.)
void DebugStops::update_instruction_hook(uc_engine* uc) {
  bool wanted = stepping_ || !watchpoints_.empty();
  if (wanted == (instruction_hook_ != 0)) return;
  if (wanted) {
    uc_hook_add(uc, &instruction_hook_, UC_HOOK_CODE, reinterpret_cast<void*>(on_instruction), this, 1, 0);
  } else {
    uc_hook_del(uc, instruction_hook_);
    instruction_hook_ = 0;
  }
}

void DebugStops::stop(DebugStopReason reason, uint32_t address) {
  reason_ = reason;
  address_ = address;
  if (reason == DebugStopReason::kStep) stepping_ = false;
}

void DebugStops::on_breakpoint(uc_engine* uc, uint64_t address, uint32_t size, void* self) {
  DebugStops* stops = static_cast<DebugStops*>(self);
  if (stops->stopped()) return;
  // Resuming from this very address: the instruction runs once before the breakpoint is live.
  if (stops->blocks_since_resume_ < 2 && static_cast<uint32_t>(address) == stops->resume_linear_) return;
  stops->stop(DebugStopReason::kBreakpoint, static_cast<uint32_t>(address));
  stops->host_.stop_before_this_instruction();
}

void DebugStops::on_instruction(uc_engine* uc, uint64_t address, uint32_t size, void* self) {
  DebugStops* stops = static_cast<DebugStops*>(self);
  if (stops->stopped() || stops->host_.is_vmm_code(address)) return;
  uint32_t linear = static_cast<uint32_t>(address);
  bool announced = stops->announced_ && stops->announced_linear_ == linear;
  stops->announced_ = false;
  if (stops->watch_hit_ != DebugStopReason::kNone) {
    stops->take_pending_watch();
    stops->stepping_ = false;  // the step ends here too
    stops->host_.stop_before_this_instruction();
    return;
  }
  // The first instruction of a block was counted at the block's start.
  if (!stops->stepping_ || announced) return;
  if (stops->step_arrives(linear)) stops->host_.stop_before_this_instruction();
}

void DebugStops::on_memory(uc_engine* uc, uc_mem_type type, uint64_t address, int size, int64_t value, void* self) {
  DebugStops* stops = static_cast<DebugStops*>(self);
  if (stops->watch_hit_ != DebugStopReason::kNone) return;  // the first access is the one reported
  bool write = type == UC_MEM_WRITE;
  uint64_t end = address + static_cast<uint64_t>(size);
  for (const InstalledWatch& w : stops->watchpoints_) {
    uint64_t watch_end = uint64_t{w.watch.linear} + w.watch.length;
    if (address >= watch_end || end <= w.watch.linear) continue;
    if (w.watch.kind == WatchKind::kWrite && !write) continue;
    if (w.watch.kind == WatchKind::kRead && write) continue;
    stops->watch_hit_ = w.watch.kind == WatchKind::kWrite  ? DebugStopReason::kWatchWrite
                        : w.watch.kind == WatchKind::kRead ? DebugStopReason::kWatchRead
                                                           : DebugStopReason::kWatchAccess;
    // GDB is told the watched address itself, which it matches against its watchpoints.
    stops->watch_address_ = w.watch.linear;
    return;
  }
}

}  // namespace vmm
