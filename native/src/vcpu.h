// One virtual CPU and its guest RAM on a Unicorn x86 engine: the native half of the VMM.
// run() executes the guest until something needs the VMM and fills the shared exit record.
#pragma once
#include <atomic>
#include <memory>
#include <string>
#include <vector>

#include <napi.h>
#include <unicorn/unicorn.h>

#include "block-address-set.h"
#include "content-dirty-log.h"
#include "postcopy-receiver.h"
#include "debug-stops.h"
#include "direct-cpu-checks.h"
#include "engine-core.h"
#include "event-injection.h"
#include "event-windows.h"
#include "exact-stop.h"
#include "exception-state.h"
#include "live-cpu-state.h"
#include "exit-record.h"
#include "guest-memory.h"
#include "timeslice-timer.h"
#include "trace-recorder.h"

namespace vmm {

class TrapCore;

// The generic vCPU: Unicorn, its hooks, the run loop, stops and interrupt windows, block
// discovery, tracing and the N-API binding. Engine-specific work happens in the engine core it
// holds (engine-core.h), never here.
class Vcpu : public Napi::ObjectWrap<Vcpu>, private VcpuServices, private TraceRecorder::Host, private DebugStops::Host,
             private PlatformMsrs {
 public:
  static Napi::Function Define(Napi::Env env);
  explicit Vcpu(const Napi::CallbackInfo& info);
  ~Vcpu() override;

 private:
  struct MmioRegion {
    Vcpu* vcpu;
    uint64_t base;
  };

  Napi::Value Run(const Napi::CallbackInfo& info);
  void RequestStop(const Napi::CallbackInfo& info);
  Napi::Value ReadRegister(const Napi::CallbackInfo& info);
  void WriteRegister(const Napi::CallbackInfo& info);
  Napi::Value ReadMsr(const Napi::CallbackInfo& info);
  void WriteMsr(const Napi::CallbackInfo& info);
  void SetInlineHandler(const Napi::CallbackInfo& info);
  void SetInterruptPending(const Napi::CallbackInfo& info);
  void SetNmiPending(const Napi::CallbackInfo& info);
  void SetCr4SupportedBits(const Napi::CallbackInfo& info);
  void SetAbsentMsrs(const Napi::CallbackInfo& info);
  Napi::Value NmiBlocked(const Napi::CallbackInfo& info);
  void MapMmio(const Napi::CallbackInfo& info);
  void InvalidateCode(const Napi::CallbackInfo& info);
  void InvalidatePhysical(const Napi::CallbackInfo& info);
  Napi::Value UnicornErrorText(const Napi::CallbackInfo& info);
  Napi::Value Inject(const Napi::CallbackInfo& info);
  Napi::Value GetInjectionDetail(const Napi::CallbackInfo& info);
  Napi::Value GetTaskSwitch(const Napi::CallbackInfo& info);
  Napi::Value GetOpenBusAccesses(const Napi::CallbackInfo& info);
  void SetExceptionReflection(const Napi::CallbackInfo& info);
  void SetHypercalls(const Napi::CallbackInfo& info);
  Napi::Value GetReflectedExceptions(const Napi::CallbackInfo& info);
  Napi::Value GetLiveCpuStateMissing(const Napi::CallbackInfo& info);
  // Delivers the pending exception to the guest's own handler without leaving the run (no engine
  // core, reflection on). False: the run ends with the exception exit, as without reflection.
  // (reflect_exception, below, is the delivery itself, which engine cores use too.)
  bool ReflectPendingException();
  // Drops Unicorn's TLB after a guest exception, without an engine core (see vcpu.cc).
  void RearmCodeWriteChecks();
  Napi::Value InInterruptShadow(const Napi::CallbackInfo& info);
  Napi::Value CodeSegmentIs32(const Napi::CallbackInfo& info);
  void HoldInterruptShadow(const Napi::CallbackInfo& info);
  void EndInterruptShadow(const Napi::CallbackInfo& info);
  Napi::Value GetStopMechanism(const Napi::CallbackInfo& info);
  Napi::Value GetCodeWriteMarks(const Napi::CallbackInfo& info);
  static Napi::Value ProveTlbCodeMarks(const Napi::CallbackInfo& info);
  Napi::Value GetWindowMechanism(const Napi::CallbackInfo& info);
  // Whether an interrupt must wait now (SDM Vol. 3 §6.8.3): the instruction just executed was
  // STI, MOV SS or POP SS (run by the CPU, or emulated by the VMM).
  bool InInterruptShadowNow();
  // Whether the guest can take an external interrupt now (IF set, no shadow).
  bool InterruptWindowOpen();
  // The block hook, for what needs one: stops without exact exits, an engine core's block events
  // and block discovery. Translations made without it are dropped.
  void EnsureBlockHook();
  // From the timer's thread: the slice is over, or it is time to look for an interrupt window.
  void OnSliceDeadline();
  void OnWindowPoll();
  // Stops the running guest at the next block start, from any thread (exact stops only).
  void StopAsync();
  void SetTracing(const Napi::CallbackInfo& info);
  // Debugger stops (debug-stops.h) and the state a debugger reads.
  void SetBreakpoints(const Napi::CallbackInfo& info);
  void SetWatchpoints(const Napi::CallbackInfo& info);
  void DebugStep(const Napi::CallbackInfo& info);
  void DebugResume(const Napi::CallbackInfo& info);
  Napi::Value ReadFpu(const Napi::CallbackInfo& info);
  void DropTranslations(const Napi::CallbackInfo& info);
  Napi::Value SaveCpuState(const Napi::CallbackInfo& info);
  void RestoreCpuState(const Napi::CallbackInfo& info);
  Napi::Value GetCpuStateFormat(const Napi::CallbackInfo& info);
  void SetTscOffset(const Napi::CallbackInfo& info);
  void StartPostcopy(const Napi::CallbackInfo& info);
  Napi::Value ZeroPageMap(const Napi::CallbackInfo& info);
  void ClearRam(const Napi::CallbackInfo& info);
  Napi::Value ReadPages(const Napi::CallbackInfo& info);
  Napi::Value TrapArchitecturalState(const Napi::CallbackInfo& info);
  Napi::Value PostcopyStatus(const Napi::CallbackInfo& info);
  Napi::Value GetTscOffsetMissing(const Napi::CallbackInfo& info);
  // After hooks changed: drop translations made without them, and choose how stops are taken
  // (exact stops skip the exit check after a code hook, so any code hook turns them off).
  void AfterHooksChanged(bool changed);
  // Stops the guest in the block hook, before the block at `linear` runs. While code hooks exist
  // Unicorn does not put EIP back to the block's start then (it expects each hooked instruction
  // to have set it), so it is set here.
  void StopAtBlockStart(uint64_t linear);
  Napi::Value GetTraceBuffer(const Napi::CallbackInfo& info);
  void Close(const Napi::CallbackInfo& info);
  void TrapConfigure(const Napi::CallbackInfo& info);
  Napi::Value TrapLoadGdt(const Napi::CallbackInfo& info);
  void TrapEnter(const Napi::CallbackInfo& info);
  void TrapInvalidatePage(const Napi::CallbackInfo& info);
  void TrapSetGuestTss(const Napi::CallbackInfo& info);
  Napi::Value TrapCounters(const Napi::CallbackInfo& info);
  void SetDirtyLogging(const Napi::CallbackInfo& info);
  void SetBlockDiscovery(const Napi::CallbackInfo& info);
  Napi::Value TakeDirtyLog(const Napi::CallbackInfo& info);
  Napi::Value ReadGuestLinear(const Napi::CallbackInfo& info);
  Napi::Value WriteGuestLinear(const Napi::CallbackInfo& info);
  Napi::Value TranslateGuestLinear(const Napi::CallbackInfo& info);
  Napi::Value GetTrap(const Napi::CallbackInfo& info);
  // The trap core, for the trap engine's own methods; else throws and returns nullptr.
  TrapCore* CheckTrap(Napi::Env env);
  Napi::Value GetRam(const Napi::CallbackInfo& info);
  Napi::Value GetExitRecord(const Napi::CallbackInfo& info);

  static uint32_t OnPortIn(uc_engine* uc, uint32_t port, int size, void* self);
  static void OnPortOut(uc_engine* uc, uint32_t port, int size, uint32_t value, void* self);
  static int OnCpuid(uc_engine* uc, void* self);
  static void OnInterrupt(uc_engine* uc, uint32_t vector, void* self);
  static bool OnInvalidInstruction(uc_engine* uc, void* self);
  void RecordGuestFetchAddress();
  static bool OnUnmapped(uc_engine* uc, uc_mem_type type, uint64_t address, int size, int64_t value, void* self);
  static void OnBlock(uc_engine* uc, uint64_t address, uint32_t size, void* self);
  static uint64_t OnOpenBusRead(uc_engine* uc, uint64_t offset, unsigned size, void* self);
  static void OnOpenBusWrite(uc_engine* uc, uint64_t offset, unsigned size, uint64_t value, void* self);
  static uint64_t OnMmioRead(uc_engine* uc, uint64_t offset, unsigned size, void* region);
  static void OnMmioWrite(uc_engine* uc, uint64_t offset, unsigned size, uint64_t value, void* region);

  // Calls the TypeScript inline-exit handler; on a JS exception, stops the guest.
  bool CallInlineHandler(InlineKind kind);
  bool CheckOpen(Napi::Env env);
  bool RunningAtCpl3() { return current_cpl() == 3; }
  // Whether the engine core accepts a stop at the current EIP (EngineCore::stop_allowed_at).
  bool StopAllowedHere();
  // Which windows the exact-window mechanism watches for, from what is pending (event-windows.h).
  void WatchWindows();
  void Release();

  // VcpuServices, for the engine core.
  uint32_t* exit_record() override { return exit_record_; }
  EventInjector& injector() override { return *injector_; }
  TraceRecorder& trace() override { return trace_; }
  bool interrupt_pending() const override { return interrupt_pending_; }
  bool in_interrupt_shadow() override { return InInterruptShadowNow(); }
  // PlatformMsrs (direct-cpu-checks.h): asked of TypeScript through an inline exit.
  bool read_platform_msr(uint32_t index, uint64_t* value) override;
  bool write_platform_msr(uint32_t index, uint64_t value) override;
  bool stop_pending() const override { return stop_pending_.load(std::memory_order_acquire); }
  void hold_interrupt_shadow(uint32_t linear) override { emulated_shadow_at_ = linear; }
  bool reflect_exception(uint32_t vector, bool software_interrupt) override;
  void need_block_events() override { EnsureBlockHook(); }
  bool take_hypercall(bool from_user) override;
  void end_run_at_block_start(uint64_t linear, ExitKind kind) override {
    block_start_exit_ = kind;
    StopAtBlockStart(linear);
  }
  // uc_emu_start at the guest's EIP, after the engine core's before_resume.
  uc_err StartGuest();
  // Moves EIP back onto the HLT the last run ended with (guest-halt.h).
  void RewindHalt();
  // From the live CPU state where it was located, else CS's RPL (the same in protected mode).
  uint32_t current_cpl() override;
  // TraceRecorder::Host, for the trace recorder.
  bool stop_before_instruction() override;
  bool drain_trace_buffer() override;
  bool handler_threw() const override { return handler_threw_; }
  bool guest_instruction(uint32_t linear, uint32_t* guest) override;
  // DebugStops::Host, for the debugger's stops.
  void stop_before_this_instruction() override;
  bool is_vmm_code(uint64_t linear) const override;

  uc_engine* uc_ = nullptr;
  std::unique_ptr<GuestMemory> memory_;
  // Guest RAM's bytes, from guest-physical 0 (the VMM region, if any, lies above).
  size_t ram_bytes_ = 0;
  std::unique_ptr<ExceptionState> exception_state_;
  std::unique_ptr<LiveCpuState> live_state_;  // null: not located on this Unicorn build
  std::string live_state_why_not_;
  std::unique_ptr<TimesliceTimer> timer_;
  ExactStopLayout exact_layout_;  // the proven offset, or why there is none (exact-stop.h)
  std::unique_ptr<EventInjector> injector_;
  std::unique_ptr<EngineCore> engine_;  // none for the direct engine
  // Exact interrupt and NMI windows (direct, where proven on this Unicorn build); null: polled.
  std::unique_ptr<EventWindows> event_windows_;
  std::string event_windows_why_not_;
  EventWindow window_taken_ = EventWindow::kNone;  // by the last uc_emu_start
  // What the guest's CPU refuses that Unicorn's would take (direct only).
  DirectCpuChecks cpu_checks_;
  TrapCore* trap_ = nullptr;
  std::unique_ptr<ContentDirtyLog> content_dirty_log_;  // the dirty log without an engine core
  std::unique_ptr<PostcopyReceiver> postcopy_;          // while guest RAM comes by post-copy
  std::unique_ptr<PostcopyReceiver::Status> postcopy_final_;  // how it stood when the vCPU closed            // engine_, when it is the trap engine's (with a VMM region)
  TraceRecorder trace_{*this};
  DebugStops debug_{*this};
  bool discover_blocks_ = false;
  BlockAddressSet known_blocks_;
  // The exit the engine core asked for at a block start (end_run_at_block_start), this run.
  ExitKind block_start_exit_ = kExitNone;
  std::string injection_detail_;
  std::vector<std::unique_ptr<MmioRegion>> mmio_regions_;
  uint32_t exit_record_[kExitRecordWords] = {};
  Napi::Reference<Napi::ArrayBuffer> ram_buffer_;
  Napi::Reference<Napi::ArrayBuffer> exit_buffer_;
  Napi::FunctionReference inline_handler_;
  napi_env env_ = nullptr;  // valid only during Run()
  bool running_ = false;
  bool stop_requested_ = false;
  // Raised by the timer thread or a stop request; acted on at the next block boundary only.
  std::atomic<bool> stop_pending_{false};
  bool stopping_ = false;  // uc_emu_stop called in this run: the trace records no more instructions
  // Set by the VMM while an external interrupt waits for the guest to enable interrupts.
  bool interrupt_pending_ = false;
  bool nmi_pending_ = false;  // an NMI waits for the handler of the last one to run IRET
  bool window_open_ = false;
  // Where an emulated STI or MOV SS holds the shadow (the CPU's own is in its hflags).
  static constexpr uint64_t kNoAddress = ~uint64_t{0};
  uint64_t emulated_shadow_at_ = kNoAddress;
  // Stops: exact (Unicorn's load/store exit checks off, stops from any thread) or through the
  // block hook; async_stops_ is whether a stop may be requested from another thread now (not
  // while tracing, whose code hook needs the load/store checks).
  bool exact_stops_ = false;
  std::string stop_mechanism_;
  std::atomic<bool> async_stops_{false};
  std::atomic<bool> poll_fired_{false};
  uc_hook block_hook_ = 0;
  bool block_hook_everywhere_ = false;  // else only below the engine core's block_events_end()
  bool has_run_ = false;  // translations may exist
  uint32_t window_poll_ = 0;
  uint64_t open_bus_reads_ = 0;
  uint64_t open_bus_writes_ = 0;
  bool exception_pending_ = false;
  bool exception_is_int_ = false;  // the pending event came from INT n / INT3 / INTO
  bool reflect_exceptions_ = false;  // setExceptionReflection
  bool hypercalls_ = false;          // setHypercalls: VMCALL and VMMCALL are hypercalls (hypercall.h)
  uint64_t reflected_exceptions_ = 0;
  bool handler_threw_ = false;
};

}  // namespace vmm
