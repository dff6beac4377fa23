#include "event-windows.h"

#include <cstring>
#include <vector>

#include "live-cpu-state.h"

extern "C" {

// QEMU's (accel/tcg/tcg-all.c): the function that sets bits of CPUState's interrupt_request.
extern void (*cpu_interrupt_handler)(void* cpu, int mask);
// QEMU's (target/i386/cpu.c): which of the requested interrupts the CPU can take now.
int x86_cpu_pending_interrupt_x86_64(void* cpu, int interrupt_request);
bool __real_x86_cpu_exec_interrupt_x86_64(void* cpu, int interrupt_request);

__attribute__((visibility("hidden"))) bool __wrap_x86_cpu_exec_interrupt_x86_64(void* cpu, int interrupt_request) {
  if (vmm::EventWindows::take_window(cpu, interrupt_request)) return false;
  return __real_x86_cpu_exec_interrupt_x86_64(cpu, interrupt_request);
}

}  // extern "C"

namespace vmm {
namespace {

// include/exec/cpu-all.h and target/i386/cpu.h.
constexpr uint32_t kCpuInterruptHard = 0x0002;
constexpr uint32_t kCpuInterruptNmi = 0x0200;
constexpr int32_t kHflags2Gif = 1 << 0;  // the CPU takes interrupts at all (SVM's global flag)
constexpr int32_t kHflags2Nmi = 1 << 2;  // serving an NMI: further NMIs wait for IRET

constexpr size_t kCpuStateScanBytes = 512;

thread_local EventWindows* t_running = nullptr;

// The displacement of tcg_handle_interrupt's single `or [rdi + disp], esi` (after an optional
// ENDBR64), followed by RET.
bool decode_interrupt_request_offset(size_t* offset, std::string* why_not) {
  const uint8_t* code = reinterpret_cast<const uint8_t*>(cpu_interrupt_handler);
  if (code == nullptr) {
    *why_not = "QEMU's interrupt handler is not set";
    return false;
  }
  size_t at = 0;
  static const uint8_t kEndbr64[] = {0xF3, 0x0F, 0x1E, 0xFA};
  if (std::memcmp(code, kEndbr64, sizeof kEndbr64) == 0) at = sizeof kEndbr64;
  if (code[at] == 0x09 && code[at + 1] == 0x77 && code[at + 3] == 0xC3) {
    *offset = code[at + 2];
    return true;
  }
  if (code[at] == 0x09 && code[at + 1] == 0xB7 && code[at + 6] == 0xC3) {
    uint32_t disp;
    std::memcpy(&disp, code + at + 2, sizeof disp);
    *offset = disp;
    return *offset < kCpuStateScanBytes;
  }
  *why_not = "QEMU's interrupt handler is not the expected `or [rdi + offset], esi`";
  return false;
}

struct ScratchRun {
  EventWindow window;
  uint32_t eip;
  uint32_t eax;
};

ScratchRun run_scratch(uc_engine* uc, EventWindows* windows, uint32_t eip) {
  uc_reg_write(uc, UC_X86_REG_EIP, &eip);
  windows->begin_run();
  uc_emu_start(uc, eip, 0, 0, 0);
  ScratchRun out{windows->end_run(), 0, 0};
  uc_reg_read(uc, UC_X86_REG_EIP, &out.eip);
  uc_reg_read(uc, UC_X86_REG_EAX, &out.eax);
  return out;
}

}  // namespace

bool EventWindows::prove(const ExceptionStateLayout& exceptions, EventWindowLayout* layout) {
  uc_engine* uc = nullptr;
  if (uc_open(UC_ARCH_X86, UC_MODE_32, &uc) != UC_ERR_OK) {
    layout->why_not = "cannot open a scratch Unicorn engine";
    return false;
  }
  bool proven = false;
  std::string why;
  constexpr uint64_t kCode = 0x1000;
  // sti ; inc eax ; inc eax ; hlt
  const uint8_t code[] = {0xFB, 0x40, 0x40, 0xF4};
  if (uc_mem_map(uc, 0, 0x10000, UC_PROT_ALL) != UC_ERR_OK || uc_ctl_exits_enable(uc) != UC_ERR_OK ||
      uc_mem_write(uc, kCode, code, sizeof code) != UC_ERR_OK) {
    layout->why_not = "cannot set up the scratch engine";
    uc_close(uc);
    return false;
  }
  std::unique_ptr<LiveCpuState> live = LiveCpuState::locate(uc, exceptions, &why);
  void* cpu = live ? live->cpu_object() : nullptr;
  volatile int32_t* hflags2 = live ? live->field(layout->hflags2_context_offset) : nullptr;
  if (cpu == nullptr || hflags2 == nullptr) {
    layout->why_not = live ? "QEMU's CPU object was not found" : "the CPU state was not located: " + why;
    uc_close(uc);
    return false;
  }
  // interrupt_request: QEMU's own handler must set exactly the bits asked for at that offset.
  auto* word = reinterpret_cast<volatile uint32_t*>(static_cast<uint8_t*>(cpu) + layout->interrupt_request_offset);
  std::vector<uint8_t> before(static_cast<uint8_t*>(cpu), static_cast<uint8_t*>(cpu) + kCpuStateScanBytes);
  uint32_t original = *word;
  cpu_interrupt_handler(cpu, static_cast<int>(kCpuInterruptHard));
  bool only_that_word = *word == (original | kCpuInterruptHard);
  *word = original;
  only_that_word &= std::memcmp(before.data(), cpu, kCpuStateScanBytes) == 0;
  if (!only_that_word) {
    layout->why_not = "QEMU's interrupt handler did not set the decoded interrupt_request";
  } else if ((*hflags2 & (kHflags2Gif | kHflags2Nmi)) != kHflags2Gif) {
    layout->why_not = "the word after hflags does not read as hflags2";
  } else {
    std::unique_ptr<EventWindows> windows(new EventWindows(uc, cpu, word, hflags2));
    uint32_t eflags = 0x2, zero = 0;  // IF = 0
    uc_reg_write(uc, UC_X86_REG_EFLAGS, &eflags);
    uc_reg_write(uc, UC_X86_REG_EAX, &zero);
    // An interrupt waits: the run stops after STI's shadow, the first INC.
    windows->watch(true, false);
    ScratchRun sti = run_scratch(uc, windows.get(), kCode);
    windows->watch(false, false);
    // A blocked NMI waits: the run goes on to the HLT.
    windows->block_nmis();
    windows->watch(false, true);
    ScratchRun blocked = run_scratch(uc, windows.get(), kCode + 2);
    // Unblocked: the run stops before its first instruction.
    *hflags2 = *hflags2 & ~kHflags2Nmi;
    ScratchRun unblocked = run_scratch(uc, windows.get(), kCode + 2);
    windows->watch(false, false);
    if (sti.window != EventWindow::kInterrupt || sti.eip != kCode + 2 || sti.eax != 1) {
      layout->why_not = "a waiting interrupt did not stop the run right after STI's shadow";
    } else if (blocked.window != EventWindow::kNone || blocked.eip != kCode + 4 || blocked.eax != 2) {
      layout->why_not = "a blocked NMI stopped the run";
    } else if (unblocked.window != EventWindow::kNmi || unblocked.eip != kCode + 2 || unblocked.eax != 2) {
      layout->why_not = "an unblocked NMI did not stop the run at once";
    } else {
      proven = true;
    }
  }
  uc_close(uc);
  return proven;
}

const EventWindowLayout& event_window_layout(const ExceptionStateLayout& exceptions) {
  static const EventWindowLayout layout = [&] {
    EventWindowLayout result;
    result.hflags2_context_offset = exceptions.hflags_offset + 4;  // CPUX86State: hflags, hflags2
    if (decode_interrupt_request_offset(&result.interrupt_request_offset, &result.why_not)) {
      result.proven = EventWindows::prove(exceptions, &result);
    }
    return result;
  }();
  return layout;
}

std::unique_ptr<EventWindows> EventWindows::create(uc_engine* uc, const LiveCpuState* live, const EventWindowLayout& layout) {
  if (!layout.proven || live == nullptr || live->cpu_object() == nullptr) return nullptr;
  volatile int32_t* hflags2 = live->field(layout.hflags2_context_offset);
  if (hflags2 == nullptr) return nullptr;
  auto* word = reinterpret_cast<volatile uint32_t*>(static_cast<uint8_t*>(live->cpu_object()) + layout.interrupt_request_offset);
  return std::unique_ptr<EventWindows>(new EventWindows(uc, live->cpu_object(), word, hflags2));
}

void EventWindows::watch(bool interrupt, bool nmi) {
  uint32_t wanted = (interrupt ? kCpuInterruptHard : 0) | (nmi ? kCpuInterruptNmi : 0);
  *interrupt_request_ = (*interrupt_request_ & ~watched_) | wanted;
  watched_ = wanted;
}

bool EventWindows::nmi_blocked() const { return (*hflags2_ & kHflags2Nmi) != 0; }

void EventWindows::block_nmis() { *hflags2_ = *hflags2_ | kHflags2Nmi; }

void EventWindows::begin_run() {
  opened_ = EventWindow::kNone;
  t_running = this;
}

EventWindow EventWindows::end_run() {
  t_running = nullptr;
  return opened_;
}

bool EventWindows::take_window(void* cpu, int interrupt_request) {
  EventWindows* windows = t_running;
  if (windows == nullptr || windows->cpu_ != cpu) return false;
  return windows->take(interrupt_request);
}

bool EventWindows::take(int interrupt_request) {
  int pending = x86_cpu_pending_interrupt_x86_64(cpu_, interrupt_request & static_cast<int>(watched_));
  if (pending == 0) return false;
  opened_ = pending == static_cast<int>(kCpuInterruptNmi) ? EventWindow::kNmi : EventWindow::kInterrupt;
  // Taken by the VMM: QEMU must not deliver it, nor stop here again.
  watch(false, false);
  uc_emu_stop(uc_);
  return true;
}

}  // namespace vmm
