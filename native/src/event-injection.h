// Delivery of exceptions and interrupts to the guest, as the CPU would do it (Intel SDM Vol. 3
// chapter 6): through the IVT in real mode; through IDT interrupt and trap gates (16 and 32-bit)
// in protected mode, with the stack switch from the TSS on a privilege change, error codes, CR2
// for #PF, and the contributory / double-fault / triple-fault rules of §6.15 (Table 6-5).
// Unicorn never delivers events itself (it reports them to the interrupt hook), so this is the
// only delivery path. A task gate switches tasks (task-switch.cc); virtual-8086 mode is reported
// as unsupported.
#pragma once
#include <cstdint>
#include <functional>
#include <optional>
#include <string>

#include <unicorn/unicorn.h>

#include "guest-page-walk.h"
#include "live-cpu-state.h"
#include "x86.h"

namespace vmm {

// kNmi: an NMI, which the vCPU delivers as an external interrupt and then blocks NMIs after.
enum class EventSource : uint32_t { kExternal = 0, kException = 1, kSoftware = 2, kNmi = 3 };

struct GuestEvent {
  uint32_t vector;
  EventSource source;
  bool has_error_code;
  uint32_t error_code;
};

// The real ring the trap engine's guest kernel runs on: guest ring 0 is deprivileged to ring 1
// ("ring compression"); guest ring 3 stays on ring 3.
constexpr uint32_t kGuestKernelRing = 1;

// How the trap engine's guest is seen: its own paging state (the real CR3 holds a shadow), the
// VMM hole readable from the VMM region, and EFLAGS bits the VMM keeps set for itself.
struct TrapView {
  PagingState guest_paging;
  uint8_t* hole_memory;     // what the hole maps from kHoleLinear, kRegionMappedBytes long
  uint32_t hidden_flags;    // real EFLAGS bits the guest must not see in a pushed frame (NT)
  // The guest's own TSS (its TR is virtual): the inner stack for a delivery from guest ring 3.
  uint32_t guest_tss_base;
  uint32_t guest_tss_limit;
  // Commits a delivery that changes privilege (the CPU's own IRET from the VMM's stub).
  std::function<void(uint32_t cs, uint32_t eip, uint32_t eflags, uint32_t ss, uint32_t esp)> enter;
};

// kTaskSwitch: the event needs a task switch of the trap engine's deprivileged kernel, whose
// task state (TR, CR3, the guest's NT) the engine keeps: nothing was changed, and the engine
// carries the switch out (task_switch() says which).
enum class DeliveryResult : uint32_t { kDelivered = 0, kShutdown = 1, kUnsupported = 2, kTaskSwitch = 3 };

struct DeliveryOutcome {
  DeliveryResult result;
  uint32_t delivered_vector;  // what finally reached the guest (#DF after a double fault)
  std::string detail;         // why a shutdown or what is unsupported
};

// An event whose IDT gate is a task gate, for the engine to switch tasks with.
struct TaskSwitchRequest {
  GuestEvent event;
  uint32_t tss_selector;
  uint32_t ext;  // EXT of an error code the switch raises (SDM §6.13)
};

class EventInjector {
 public:
  // `live`: the vCPU's live state, for ring switches without TLB flushes (null: not located).
  EventInjector(uc_engine* uc, LiveCpuState* live, GuestRam ram) : uc_(uc), live_(live), ram_(ram) {}
  DeliveryOutcome deliver(GuestEvent event);
  // Length of the INT n / INT3 / INTO instruction that raised `vector` just before EIP (Unicorn
  // says whether an event came from one: ExceptionState::is_software_interrupt).
  uint32_t int_instruction_length(uint32_t vector);
  // The linear address of CS:EIP.
  uint32_t current_linear_eip();
  // The descriptor `selector` names in protected mode, from the table the CPU uses; false if it
  // cannot be read.
  bool segment_descriptor(uint32_t selector, SegmentDescriptor* out) { return !read_descriptor(selector, 0, out); }
  // The guest's own translation of `linear` for a supervisor access (setting A/D as the CPU
  // would); the physical address may lie outside RAM.
  Translation translate(uint32_t linear, uint32_t access) { return walk_guest_page_tables(ram_, paging(), linear, access); }
  // The trap engine's view of its guest (nullptr: the guest is seen as the CPU runs it).
  void set_trap_view(const TrapView* view) { trap_view_ = view; }
  bool write_guest_linear(uint32_t linear, const void* data, uint32_t length) { return !write_linear(linear, data, length, 0); }
  // Reads guest linear memory as a supervisor access; false if any byte is not mapped.
  // guest_mapping_only: through the guest's tables even inside the VMM's hole.
  bool read_guest_linear(uint32_t linear, void* out, uint32_t length, bool guest_mapping_only = false) {
    return !read_linear(linear, out, length, 0, guest_mapping_only);
  }
  // The task switch the last deliver() returned kTaskSwitch for.
  const TaskSwitchRequest& task_switch() const { return task_switch_; }

 private:
  struct Fault {
    uint32_t vector;
    uint32_t error_code;
    uint32_t cr2;
  };
  using MaybeFault = std::optional<Fault>;

  MaybeFault deliver_real_mode(const GuestEvent& event);
  MaybeFault deliver_protected(const GuestEvent& event, std::string* unsupported);
  // The task switch an IDT task gate names (task-switch.cc).
  MaybeFault switch_task_through_gate(const GuestEvent& event, uint32_t tss_selector, uint32_t ext, std::string* unsupported);
  MaybeFault read_linear(uint32_t linear, void* out, uint32_t length, uint32_t access, bool guest_mapping_only = false);
  MaybeFault write_linear(uint32_t linear, const void* data, uint32_t length, uint32_t access);
  MaybeFault read_descriptor(uint32_t selector, uint32_t ext, SegmentDescriptor* out);
  uint32_t reg(int id);
  PagingState paging();

  uc_engine* uc_;
  LiveCpuState* live_;
  GuestRam ram_;
  const TrapView* trap_view_ = nullptr;
  TaskSwitchRequest task_switch_{};
  bool task_switch_requested_ = false;
};

}  // namespace vmm
