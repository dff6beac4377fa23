#include "vcpu.h"

#include <sys/mman.h>

#include <algorithm>
#include <cstring>

#include "code-write-checks.h"
#include "tlb-code-marks.h"
#include "content-dirty-log.h"
#include "cpu-state-image.h"
#include "tsc-offset.h"
#include "architectural-state.h"
#include "zero-pages.h"
#include "postcopy-receiver.h"
#include "guest-halt.h"
#include "hypercall.h"
#include "registers.h"
#include "smsw-register-form.h"
#include "bt-core.h"
#include "trap-core.h"
#include "vmm-region.h"
#include "x86.h"
#include "zero-by-release.h"

extern "C" {
// QEMU's (exec.c, accel/tcg/translate-all.c), with ram_addr_t 64 bits wide in this build.
uint64_t qemu_ram_addr_from_host_x86_64(uc_engine* uc, void* ptr);
void tb_invalidate_phys_range_x86_64(uc_engine* uc, uint64_t start, uint64_t end);
}

namespace vmm {
namespace {

// uc_emu_start's `until`, ignored: the vCPU runs with Unicorn's exit list enabled and empty
// (see the constructor), so a run only ends on an exit the VMM asked for.
constexpr uint64_t kNoUntil = 0;
constexpr size_t kPage = 4096;
// Guest RAM must leave room below 4 GiB for MMIO and the VMM's own region.
constexpr uint64_t kMaxRamBytes = uint64_t{3584} << 20;
constexpr uint64_t kPhysicalTop = uint64_t{1} << 32;
// The end of the physical space a PAE entry can name (bits 12-51, SDM Vol. 3 §4.4.2).
constexpr uint64_t kPhysicalLimit = uint64_t{1} << 52;
// Where a PC's device windows begin (I/O APIC, HPET, local APIC, firmware: the top 32 MiB below
// 4 GiB). The open bus below 4 GiB is two regions, split here: carving a device window out of a
// region makes Unicorn unmap and remap all of it, flushing its TLB one page at a time, and the
// windows then cost 8,192 flushes each instead of a million (a tenth of a second at start-up).
constexpr uint64_t kDeviceAreaBase = 0xFE000000u;
// A Linux boot to userspace translates less than this, under either engine.
constexpr uint32_t kDefaultTranslationBufferBytes = 64u << 20;

ExceptionStateLayout g_layout;
TscOffsetLayout g_tsc_layout;  // where RDTSC's offset lives (tsc-offset.h)
bool g_layout_probed = false;
std::string g_layout_error;

// Throws a JS error for a failed Unicorn call; returns whether it failed.
bool ThrowIfFailed(Napi::Env env, uc_err err, const char* what) {
  if (err == UC_ERR_OK) return false;
  Napi::Error::New(env, std::string(what) + ": " + uc_strerror(err)).ThrowAsJavaScriptException();
  return true;
}

uint32_t U32(const Napi::Value& value) { return value.As<Napi::Number>().Uint32Value(); }

// A byte string the core made, as a Uint8Array of JavaScript's.
Napi::Uint8Array ToUint8Array(Napi::Env env, const std::vector<uint8_t>& bytes) {
  Napi::Uint8Array out = Napi::Uint8Array::New(env, bytes.size());
  std::memcpy(out.Data(), bytes.data(), bytes.size());
  return out;
}

bool EnsureLayout(Napi::Env env) {
  if (!g_layout_probed) {
    g_layout_probed = true;
    if (!probe_exception_state_layout(&g_layout, &g_layout_error)) g_layout_error = g_layout_error.empty() ? "probe failed" : g_layout_error;
    else g_layout_error.clear();
    if (g_layout_error.empty()) g_tsc_layout = probe_tsc_offset(g_layout.old_exception_offset);
  }
  if (!g_layout_error.empty()) {
    Napi::Error::New(env, g_layout_error).ThrowAsJavaScriptException();
    return false;
  }
  return true;
}

}  // namespace

Napi::Function Vcpu::Define(Napi::Env env) {
  return DefineClass(env, "Vcpu",
                     {
                         InstanceMethod<&Vcpu::Run>("run"),
                         InstanceMethod<&Vcpu::RequestStop>("requestStop"),
                         InstanceMethod<&Vcpu::ReadRegister>("readRegister"),
                         InstanceMethod<&Vcpu::WriteRegister>("writeRegister"),
                         InstanceMethod<&Vcpu::ReadMsr>("readMsr"),
                         InstanceMethod<&Vcpu::WriteMsr>("writeMsr"),
                         InstanceMethod<&Vcpu::SetInlineHandler>("setInlineHandler"),
                         InstanceMethod<&Vcpu::SetInterruptPending>("setInterruptPending"),
                         InstanceMethod<&Vcpu::SetNmiPending>("setNmiPending"),
                         InstanceMethod<&Vcpu::SetCr4SupportedBits>("setCr4SupportedBits"),
                         InstanceMethod<&Vcpu::SetAbsentMsrs>("setAbsentMsrs"),
                         InstanceMethod<&Vcpu::NmiBlocked>("nmiBlocked"),
                         InstanceMethod<&Vcpu::CodeSegmentIs32>("codeSegmentIs32"),
                         InstanceAccessor<&Vcpu::GetWindowMechanism>("windowMechanism"),
                         InstanceMethod<&Vcpu::MapMmio>("mapMmio"),
                         InstanceMethod<&Vcpu::InvalidateCode>("invalidateCode"),
                         InstanceMethod<&Vcpu::InvalidatePhysical>("invalidatePhysical"),
                         InstanceMethod<&Vcpu::UnicornErrorText>("unicornErrorText"),
                         InstanceMethod<&Vcpu::Inject>("inject"),
                         InstanceMethod<&Vcpu::InInterruptShadow>("inInterruptShadow"),
                         InstanceMethod<&Vcpu::HoldInterruptShadow>("holdInterruptShadow"),
                         InstanceAccessor<&Vcpu::GetStopMechanism>("stopMechanism"),
                         InstanceAccessor<&Vcpu::GetCodeWriteMarks>("codeWriteMarks"),
                         StaticMethod<&Vcpu::ProveTlbCodeMarks>("proveTlbCodeMarks"),
                         InstanceMethod<&Vcpu::SetTracing>("setTracing"),
                         InstanceMethod<&Vcpu::SetBreakpoints>("setBreakpoints"),
                         InstanceMethod<&Vcpu::SetWatchpoints>("setWatchpoints"),
                         InstanceMethod<&Vcpu::DebugStep>("debugStep"),
                         InstanceMethod<&Vcpu::DebugResume>("debugResume"),
                         InstanceMethod<&Vcpu::ReadFpu>("readFpu"),
                         InstanceMethod<&Vcpu::DropTranslations>("dropTranslations"),
                         InstanceMethod<&Vcpu::SaveCpuState>("saveCpuState"),
                         InstanceMethod<&Vcpu::RestoreCpuState>("restoreCpuState"),
                         InstanceAccessor<&Vcpu::GetCpuStateFormat>("cpuStateFormat"),
                         InstanceMethod<&Vcpu::SetTscOffset>("setTscOffset"),
                         InstanceMethod<&Vcpu::StartPostcopy>("startPostcopy"),
                         InstanceMethod<&Vcpu::ZeroPageMap>("zeroPageMap"),
                         InstanceMethod<&Vcpu::ClearRam>("clearRam"),
                         InstanceMethod<&Vcpu::ReadPages>("readPages"),
                         InstanceMethod<&Vcpu::PostcopyStatus>("postcopyStatus"),
                         InstanceAccessor<&Vcpu::GetTscOffsetMissing>("tscOffsetMissing"),
                         InstanceAccessor<&Vcpu::GetTraceBuffer>("traceBuffer"),
                         InstanceAccessor<&Vcpu::GetInjectionDetail>("injectionDetail"),
                         InstanceAccessor<&Vcpu::GetTaskSwitch>("taskSwitch"),
                         InstanceAccessor<&Vcpu::GetOpenBusAccesses>("openBusAccesses"),
                         InstanceMethod<&Vcpu::SetExceptionReflection>("setExceptionReflection"),
                         InstanceMethod<&Vcpu::SetHypercalls>("setHypercalls"),
                         InstanceMethod<&Vcpu::EndInterruptShadow>("endInterruptShadow"),
                         InstanceAccessor<&Vcpu::GetLiveCpuStateMissing>("liveCpuStateMissing"),
                         InstanceAccessor<&Vcpu::GetReflectedExceptions>("reflectedExceptions"),
                         InstanceMethod<&Vcpu::Close>("close"),
                         InstanceAccessor<&Vcpu::GetTrap>("trap"),
                         InstanceMethod<&Vcpu::SetDirtyLogging>("setDirtyLogging"),
                         InstanceMethod<&Vcpu::SetBlockDiscovery>("setBlockDiscovery"),
                         InstanceMethod<&Vcpu::TakeDirtyLog>("takeDirtyLog"),
                         InstanceMethod<&Vcpu::ReadGuestLinear>("readGuestLinear"),
                         InstanceMethod<&Vcpu::WriteGuestLinear>("writeGuestLinear"),
                         InstanceMethod<&Vcpu::TranslateGuestLinear>("translateGuestLinear"),
                         InstanceAccessor<&Vcpu::GetRam>("ram"),
                         InstanceAccessor<&Vcpu::GetExitRecord>("exitRecord"),
                     });
}

Vcpu::Vcpu(const Napi::CallbackInfo& info) : Napi::ObjectWrap<Vcpu>(info) {
  Napi::Env env = info.Env();
  if (info.Length() < 1 || !info[0].IsNumber()) {
    Napi::TypeError::New(env, "Vcpu(ramBytes) needs a RAM size in bytes").ThrowAsJavaScriptException();
    return;
  }
  double requested = info[0].As<Napi::Number>().DoubleValue();
  if (!(requested >= kPage) || requested > static_cast<double>(kMaxRamBytes) ||
      static_cast<uint64_t>(requested) % kPage != 0) {
    Napi::RangeError::New(env, "RAM size must be a multiple of 4 KiB between 4 KiB and 3584 MiB")
        .ThrowAsJavaScriptException();
    return;
  }
  if (!EnsureLayout(env)) return;
  // New translations mark their pages' TLB entries by index where that is proven on this build
  // (tlb-code-marks.h); the first vCPU of the process proves it.
  tlb_code_marks_layout(g_layout);
  size_t ram_bytes = static_cast<size_t>(requested);
  memory_ = std::make_unique<GuestMemory>(ram_bytes);
  ram_bytes_ = ram_bytes;
  if (!memory_->ok()) {
    Napi::Error::New(env, "cannot allocate guest RAM").ThrowAsJavaScriptException();
    return;
  }
  uc_err err = uc_open(UC_ARCH_X86, UC_MODE_32, &uc_);
  // Optional eighth argument: Unicorn's CPU model (src/vmm/cpu-model.ts), "qemu64" (Unicorn's
  // default) or "broadwell". Its translator decodes only the instruction families the model has,
  // and QEMU drops CR4.SMAP on a model without SMAP; CPUID is the VMM's whatever the model.
  if (err == UC_ERR_OK && info.Length() > 7 && info[7].IsString()) {
    std::string model = info[7].As<Napi::String>().Utf8Value();
    if (model == "broadwell") {
      err = uc_ctl_set_cpu_model(uc_, UC_CPU_X86_BROADWELL);
    } else if (model != "qemu64") {
      Napi::TypeError::New(env, "the emulated CPU must be 'qemu64' or 'broadwell'").ThrowAsJavaScriptException();
      Release();
      return;
    }
  }
  // Optional second argument: the size of Unicorn's translated-code buffer (it can only be set
  // before anything is mapped; default kDefaultTranslationBufferBytes). Every flush zeroes the
  // whole buffer, and the constructor flushes once (below), so the buffer is committed from the
  // start: Unicorn's own 1 GiB would cost seconds per vCPU and its size in memory.
  uint32_t buffer_bytes = kDefaultTranslationBufferBytes;
  if (info.Length() > 1 && info[1].IsNumber() && info[1].As<Napi::Number>().Uint32Value() > 0) {
    buffer_bytes = info[1].As<Napi::Number>().Uint32Value();
  }
  if (err == UC_ERR_OK) err = uc_ctl_set_tcg_buffer_size(uc_, buffer_bytes);
  if (err == UC_ERR_OK) err = uc_mem_map_ptr(uc_, 0, ram_bytes, UC_PROT_ALL, memory_->base());
  // (Not located: CS is read instead of the CPL, slower per block, and ring switches flush the
  // TLB; nothing else changes.)
  if (err == UC_ERR_OK) live_state_ = LiveCpuState::locate(uc_, g_layout, &live_state_why_not_);
  // Optional third argument: a VMM region for the trap engine, just above RAM (4 MiB aligned),
  // and with it the trap engine's core.
  // "trap" (or true) for the trap engine's core, "bt" for the bt engine's (which builds on it).
  std::string core_kind;
  if (info.Length() > 2 && info[2].IsBoolean() && info[2].As<Napi::Boolean>().Value()) core_kind = "trap";
  if (info.Length() > 2 && info[2].IsString()) core_kind = info[2].As<Napi::String>().Utf8Value();
  if (!core_kind.empty() && core_kind != "trap" && core_kind != "bt") {
    Napi::TypeError::New(env, "the engine core must be 'trap' or 'bt'").ThrowAsJavaScriptException();
    return;
  }
  bool with_region = !core_kind.empty();
  uint64_t region_base = (ram_bytes + (4u << 20) - 1) & ~uint64_t{(4u << 20) - 1};
  // Physical addresses with nothing behind them read as all ones and ignore writes, as on a PC's
  // bus: Linux reads a stack canary through a virtual address before paging is on, and real
  // hardware lets that pass. Device MMIO windows are carved out of this region by mapMmio().
  auto map_open_bus = [&](uint64_t from, uint64_t to) {
    uc_err result = UC_ERR_OK;
    if (from < std::min(to, kDeviceAreaBase)) result = uc_mmio_map(uc_, from, std::min(to, kDeviceAreaBase) - from, OnOpenBusRead, this, OnOpenBusWrite, this);
    from = std::max(from, kDeviceAreaBase);
    if (result == UC_ERR_OK && from < to) result = uc_mmio_map(uc_, from, to - from, OnOpenBusRead, this, OnOpenBusWrite, this);
    return result;
  };
  if (err == UC_ERR_OK && !with_region) err = map_open_bus(ram_bytes, kPhysicalTop);
  // Above 4 GiB (PAE reaches 64 GiB, and Unicorn's walker takes PTE frames up to bit 51) there
  // is nothing either: open bus too, never a 32-bit alias of RAM.
  if (err == UC_ERR_OK) err = uc_mmio_map(uc_, kPhysicalTop, kPhysicalLimit - kPhysicalTop, OnOpenBusRead, this, OnOpenBusWrite, this);
  if (err == UC_ERR_OK && with_region) {
    uint64_t region_end = region_base + kRegionBytes;
    if (region_base > ram_bytes) err = map_open_bus(ram_bytes, region_base);
    if (err == UC_ERR_OK) err = map_open_bus(region_end, kPhysicalTop);
    if (err == UC_ERR_OK) {
      GuestRam ram(memory_->base(), ram_bytes);
      // Optional sixth argument: the bt engine's translation cache in bytes (tests, experiments).
      uint32_t tc_bytes = info.Length() > 5 && info[5].IsNumber() ? info[5].As<Napi::Number>().Uint32Value() : 0;
      // Optional seventh: the shadow page-table pool in bytes (--shadow-pool).
      uint32_t pool_bytes = info.Length() > 6 && info[6].IsNumber() ? info[6].As<Napi::Number>().Uint32Value() : 0;
      std::unique_ptr<TrapCore> core =
          core_kind == "bt" ? std::unique_ptr<TrapCore>(BtCore::create(*this, uc_, live_state_.get(), ram, ram_bytes, region_base, tc_bytes, pool_bytes, &err))
                            : TrapCore::create(*this, uc_, live_state_.get(), ram, ram_bytes, region_base, pool_bytes, &err);
      trap_ = core.get();
      engine_ = std::move(core);
    }
  }
  cpu_checks_.uc = uc_;
  cpu_checks_.msrs = this;
  // Exact interrupt and NMI windows where the guest's own IF and IRET decide them (direct), and
  // exact interrupt windows where the guest kernel's CLI, STI and POPF act on the real IF without
  // trapping (bt: event-windows.h). The trap engine sees IF change: each STI traps.
  if (err == UC_ERR_OK && (!with_region || core_kind == "bt")) {
    const EventWindowLayout& windows = event_window_layout(g_layout);
    event_windows_ = EventWindows::create(uc_, live_state_.get(), windows);
    if (!event_windows_) {
      event_windows_why_not_ = !windows.proven ? windows.why_not
                               : live_state_   ? "QEMU's CPU object was not found"
                                               : "the CPU state was not located: " + live_state_why_not_;
    }
  }
  if (err != UC_ERR_OK) {
    Napi::Error::New(env, std::string("Unicorn: ") + uc_strerror(err)).ThrowAsJavaScriptException();
    Release();
    return;
  }
  // With `until` as the end of a run, Unicorn drops the translation at that address after every
  // run: for a 32-bit guest a code fetch from linear 0xFFFFFFFF through the guest's own page
  // tables, outside cpu_exec, whose #PF overwrites CR2. A guest preempted between a page fault
  // and its handler's read of CR2 then read 0xFFFFFFFF. An empty exit list has no translation
  // to drop.
  if (err == UC_ERR_OK) err = uc_ctl_exits_enable(uc_);
  // MXCSR's power-up value masks every SIMD exception (SDM Vol. 3 §9.1.1, Table 9-1); Unicorn
  // starts it at 0, which would unmask them all.
  if (err == UC_ERR_OK) {
    uint32_t mxcsr = 0x1F80;
    err = uc_reg_write(uc_, UC_X86_REG_MXCSR, &mxcsr);
  }
  if (err != UC_ERR_OK) {
    Napi::Error::New(env, std::string("Unicorn: ") + uc_strerror(err)).ThrowAsJavaScriptException();
    Release();
    return;
  }
  uc_hook hook;
  // CPUID's first: Unicorn 2.1's helper_cpuid walks every instruction hook in the order they were
  // added and leaves the walk after any of them once a stop is requested (another thread's time
  // slice), before it reaches a CPUID hook that comes later. The CPU's own CPUID would then run:
  // the guest would see the host's leaves, and a bt fast call would be lost.
  uc_hook_add(uc_, &hook, UC_HOOK_INSN, reinterpret_cast<void*>(OnCpuid), this, 1, 0, UC_X86_INS_CPUID);
  uc_hook_add(uc_, &hook, UC_HOOK_INSN, reinterpret_cast<void*>(OnPortIn), this, 1, 0, UC_X86_INS_IN);
  uc_hook_add(uc_, &hook, UC_HOOK_INSN, reinterpret_cast<void*>(OnPortOut), this, 1, 0, UC_X86_INS_OUT);
  uc_hook_add(uc_, &hook, UC_HOOK_INTR, reinterpret_cast<void*>(OnInterrupt), this, 1, 0);
  uc_hook_add(uc_, &hook, UC_HOOK_MEM_UNMAPPED, reinterpret_cast<void*>(OnUnmapped), this, 1, 0);
  // A fetch from the open-bus or a device region (no RAM there): the run ends naming the address.
  uc_hook_add(uc_, &hook, UC_HOOK_MEM_FETCH_PROT, reinterpret_cast<void*>(OnUnmapped), this, 1, 0);
  // An invalid opcode is #UD (SDM Vol. 3 §6.15, interrupt 6), which the guest handles (Linux's
  // WARN() is a UD2). Unicorn stops with UC_ERR_INSN_INVALID unless this hook claims it; then
  // it reports vector 6 to OnInterrupt, with EIP at the instruction, like any other fault.
  uc_hook_add(uc_, &hook, UC_HOOK_INSN_INVALID, reinterpret_cast<void*>(OnInvalidInstruction), this, 1, 0);
  // Optional fourth argument: the stop mechanism, "exact" (the default: when Unicorn's private
  // flag is proven here, exact-stop.h; else the block hook) or "block-hook" (a stop is acted on in
  // a hook called for every executed block). Set before anything is translated.
  bool want_exact = !(info.Length() > 3 && info[3].IsString() && info[3].As<Napi::String>().Utf8Value() == "block-hook");
  // Optional fifth argument, for tests: an offset to prove instead of the one found, so that the
  // fallback after a failed proof can be seen to run.
  if (info.Length() > 4 && info[4].IsNumber() && info[4].As<Napi::Number>().Uint32Value() != 0) {
    exact_layout_.no_exit_request_offset = info[4].As<Napi::Number>().Uint32Value();
    exact_layout_.proven = prove_exact_stops(exact_layout_.no_exit_request_offset, &exact_layout_.why_not);
  } else {
    exact_layout_ = exact_stop_layout();
  }
  // Exact stops come from the timer's thread alone (the window polls too), so they also need
  // that thread to wake on time on a busy host: real-time priority (timeslice-timer.h).
  timer_ = std::make_unique<TimesliceTimer>([this] { OnSliceDeadline(); }, [this] { OnWindowPoll(); });
  if (want_exact && exact_layout_.proven && timer_->realtime()) {
    set_exact_stops(uc_, exact_layout_, true);
    exact_stops_ = true;
    async_stops_.store(true);
    stop_mechanism_ = "exact";
  } else if (want_exact) {
    std::string why = !exact_layout_.proven
                          ? exact_layout_.why_not
                          : "the timer thread cannot have real-time priority: " + timer_->why_not_realtime();
    stop_mechanism_ = "block-hook (" + why + ")";
  } else {
    stop_mechanism_ = "block-hook";
  }
  // An engine core that takes block events has the block hook from the start.
  if (!exact_stops_ || (engine_ && engine_->uses_block_events())) EnsureBlockHook();
  exception_state_ = std::make_unique<ExceptionState>(uc_, g_layout, live_state_.get());
  injector_ = std::make_unique<EventInjector>(uc_, live_state_.get(), GuestRam(memory_->base(), ram_bytes));
  // Unicorn 2.1.1 leaves its one code region unassigned until the buffer first fills; that first
  // fill then assigns it (zeroing the whole buffer) without a flush, so the translation hash
  // table, the page lists and the chained jumps keep pointing at zeroed or rewritten blocks and
  // the process crashes soon after (tb_add_jump, tb_invalidate_phys_page_range__locked). A flush
  // assigns the region now; every later fill takes Unicorn's real flush.
  {
    ZeroByRelease release;  // not 64 MiB written at every start (zero-by-release.h)
    uc_ctl_flush_tb(uc_);
  }

  // The engine is always opened in 32-bit mode: in UC_MODE_16, uc_emu_start rewrites only the
  // 16-bit IP (from CS*16), which breaks a restart once the guest has entered protected mode.
  // Real mode is CR0.PE = 0 on this engine, set by the loader.
  Napi::ArrayBuffer ram = Napi::ArrayBuffer::New(env, memory_->base(), ram_bytes);
  ram_buffer_ = Napi::Persistent(ram);
  Napi::ArrayBuffer exit = Napi::ArrayBuffer::New(env, exit_record_, sizeof exit_record_);
  exit_buffer_ = Napi::Persistent(exit);
}

Vcpu::~Vcpu() { Release(); }

void Vcpu::Release() {
  if (postcopy_) postcopy_final_ = std::make_unique<PostcopyReceiver::Status>(postcopy_->status());
  postcopy_.reset();  // before the memory it fills goes
  injector_.reset();
  trace_.release();
  timer_.reset();
  exception_state_.reset();
  if (!ram_buffer_.IsEmpty()) {
    // The ArrayBuffer points into memory that is about to be unmapped: detach it first.
    Napi::ArrayBuffer ram = ram_buffer_.Value();
    if (!ram.IsEmpty() && !ram.IsDetached()) ram.Detach();
    ram_buffer_.Reset();
  }
  if (!exit_buffer_.IsEmpty()) {
    Napi::ArrayBuffer exit = exit_buffer_.Value();
    if (!exit.IsEmpty() && !exit.IsDetached()) exit.Detach();
    exit_buffer_.Reset();
  }
  if (uc_ != nullptr) {
    uc_close(uc_);
    uc_ = nullptr;
  }
  injector_.reset();
  trap_ = nullptr;
  engine_.reset();
  memory_.reset();
}

bool Vcpu::CheckOpen(Napi::Env env) {
  if (uc_ != nullptr) return true;
  Napi::Error::New(env, "the vCPU is closed").ThrowAsJavaScriptException();
  return false;
}

void Vcpu::Close(const Napi::CallbackInfo& info) {
  if (running_) {
    Napi::Error::New(info.Env(), "cannot close a running vCPU").ThrowAsJavaScriptException();
    return;
  }
  inline_handler_.Reset();
  Release();
}

Napi::Value Vcpu::GetRam(const Napi::CallbackInfo& info) {
  if (ram_buffer_.IsEmpty()) return info.Env().Undefined();
  return ram_buffer_.Value();
}

Napi::Value Vcpu::GetExitRecord(const Napi::CallbackInfo& info) {
  if (exit_buffer_.IsEmpty()) return info.Env().Undefined();
  return exit_buffer_.Value();
}

Napi::Value Vcpu::Run(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (!CheckOpen(env)) return env.Undefined();
  if (running_) {
    Napi::Error::New(env, "run() re-entered from an inline-exit handler").ThrowAsJavaScriptException();
    return env.Undefined();
  }
  double slice = info.Length() > 0 && info[0].IsNumber() ? info[0].As<Napi::Number>().DoubleValue() : 0;
  exception_pending_ = false;
  std::memset(exit_record_, 0, sizeof exit_record_);
  trace_.set_count(0);
  env_ = env;
  running_ = true;
  has_run_ = true;
  stop_requested_ = false;
  window_open_ = false;
  stopping_ = false;
  block_start_exit_ = kExitNone;
  stop_pending_.store(false, std::memory_order_relaxed);
  handler_threw_ = false;
  debug_.clear_stop();
  poll_fired_.store(false);
  if (slice > 0) timer_->arm(static_cast<uint64_t>(slice));
  // Without the block hook, the interrupt window is looked for from the timer's thread.
  if (interrupt_pending_ && !event_windows_ && !block_hook_everywhere_ && async_stops_.load()) timer_->start_polling();
  if (event_windows_) WatchWindows();  // (a run that fell back to polling turned it off)
  uc_err err = StartGuest();
  ExitKind engine_kind = kExitNone;  // the engine core ended the run with an exit of its own
  while (err == UC_ERR_OK && !handler_threw_) {
    if (exception_pending_) {
      if (!engine_) {
        // A hypercall is answered here whatever else is pending: the guest reached the instruction.
        if (take_hypercall(current_cpl() != 0)) {
          exception_pending_ = false;
          exception_state_->reset_old_exception();
        } else if (!ReflectPendingException()) {
          break;
        }
        if (stop_pending_.load(std::memory_order_acquire)) break;
        stopping_ = false;
        err = StartGuest();
        continue;
      }
      ExitKind verdict = engine_->on_exception(exit_record_[kFieldVector], exception_is_int_);
      if (verdict != kResumeGuest) {
        if (verdict != kExitException) engine_kind = verdict;
        break;
      }
      // Handled by the engine core: the guest goes on, unless the run must end, and its next
      // exception must not be escalated (Unicorn #1883, exception-state.h).
      exception_pending_ = false;
      exception_state_->reset_old_exception();
      if (debug_.has_code_hooks()) debug_.instruction_restarted(injector_->current_linear_eip());
    } else if (debug_.stopped()) {
      break;
    } else if (guest_halt().halted) {
      break;  // whatever else was pending: the run never goes on past a HLT (guest-halt.h)
    } else if (window_taken_ != EventWindow::kNone) {
      // Exactly where the guest can take it (event-windows.h), unless the engine core's code holds
      // guest state of its own there (the bt engine's expansion of one guest instruction, after
      // STI's one-instruction shadow). QEMU would find the same window again before anything ran,
      // so the rest of this run looks for it from the timer's thread, as without exact windows.
      if (StopAllowedHere()) {
        window_open_ = true;
        break;
      }
      event_windows_->watch(false, false);
      timer_->start_polling();
    } else if (timer_->take(&poll_fired_) && !stop_pending_.load(std::memory_order_acquire)) {
      // Stopped to look for an interrupt window: the run ends if it is open (at a point where the
      // engine core accepts a stop), goes on if not.
      if (InterruptWindowOpen() && StopAllowedHere()) {
        window_open_ = true;
        break;
      }
    } else if (!StopAllowedHere()) {
      // Stopped where the engine core's code holds guest state of its own: on to the next point
      // it accepts (the block hook stops there, or, where the hook is not called, the timer's
      // next call after the deadline, the stop still pending).
    } else {
      break;  // a stop, or HLT
    }
    if (stop_pending_.load(std::memory_order_acquire) && StopAllowedHere()) break;
    stopping_ = false;
    err = StartGuest();
  }
  if (engine_) engine_->before_exit();
  bool expired = slice > 0 && timer_->disarm();
  if (slice <= 0) timer_->disarm();  // polling off
  running_ = false;
  env_ = nullptr;

  uint64_t value = 0;
  read_register(uc_, kRegEip, &value);
  exit_record_[kFieldEip] = static_cast<uint32_t>(value);
  read_register(uc_, kRegCs, &value);
  exit_record_[kFieldCs] = static_cast<uint32_t>(value);

  exception_state_->reset_old_exception();
  ExitKind kind;
  if (handler_threw_) {
    kind = kExitHandlerThrew;
  } else if (engine_kind != kExitNone) {
    kind = engine_kind;
    exception_pending_ = false;
  } else if (exception_pending_) {
    kind = kExitException;
    exception_pending_ = false;
    // CR2 as the hook saw it: Unicorn's state after the run no longer holds it.
    write_register(uc_, kRegCr2, exit_record_[kFieldCr2]);
    exit_record_[kFieldInstructionLength] = exception_is_int_ ? injector_->int_instruction_length(exit_record_[kFieldVector]) : 0;
  } else if (block_start_exit_ != kExitNone && err == UC_ERR_OK) {
    kind = block_start_exit_;  // the engine core's own stop, before the block ran
  } else if (err != UC_ERR_OK) {
    kind = kExitUnicornError;
    exit_record_[kFieldUcError] = err;
    if (err == UC_ERR_FETCH_PROT) RecordGuestFetchAddress();
  } else if (debug_.stopped() || debug_.take_pending_watch()) {
    kind = kExitDebug;
    exit_record_[kFieldDebugReason] = static_cast<uint32_t>(debug_.reason());
    exit_record_[kFieldDebugAddress] = debug_.address();
  } else if (stop_requested_) {
    kind = kExitStop;
    // Requested during the block that ended in HLT: taken before the HLT, as the CPU takes an
    // interrupt a device raised at the boundary before the next instruction (the guest halts
    // when it resumes).
    if (guest_halt().halted) RewindHalt();
  } else if (guest_halt().halted) {
    kind = kExitHlt;  // a time slice or a window poll that ended with it is not what the guest did
  } else if (window_open_) {
    kind = kExitInterruptWindow;
  } else if (expired) {
    kind = kExitTimeslice;
  } else {
    kind = kExitHlt;
  }
  exit_record_[kFieldKind] = kind;
  exit_record_[kFieldTraceCount] = trace_.count();  // what the last run left in the trace buffer
  if (kind == kExitHandlerThrew) return env.Undefined();  // the handler's exception is pending
  return Napi::Number::New(env, kind);
}

void Vcpu::RequestStop(const Napi::CallbackInfo& info) {
  if (uc_ == nullptr) return;
  stop_requested_ = true;
  stop_pending_.store(true, std::memory_order_relaxed);
  if (running_) StopAsync();
}

void Vcpu::StopAsync() {
  if (async_stops_.load()) uc_emu_stop(uc_);
}

void Vcpu::RewindHalt() {
  uint64_t eip = 0;
  read_register(uc_, kRegEip, &eip);
  eip = static_cast<uint32_t>(eip - guest_halt().length);
  write_register(uc_, kRegEip, eip);
  exit_record_[kFieldEip] = static_cast<uint32_t>(eip);
  guest_halt() = GuestHalt{};
}

uc_err Vcpu::StartGuest() {
  if (engine_) engine_->before_resume();
  uint64_t eip = 0;
  read_register(uc_, kRegEip, &eip);
  guest_halt() = GuestHalt{};
  window_taken_ = EventWindow::kNone;
  // (Under an engine core the deprivileged kernel's privileged instructions fault before these.)
  set_running_cpu_checks(&cpu_checks_);
  set_running_unwritable_code(engine_ ? engine_->unwritable_code_start() : ~uint64_t{0});
  if (event_windows_) event_windows_->begin_run();
  set_translating_cpu(live_state_.get());
  uc_err err = uc_emu_start(uc_, eip, kNoUntil, 0, 0);
  set_translating_cpu(nullptr);
  if (event_windows_) window_taken_ = event_windows_->end_run();
  set_running_cpu_checks(nullptr);
  set_running_unwritable_code(~uint64_t{0});
  return err;
}

void Vcpu::OnSliceDeadline() {
  stop_pending_.store(true, std::memory_order_release);
  StopAsync();
}

void Vcpu::OnWindowPoll() {
  poll_fired_.store(true, std::memory_order_release);
  StopAsync();
}

void Vcpu::EnsureBlockHook() {
  if (block_hook_) return;
  // With exact stops, an engine core may keep the hook out of its own code; stops and window
  // polls then come from the timer's thread.
  uint64_t end = exact_stops_ && engine_ ? engine_->block_events_end() : ~uint64_t{0};
  if (end == ~uint64_t{0}) {
    uc_hook_add(uc_, &block_hook_, UC_HOOK_BLOCK, reinterpret_cast<void*>(OnBlock), this, 1, 0);
    block_hook_everywhere_ = true;
  } else {
    uc_hook_add(uc_, &block_hook_, UC_HOOK_BLOCK, reinterpret_cast<void*>(OnBlock), this, 0, end);
  }
  // Blocks translated before have no call to the hook. (Only once the guest has run: a flush
  // resets the whole translation buffer, which costs up to seconds on a fresh engine.)
  if (has_run_) uc_ctl_flush_tb(uc_);
}

// How the vCPU finds interrupt and NMI windows: "exact" (event-windows.h), "polled: <why not
// exact>" (direct), or "engine" (an engine core that traps the guest's IF and IRET itself).
Napi::Value Vcpu::GetWindowMechanism(const Napi::CallbackInfo& info) {
  std::string mechanism = event_windows_ ? "exact" : engine_ ? "engine" : "polled: " + event_windows_why_not_;
  return Napi::String::New(info.Env(), mechanism);
}

// "index" when new translations mark their pages' TLB entries by index, else "walk (why)".
Napi::Value Vcpu::GetCodeWriteMarks(const Napi::CallbackInfo& info) {
  const TlbCodeMarksLayout& layout = tlb_code_marks_layout(g_layout);
  return Napi::String::New(info.Env(), layout.proven ? "index" : "walk (" + layout.why_not + ")");
}

// For tests: the proof of tlb-code-marks.h with the pairs' and the victim tables' offsets moved
// by the given bytes; returns { proven, whyNot }.
Napi::Value Vcpu::ProveTlbCodeMarks(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (!EnsureLayout(env)) return env.Undefined();
  ptrdiff_t fast_shift = info.Length() > 0 ? info[0].As<Napi::Number>().Int32Value() : 0;
  ptrdiff_t victims_shift = info.Length() > 1 ? info[1].As<Napi::Number>().Int32Value() : 0;
  TlbCodeMarksLayout layout = prove_tlb_code_marks(g_layout, fast_shift, victims_shift);
  Napi::Object out = Napi::Object::New(env);
  out.Set("proven", layout.proven);
  out.Set("whyNot", layout.why_not);
  return out;
}

Napi::Value Vcpu::GetStopMechanism(const Napi::CallbackInfo& info) {
  return Napi::String::New(info.Env(), stop_mechanism_);
}

Napi::Value Vcpu::ReadRegister(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (!CheckOpen(env)) return env.Undefined();
  uint64_t value = 0;
  uc_err err = read_register(uc_, info[0].As<Napi::Number>().Uint32Value(), &value);
  if (ThrowIfFailed(env, err, "reading a register")) return env.Undefined();
  return Napi::Number::New(env, static_cast<double>(value));
}

void Vcpu::WriteRegister(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (!CheckOpen(env)) return;
  uint32_t id = info[0].As<Napi::Number>().Uint32Value();
  uint64_t value = static_cast<uint64_t>(info[1].As<Napi::Number>().Int64Value());
  uc_err err = write_register(uc_, id, value);
  ThrowIfFailed(env, err, "writing a register");
}

Napi::Value Vcpu::ReadMsr(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (!CheckOpen(env)) return env.Undefined();
  uint64_t value = 0;
  // The VMM's own access (the CPU's MSR, not the platform's), also from inside a run.
  const DirectCpuChecks* checks = running_cpu_checks();
  set_running_cpu_checks(nullptr);
  uc_err err = read_msr(uc_, info[0].As<Napi::Number>().Uint32Value(), &value);
  set_running_cpu_checks(checks);
  if (ThrowIfFailed(env, err, "reading an MSR")) return env.Undefined();
  return Napi::BigInt::New(env, value);
}

bool Vcpu::read_platform_msr(uint32_t index, uint64_t* value) {
  exit_record_[kFieldMsrIndex] = index;
  exit_record_[kFieldMsrClaimed] = 0;
  if (!CallInlineHandler(kInlineMsrRead) || !exit_record_[kFieldMsrClaimed]) return false;
  *value = (uint64_t{exit_record_[kFieldMsrHigh]} << 32) | exit_record_[kFieldMsrLow];
  return true;
}

bool Vcpu::write_platform_msr(uint32_t index, uint64_t value) {
  exit_record_[kFieldMsrIndex] = index;
  exit_record_[kFieldMsrLow] = static_cast<uint32_t>(value);
  exit_record_[kFieldMsrHigh] = static_cast<uint32_t>(value >> 32);
  exit_record_[kFieldMsrClaimed] = 0;
  return CallInlineHandler(kInlineMsrWrite) && exit_record_[kFieldMsrClaimed];
}

void Vcpu::WriteMsr(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (!CheckOpen(env)) return;
  bool lossless = false;
  uint64_t value = info[1].As<Napi::BigInt>().Uint64Value(&lossless);
  const DirectCpuChecks* checks = running_cpu_checks();
  set_running_cpu_checks(nullptr);
  uc_err err = write_msr(uc_, info[0].As<Napi::Number>().Uint32Value(), value);
  set_running_cpu_checks(checks);
  ThrowIfFailed(env, err, "writing an MSR");
}

void Vcpu::SetInlineHandler(const Napi::CallbackInfo& info) {
  inline_handler_ = Napi::Persistent(info[0].As<Napi::Function>());
}

void Vcpu::SetInterruptPending(const Napi::CallbackInfo& info) {
  interrupt_pending_ = info[0].As<Napi::Boolean>().Value();
  if (event_windows_) {
    WatchWindows();
    return;
  }
  // Raised during a run (a device's I/O): look for the window from now on.
  if (interrupt_pending_ && running_ && !block_hook_everywhere_ && async_stops_.load()) timer_->start_polling();
}

// setNmiPending(pending): an NMI waits because NMIs are blocked; the run stops at the IRET that
// unblocks them. (Only where NMI blocking is kept: nmiBlocked() is false otherwise.)
void Vcpu::SetNmiPending(const Napi::CallbackInfo& info) {
  nmi_pending_ = info[0].As<Napi::Boolean>().Value();
  if (event_windows_) WatchWindows();
}

// With an engine core, NMI blocking is the core's (the guest kernel's IRET is emulated, so QEMU's
// blocking bit would never be cleared): only interrupt windows are watched.
void Vcpu::WatchWindows() { event_windows_->watch(interrupt_pending_, nmi_pending_ && !engine_); }

// setCr4SupportedBits(mask): the CR4 bits the guest's CPU has (the VMM's CPU model); under
// direct a MOV to CR4 with any other bit raises #GP(0) (direct-cpu-checks.h).
void Vcpu::SetCr4SupportedBits(const Napi::CallbackInfo& info) {
  cpu_checks_.cr4_supported = info[0].As<Napi::Number>().Uint32Value();
}

// setAbsentMsrs(indices): the MSRs the guest's CPU lacks (the VMM's CPU model); RDMSR and WRMSR
// of one raise #GP(0) (direct-cpu-checks.h).
void Vcpu::SetAbsentMsrs(const Napi::CallbackInfo& info) {
  Napi::Array indices = info[0].As<Napi::Array>();
  cpu_checks_.absent_msrs.clear();
  for (uint32_t i = 0; i < indices.Length(); i++) {
    cpu_checks_.absent_msrs.push_back(indices.Get(i).As<Napi::Number>().Uint32Value());
  }
}

// nmiBlocked(): an NMI was delivered and its handler has not run IRET yet (SDM Vol. 3 §6.7.1).
// Kept where the guest runs its own IRET (direct, with exact windows); false elsewhere.
Napi::Value Vcpu::NmiBlocked(const Napi::CallbackInfo& info) {
  if (!CheckOpen(info.Env())) return info.Env().Undefined();
  return Napi::Boolean::New(info.Env(), engine_ ? engine_->nmis_blocked() : event_windows_ && event_windows_->nmi_blocked());
}

void Vcpu::MapMmio(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (!CheckOpen(env)) return;
  uint64_t base = static_cast<uint64_t>(info[0].As<Napi::Number>().Int64Value());
  uint64_t size = static_cast<uint64_t>(info[1].As<Napi::Number>().Int64Value());
  auto region = std::make_unique<MmioRegion>(MmioRegion{this, base});
  uc_err err = uc_mem_unmap(uc_, base, size);  // take the window out of the open-bus region
  if (err == UC_ERR_OK) err = uc_mmio_map(uc_, base, size, OnMmioRead, region.get(), OnMmioWrite, region.get());
  if (err != UC_ERR_OK) {
    Napi::Error::New(env, std::string("mapping MMIO: ") + uc_strerror(err)).ThrowAsJavaScriptException();
    return;
  }
  mmio_regions_.push_back(std::move(region));
}

void Vcpu::InvalidateCode(const Napi::CallbackInfo& info) {
  if (!CheckOpen(info.Env())) return;
  uint64_t start = static_cast<uint64_t>(info[0].As<Napi::Number>().Int64Value());
  uint64_t end = static_cast<uint64_t>(info[1].As<Napi::Number>().Int64Value());
  uc_ctl_remove_cache(uc_, start, end);
}

// invalidatePhysical(start, end): a device wrote guest RAM [start, end) (DMA), between runs.
// uc_ctl_remove_cache takes linear addresses and walks the guest's page tables, so QEMU's own
// invalidation by RAM address is used (its translate-all.c, as code-write-checks.cc does), with
// guest RAM's place in QEMU's RAM address space taken from the host pointer.
void Vcpu::InvalidatePhysical(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (!CheckOpen(env)) return;
  if (running_) {
    Napi::Error::New(env, "invalidatePhysical() while the guest is running").ThrowAsJavaScriptException();
    return;
  }
  uint64_t start = static_cast<uint64_t>(info[0].As<Napi::Number>().Int64Value());
  uint64_t end = static_cast<uint64_t>(info[1].As<Napi::Number>().Int64Value());
  if (start >= end || end > ram_bytes_) return;
  if (engine_) engine_->guest_frames_written(static_cast<uint32_t>(start >> 12), static_cast<uint32_t>((end - 1) >> 12));
  if (!has_run_) return;  // nothing translated yet
  uint64_t base = qemu_ram_addr_from_host_x86_64(uc_, memory_->base());
  tb_invalidate_phys_range_x86_64(uc_, base + start, base + end);
}

Napi::Value Vcpu::UnicornErrorText(const Napi::CallbackInfo& info) {
  return Napi::String::New(info.Env(), uc_strerror(static_cast<uc_err>(info[0].As<Napi::Number>().Uint32Value())));
}

// inject(vector, source, hasErrorCode, errorCode): delivers an event now, before the next run().
// Returns a DeliveryResult; injectionDetail says why a delivery ended in shutdown or was unsupported.
Napi::Value Vcpu::Inject(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (!CheckOpen(env)) return env.Undefined();
  if (running_) {
    Napi::Error::New(env, "inject() while the guest is running").ThrowAsJavaScriptException();
    return env.Undefined();
  }
  exception_pending_ = false;
  // A delivered event enters a handler: no shadow there.
  emulated_shadow_at_ = kNoAddress;
  exception_state_->clear_interrupt_shadow();
  GuestEvent event{info[0].As<Napi::Number>().Uint32Value(),
                   static_cast<EventSource>(info[1].As<Napi::Number>().Uint32Value()),
                   info[2].As<Napi::Boolean>().Value(), info[3].As<Napi::Number>().Uint32Value()};
  // An NMI enters its handler as an external interrupt does, then blocks further NMIs until IRET.
  bool nmi = event.source == EventSource::kNmi;
  if (nmi) event.source = EventSource::kExternal;
  DeliveryOutcome outcome = injector_->deliver(event);
  if (nmi && outcome.result == DeliveryResult::kDelivered) {
    if (engine_) {
      engine_->block_nmis();
    } else if (event_windows_) {
      event_windows_->block_nmis();
    }
  }
  injection_detail_ = outcome.detail;
  if (outcome.result == DeliveryResult::kDelivered && event.source != EventSource::kExternal) RearmCodeWriteChecks();
  if (engine_ && outcome.result == DeliveryResult::kDelivered) engine_->after_event_delivered();
  exit_record_[kFieldVector] = outcome.delivered_vector;
  return Napi::Number::New(env, static_cast<uint32_t>(outcome.result));
}

// codeSegmentIs32(): the CPU runs a 32-bit code segment (false in real mode, and between the MOV
// to CR0 that sets PE and the far jump that loads CS in protected mode).
Napi::Value Vcpu::CodeSegmentIs32(const Napi::CallbackInfo& info) {
  if (!CheckOpen(info.Env())) return info.Env().Undefined();
  return Napi::Boolean::New(info.Env(), exception_state_->code_segment_32());
}

Napi::Value Vcpu::InInterruptShadow(const Napi::CallbackInfo& info) {
  if (!CheckOpen(info.Env())) return info.Env().Undefined();
  return Napi::Boolean::New(info.Env(), InInterruptShadowNow());
}

// holdInterruptShadow(): the VMM has just emulated an STI (with IF clear before) or a MOV SS.
void Vcpu::HoldInterruptShadow(const Napi::CallbackInfo& info) {
  if (!CheckOpen(info.Env())) return;
  hold_interrupt_shadow(injector_->current_linear_eip());
}

// endInterruptShadow(): the VMM carried out the instruction the shadow covers (an emulated HLT
// after the CPU's own STI): the CPU never completed it, so its inhibit bit is cleared here.
void Vcpu::EndInterruptShadow(const Napi::CallbackInfo& info) {
  if (!CheckOpen(info.Env())) return;
  emulated_shadow_at_ = kNoAddress;
  exception_state_->clear_interrupt_shadow();
}

// The CPU's own shadow is the inhibit bit in its hflags (ExceptionState::interrupt_shadow):
// QEMU sets it after STI, MOV SS and POP SS, ends the block there, and clears it once the next
// instruction has run. A loop whose head follows an STI is entered from its own branch every
// other time, and there interrupts are taken.
bool Vcpu::InInterruptShadowNow() {
  if (emulated_shadow_at_ != kNoAddress && injector_->current_linear_eip() == emulated_shadow_at_) return true;
  return exception_state_->interrupt_shadow();
}

bool Vcpu::InterruptWindowOpen() {
  uint64_t eflags = 0;
  read_register(uc_, kRegEflags, &eflags);
  return (eflags & kFlagIf) && !InInterruptShadowNow();
}

// setTracing(instructions, memory): a per-instruction code hook (and memory hooks) while
// tracing (trace-recorder.h); nothing on the default path. Translations are flushed so the hooks
// reach every block.
void Vcpu::SetTracing(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (!CheckOpen(env)) return;
  bool instructions = info[0].As<Napi::Boolean>().Value();
  bool memory = instructions && info.Length() > 1 && info[1].As<Napi::Boolean>().Value();
  trace_.set(env, uc_, instructions, memory);
  AfterHooksChanged(true);
}

void Vcpu::AfterHooksChanged(bool changed) {
  bool code_hooks = trace_.recording() || debug_.has_code_hooks();
  // A code hook stops precisely, right after itself, through the exit checks that exact stops
  // turn off; with code hooks, stops are made in hooks only, never from another thread. The
  // block hook takes the time-slice stops where no code hook is called (between breakpoints).
  if (exact_stops_) {
    set_exact_stops(uc_, exact_layout_, !code_hooks);
    async_stops_.store(!code_hooks);
  }
  if (debug_.has_code_hooks()) EnsureBlockHook();
  if (changed && has_run_) uc_ctl_flush_tb(uc_);
}

void Vcpu::StopAtBlockStart(uint64_t linear) {
  if (trace_.recording() || debug_.has_code_hooks()) {
    uint64_t eip = 0;
    read_register(uc_, kRegEip, &eip);
    uint32_t cs_base = injector_->current_linear_eip() - static_cast<uint32_t>(eip);
    write_register(uc_, kRegEip, static_cast<uint32_t>(linear) - cs_base);
  }
  stopping_ = true;
  uc_emu_stop(uc_);
}

void Vcpu::stop_before_this_instruction() {
  stopping_ = true;
  uc_emu_stop(uc_);
}

bool Vcpu::is_vmm_code(uint64_t linear) const { return trap_ != nullptr && linear >= kHoleLinear; }

// setBreakpoints(linears): the whole set, replacing the last one.
void Vcpu::SetBreakpoints(const Napi::CallbackInfo& info) {
  if (!CheckOpen(info.Env())) return;
  Napi::Array list = info[0].As<Napi::Array>();
  std::vector<uint32_t> linears;
  for (uint32_t i = 0; i < list.Length(); i++) linears.push_back(list.Get(i).As<Napi::Number>().Uint32Value());
  std::vector<uint32_t> changed = debug_.set_breakpoints(uc_, linears);
  // Only the translations holding a changed address are dropped, where the real page tables are
  // the guest's (under a shadow MMU a page may be unmapped in the real tables now and still have
  // translations from another address space: then everything is dropped).
  bool flush = false;
  for (uint32_t linear : changed) {
    if (trap_ != nullptr || !injector_->translate(linear, 0).ok) flush = true;
    else if (has_run_) uc_ctl_remove_cache(uc_, linear, uint64_t{linear} + 1);
  }
  AfterHooksChanged(flush);
}

// setWatchpoints([linear, length, kind, ...]): the whole set, kind as GDB's Z2/Z3/Z4.
void Vcpu::SetWatchpoints(const Napi::CallbackInfo& info) {
  if (!CheckOpen(info.Env())) return;
  Napi::Array list = info[0].As<Napi::Array>();
  std::vector<Watchpoint> watchpoints;
  for (uint32_t i = 0; i + 2 < list.Length(); i += 3) {
    uint32_t kind = list.Get(i + 2).As<Napi::Number>().Uint32Value();
    if (kind < 2 || kind > 4) continue;
    watchpoints.push_back(Watchpoint{list.Get(i).As<Napi::Number>().Uint32Value(), list.Get(i + 1).As<Napi::Number>().Uint32Value(),
                                     static_cast<WatchKind>(kind)});
  }
  AfterHooksChanged(debug_.set_watchpoints(uc_, watchpoints));
}

// debugStep(count): the next runs stop before the (count+1)-th guest instruction; -1 cancels.
void Vcpu::DebugStep(const Napi::CallbackInfo& info) {
  if (!CheckOpen(info.Env())) return;
  int64_t count = info[0].As<Napi::Number>().Int64Value();
  if (count < 0) {
    debug_.cancel_step(uc_);
  } else {
    debug_.step(uc_, static_cast<uint32_t>(count));
    // The first instruction must run in a block translated with the step's code hook (the page
    // at EIP is mapped: the guest was stopped there).
    uint32_t linear = injector_->current_linear_eip();
    if (has_run_) uc_ctl_remove_cache(uc_, linear, uint64_t{linear} + 1);
  }
  AfterHooksChanged(false);
}

// debugResume(): the debugger lets the guest go on from where it stopped.
void Vcpu::DebugResume(const Napi::CallbackInfo& info) {
  if (!CheckOpen(info.Env())) return;
  debug_.resume_from(injector_->current_linear_eip());
}

// readFpu(): the x87 and SSE state, as a debugger shows it (ST(i) stack-relative).
Napi::Value Vcpu::ReadFpu(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (!CheckOpen(env)) return env.Undefined();
  Napi::Object out = Napi::Object::New(env);
  Napi::Uint8Array st = Napi::Uint8Array::New(env, 80);
  for (int i = 0; i < 8; i++) uc_reg_read(uc_, UC_X86_REG_ST0 + i, st.Data() + i * 10);
  Napi::Uint8Array xmm = Napi::Uint8Array::New(env, 128);
  for (int i = 0; i < 8; i++) uc_reg_read(uc_, UC_X86_REG_XMM0 + i, xmm.Data() + i * 16);
  out.Set("st", st);
  out.Set("xmm", xmm);
  auto read16 = [this](int id) {
    uint16_t v = 0;
    uc_reg_read(uc_, id, &v);
    return static_cast<double>(v);
  };
  auto read64 = [this](int id) {
    uint64_t v = 0;
    uc_reg_read(uc_, id, &v);
    return static_cast<double>(static_cast<uint32_t>(v));
  };
  out.Set("fctrl", read16(UC_X86_REG_FPCW));
  out.Set("fstat", read16(UC_X86_REG_FPSW));
  out.Set("ftag", read16(UC_X86_REG_FPTAG));
  out.Set("fiseg", read16(UC_X86_REG_FCS));
  out.Set("fioff", read64(UC_X86_REG_FIP));
  out.Set("foseg", read16(UC_X86_REG_FDS));
  out.Set("fooff", read64(UC_X86_REG_FDP));
  out.Set("fop", read16(UC_X86_REG_FOP));
  uint32_t mxcsr = 0;
  uc_reg_read(uc_, UC_X86_REG_MXCSR, &mxcsr);
  out.Set("mxcsr", static_cast<double>(mxcsr));
  return out;
}

// saveCpuState(): the whole architectural state as bytes (cpu-state-image.h); throws with the
// reason when it cannot be saved.
Napi::Value Vcpu::SaveCpuState(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (!CheckOpen(env)) return env.Undefined();
  std::vector<uint8_t> image;
  std::string why_not;
  if (!save_cpu_state(uc_, &image, &why_not)) {
    Napi::Error::New(env, why_not).ThrowAsJavaScriptException();
    return env.Undefined();
  }
  return ToUint8Array(env, image);
}

// restoreCpuState(bytes): puts a saved state back before the guest runs again. Translations and
// TLB entries made under the state before are dropped (its CR3 and modes are gone).
void Vcpu::RestoreCpuState(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (!CheckOpen(env)) return;
  Napi::Uint8Array image = info[0].As<Napi::Uint8Array>();
  std::string why_not;
  if (!restore_cpu_state(uc_, image.Data(), image.ByteLength(), &why_not)) {
    Napi::Error::New(env, why_not).ThrowAsJavaScriptException();
    return;
  }
  if (has_run_) {
    uc_ctl_flush_tb(uc_);
    uc_ctl_flush_tlb(uc_);
  }
}

// trap.architecturalState(guest): the guest's CPU state as direct would hold it, from this
// deprivileged vCPU and what the engine keeps virtual (architectural-state.h); throws why not.
Napi::Value Vcpu::TrapArchitecturalState(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  TrapCore* trap = CheckTrap(env);
  if (!trap) return env.Undefined();
  Napi::Object fields = info[0].As<Napi::Object>();
  auto field = [&](const char* name) { return fields.Get(name).As<Napi::Number>().Uint32Value(); };
  GuestSystemState guest{};
  guest.cr0 = field("cr0");
  guest.cr2 = field("cr2");
  guest.cr3 = field("cr3");
  guest.cr4 = field("cr4");
  guest.gdtr_base = field("gdtrBase");
  guest.gdtr_limit = field("gdtrLimit");
  guest.idtr_base = field("idtrBase");
  guest.idtr_limit = field("idtrLimit");
  guest.ldtr = field("ldtr");
  guest.tr = field("tr");
  guest.eflags = field("eflags");
  guest.cs = field("cs");
  guest.ss = field("ss");
  Napi::Array dr = fields.Get("dr").As<Napi::Array>();
  for (uint32_t i = 0; i < 8 && i < dr.Length(); i++) guest.dr[i] = dr.Get(i).As<Napi::Number>().Uint32Value();
  uint64_t eip = 0;
  read_register(uc_, kRegEip, &eip);
  if (!trap->guest_eip(static_cast<uint32_t>(eip), &guest.eip)) {
    Napi::Error::New(env, "not at a guest instruction boundary").ThrowAsJavaScriptException();
    return env.Undefined();
  }
  std::vector<uint8_t> deprivileged, image;
  std::string why_not;
  if (!save_cpu_state(uc_, &deprivileged, &why_not) ||
      !compose_architectural_state(memory_->base(), memory_->size(), deprivileged, guest, g_layout.hflags_offset, &image, &why_not)) {
    Napi::Error::New(env, why_not).ThrowAsJavaScriptException();
    return env.Undefined();
  }
  return ToUint8Array(env, image);
}

// zeroPageMap(): a bit per guest page, set for the pages that are all zero (zero-pages.h).
Napi::Value Vcpu::ZeroPageMap(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (!CheckOpen(env)) return env.Undefined();
  std::vector<uint8_t> map = zero_page_map(memory_->base(), memory_->size());
  return ToUint8Array(env, map);
}

// clearRam(): every page of guest RAM zero again, by giving the host's memory back (a machine
// about to receive a saved one, whose zero pages are not sent). Before the guest first runs only.
void Vcpu::ClearRam(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (!CheckOpen(env)) return;
  if (has_run_) {
    Napi::Error::New(env, "clearRam: the guest has run").ThrowAsJavaScriptException();
    return;
  }
  madvise(memory_->base(), memory_->size(), MADV_DONTNEED);
}

// readPages(pages: Uint32Array): the pages' bytes now, 4 KiB each in order; a content dirty log
// takes the same bytes as its reference (content-dirty-log.h), so that a page is dirty exactly
// when it differs from what was read.
Napi::Value Vcpu::ReadPages(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (!CheckOpen(env)) return env.Undefined();
  Napi::Uint32Array pages = info[0].As<Napi::Uint32Array>();
  size_t count = pages.ElementLength();
  Napi::Uint8Array out = Napi::Uint8Array::New(env, count * 4096);
  // (The log copies pages whether or not it is logging; it holds no reference until it is.)
  if (!content_dirty_log_) content_dirty_log_ = std::make_unique<ContentDirtyLog>(memory_->base(), memory_->size());
  content_dirty_log_->read_pages(pages.Data(), count, out.Data());
  return out;
}

// startPostcopy(host, port): guest RAM is pulled from the source's page server on first touch
// (postcopy-receiver.h); throws when userfaultfd or the connection is not available.
void Vcpu::StartPostcopy(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (!CheckOpen(env)) return;
  std::string why_not;
  postcopy_ = PostcopyReceiver::start(memory_->base(), memory_->size(), info[0].As<Napi::String>().Utf8Value(),
                                      info[1].As<Napi::Number>().Int32Value(), &why_not);
  if (!postcopy_) Napi::Error::New(env, why_not).ThrowAsJavaScriptException();
}

Napi::Value Vcpu::PostcopyStatus(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (!postcopy_ && !postcopy_final_) return env.Undefined();
  PostcopyReceiver::Status status = postcopy_ ? postcopy_->status() : *postcopy_final_;
  Napi::Object out = Napi::Object::New(env);
  out.Set("pagesReceived", static_cast<double>(status.pages_received));
  out.Set("pagesPulled", static_cast<double>(status.pages_pulled));
  out.Set("faults", static_cast<double>(status.faults));
  out.Set("done", status.done);
  out.Set("failure", status.failure);
  return out;
}

// setTscOffset(ticks): the guest's TSC is the host's plus `ticks` from now on (tsc-offset.h).
void Vcpu::SetTscOffset(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (!CheckOpen(env)) return;
  bool lossless = false;
  int64_t ticks = info[0].As<Napi::BigInt>().Int64Value(&lossless);
  if (!write_tsc_offset(uc_, g_tsc_layout, ticks)) {
    Napi::Error::New(env, "the guest's TSC offset cannot be set on this Unicorn build: " + g_tsc_layout.why_not).ThrowAsJavaScriptException();
  }
}

Napi::Value Vcpu::GetTscOffsetMissing(const Napi::CallbackInfo& info) {
  return Napi::String::New(info.Env(), g_tsc_layout.found ? "" : g_tsc_layout.why_not);
}

Napi::Value Vcpu::GetCpuStateFormat(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (!CheckOpen(env)) return env.Undefined();
  return Napi::String::New(env, cpu_state_format(uc_));
}

// dropTranslations(): the debugger wrote guest memory; no translation of the old bytes may run.
void Vcpu::DropTranslations(const Napi::CallbackInfo& info) {
  if (!CheckOpen(info.Env())) return;
  if (engine_) engine_->guest_code_changed();
  if (has_run_) uc_ctl_flush_tb(uc_);
}

Napi::Value Vcpu::GetTraceBuffer(const Napi::CallbackInfo& info) { return trace_.buffer(info.Env()); }

// Before each traced instruction: a stop is taken there, before the instruction runs.
bool Vcpu::stop_before_instruction() {
  if (stopping_) return true;
  if (stop_pending_.load(std::memory_order_acquire)) {
    stopping_ = true;
    uc_emu_stop(uc_);
    return true;
  }
  return false;
}

bool Vcpu::drain_trace_buffer() {
  exit_record_[kFieldTraceCount] = trace_.count();
  return CallInlineHandler(kInlineTraceFull);
}

// taskSwitch: the event the last inject() returned kTaskSwitch for, with the TSS selector its task
// gate names (for the trap engine, which switches its deprivileged kernel's tasks itself).
Napi::Value Vcpu::GetTaskSwitch(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (!CheckOpen(env)) return env.Undefined();
  const TaskSwitchRequest& request = injector_->task_switch();
  Napi::Object out = Napi::Object::New(env);
  out.Set("vector", request.event.vector);
  out.Set("source", static_cast<uint32_t>(request.event.source));
  out.Set("hasErrorCode", request.event.has_error_code);
  out.Set("errorCode", request.event.error_code);
  out.Set("selector", request.tss_selector);
  out.Set("ext", request.ext);
  return out;
}

Napi::Value Vcpu::GetInjectionDetail(const Napi::CallbackInfo& info) {
  return Napi::String::New(info.Env(), injection_detail_);
}

bool Vcpu::CallInlineHandler(InlineKind kind) {
  if (handler_threw_ || env_ == nullptr || inline_handler_.IsEmpty()) return false;
  exit_record_[kFieldInlineKind] = kind;
  // The tracer drains the trace buffer during the upcall and says how much is left.
  exit_record_[kFieldTraceCount] = trace_.count();
  Napi::Env env(env_);
  napi_value argument;
  napi_create_uint32(env_, kind, &argument);
  napi_value result;
  napi_status status = napi_call_function(env_, env.Global(), inline_handler_.Value(), 1, &argument, &result);
  trace_.set_count(exit_record_[kFieldTraceCount]);
  if (status != napi_ok || env.IsExceptionPending()) {
    // The run ends at the next block boundary; until then the handler is not called again.
    handler_threw_ = true;
    stop_pending_.store(true, std::memory_order_relaxed);
    StopAsync();
    return false;
  }
  return true;
}

uint32_t Vcpu::OnPortIn(uc_engine* uc, uint32_t port, int size, void* self) {
  Vcpu* vcpu = static_cast<Vcpu*>(self);
  vcpu->exit_record_[kFieldAddress] = port;
  vcpu->exit_record_[kFieldSize] = static_cast<uint32_t>(size);
  vcpu->exit_record_[kFieldValue] = 0xFFFFFFFFu;  // an unclaimed port reads as all ones
  vcpu->CallInlineHandler(kInlinePortIn);
  return vcpu->exit_record_[kFieldValue];
}

void Vcpu::OnPortOut(uc_engine* uc, uint32_t port, int size, uint32_t value, void* self) {
  Vcpu* vcpu = static_cast<Vcpu*>(self);
  vcpu->exit_record_[kFieldAddress] = port;
  vcpu->exit_record_[kFieldSize] = static_cast<uint32_t>(size);
  vcpu->exit_record_[kFieldValue] = value;
  vcpu->CallInlineHandler(kInlinePortOut);
}

int Vcpu::OnCpuid(uc_engine* uc, void* self) {
  Vcpu* vcpu = static_cast<Vcpu*>(self);
  if (vcpu->engine_ && vcpu->engine_->on_cpuid()) return 1;
  uint64_t leaf = 0, subleaf = 0;
  read_register(uc, kRegEax, &leaf);
  read_register(uc, kRegEcx, &subleaf);
  vcpu->exit_record_[kFieldCpuidLeaf] = static_cast<uint32_t>(leaf);
  vcpu->exit_record_[kFieldCpuidSubleaf] = static_cast<uint32_t>(subleaf);
  if (!vcpu->CallInlineHandler(kInlineCpuid)) return 0;  // no VMM answer: Unicorn's own CPUID
  write_register(uc, kRegEax, vcpu->exit_record_[kFieldCpuidEax]);
  write_register(uc, kRegEbx, vcpu->exit_record_[kFieldCpuidEbx]);
  write_register(uc, kRegEcx, vcpu->exit_record_[kFieldCpuidEcx]);
  write_register(uc, kRegEdx, vcpu->exit_record_[kFieldCpuidEdx]);
  return 1;
}

void Vcpu::OnInterrupt(uc_engine* uc, uint32_t vector, void* self) {
  Vcpu* vcpu = static_cast<Vcpu*>(self);
  // One exception per run: the first is the one the guest's instruction raised; the hook stops
  // the guest, so anything after it describes nothing the guest did.
  if (vcpu->exception_pending_) return;
  vcpu->exit_record_[kFieldVector] = vector;
  vcpu->exit_record_[kFieldErrorCode] = vcpu->exception_state_->error_code_in_hook();
  vcpu->exception_is_int_ = vcpu->exception_state_->is_software_interrupt();
  uint64_t cr2 = 0;
  read_register(uc, kRegCr2, &cr2);
  vcpu->exit_record_[kFieldCr2] = static_cast<uint32_t>(cr2);
  vcpu->exception_pending_ = true;
  vcpu->stopping_ = true;
  uc_emu_stop(uc);
}

// A fetch found no RAM. Unicorn names the physical address it used, which under a shadow MMU is
// not the guest's (a guest frame in the VMM region reads as the region's open-bus page): name the
// guest-physical address instead, through the guest's own tables. The block began at CS:EIP, in
// that page or (running off its end) in the next.
void Vcpu::RecordGuestFetchAddress() {
  uint32_t linear = injector_->current_linear_eip();
  uint32_t offset = exit_record_[kFieldUnmappedAddress] & 0xFFFu;
  for (uint32_t page : {linear & ~0xFFFu, (linear & ~0xFFFu) + 0x1000u}) {
    Translation t = injector_->translate(page | offset, 0);
    if (!t.ok || t.physical < memory_->size()) continue;
    exit_record_[kFieldUnmappedAddress] = static_cast<uint32_t>(t.physical);
    exit_record_[kFieldUnmappedAddressHigh] = static_cast<uint32_t>(t.physical >> 32);
    return;
  }
}

bool Vcpu::OnInvalidInstruction(uc_engine* uc, void* self) { return true; }

bool Vcpu::OnUnmapped(uc_engine* uc, uc_mem_type type, uint64_t address, int size, int64_t value, void* self) {
  Vcpu* vcpu = static_cast<Vcpu*>(self);
  vcpu->exit_record_[kFieldUnmappedAddress] = static_cast<uint32_t>(address);
  vcpu->exit_record_[kFieldUnmappedAddressHigh] = static_cast<uint32_t>(address >> 32);
  vcpu->exit_record_[kFieldUnmappedSize] = static_cast<uint32_t>(size);
  return false;  // Unicorn ends the run with the matching UC_ERR_*_UNMAPPED
}

void Vcpu::OnBlock(uc_engine* uc, uint64_t address, uint32_t size, void* self) {
  Vcpu* vcpu = static_cast<Vcpu*>(self);
  EngineCore* engine = vcpu->engine_.get();
  // Guest user code under a deprivileging core: nothing below concerns it unless the core still
  // counts blocks, a stop or an interrupt window is awaited, or a debugger watches. One load of
  // the CPL decides, for most of the blocks a user-mode workload runs.
  if (engine && vcpu->live_state_ && vcpu->live_state_->cpl() == 3 && !engine->user_blocks_wanted() &&
      !vcpu->stop_pending_.load(std::memory_order_relaxed) && !vcpu->interrupt_pending_ && !vcpu->debug_.has_code_hooks()) {
    vcpu->emulated_shadow_at_ = kNoAddress;
    return;
  }
  if (engine && engine->block_events_wanted() && engine->on_block(address, size)) return;
  // (The hole, with a VMM region, holds the VMM's own code: no guest block to report.)
  if (vcpu->discover_blocks_ && address < kHoleLinear && !vcpu->RunningAtCpl3() &&
      vcpu->known_blocks_.insert(static_cast<uint32_t>(address))) {
    vcpu->exit_record_[kFieldAddress] = static_cast<uint32_t>(address);
    vcpu->exit_record_[kFieldSize] = size;
    vcpu->CallInlineHandler(kInlineNewBlock);
  }
  if (vcpu->stop_pending_.load(std::memory_order_acquire) && (!engine || engine->stop_allowed_at(address))) {
    vcpu->StopAtBlockStart(address);
    return;
  }
  // Reading EFLAGS makes Unicorn compute its lazy flags; polling every 256th block keeps a
  // guest that runs long with IF = 0 (a decompressor) at full speed, for a few µs of latency.
  if (vcpu->interrupt_pending_ && !vcpu->event_windows_ && (++vcpu->window_poll_ & 255) == 0 && vcpu->InterruptWindowOpen()) {
    vcpu->window_open_ = true;
    vcpu->StopAtBlockStart(address);
    return;
  }
  // A debugger's step or watchpoint may end here; checked last, since it counts the block's
  // first instruction as about to run (only with a debugger's hooks in place: the check stays
  // off the hot path otherwise).
  if (vcpu->debug_.has_code_hooks() && vcpu->debug_.on_block(address)) {
    vcpu->StopAtBlockStart(address);
    return;
  }
  // The block runs: an emulated instruction's shadow, which covered its first one, is over.
  vcpu->emulated_shadow_at_ = kNoAddress;
}

bool Vcpu::guest_instruction(uint32_t linear, uint32_t* guest) {
  if (engine_) return engine_->guest_instruction(linear, guest);
  *guest = linear;
  return true;
}

bool Vcpu::StopAllowedHere() {
  if (!engine_) return true;
  uint64_t eip = 0;
  read_register(uc_, kRegEip, &eip);
  return engine_->stop_allowed_at(eip);
}

uint32_t Vcpu::current_cpl() {
  if (live_state_) return live_state_->cpl();
  uint64_t cs = 0;
  read_register(uc_, kRegCs, &cs);
  return static_cast<uint32_t>(cs & 3);
}

uint64_t Vcpu::OnOpenBusRead(uc_engine* uc, uint64_t offset, unsigned size, void* self) {
  static_cast<Vcpu*>(self)->open_bus_reads_++;
  return size >= 8 ? ~uint64_t{0} : (uint64_t{1} << (size * 8)) - 1;
}

void Vcpu::OnOpenBusWrite(uc_engine* uc, uint64_t offset, unsigned size, uint64_t value, void* self) {
  static_cast<Vcpu*>(self)->open_bus_writes_++;
}

// setExceptionReflection(on): with no engine core (the direct engine), an exception the guest
// raised goes straight to its own handler inside run(), as on a CPU with hardware assist, where
// an exception the VMM does not intercept causes no exit. Off (the default, and whenever the run
// loop wants to see each exception: a trace, a debugger), every exception ends the run.
void Vcpu::SetHypercalls(const Napi::CallbackInfo& info) {
  hypercalls_ = info[0].As<Napi::Boolean>().Value();
}

bool Vcpu::take_hypercall(bool from_user) {
  if (!hypercalls_ || exit_record_[kFieldVector] != kUd || exception_is_int_) return false;
  uint8_t insn[kHypercallInstructionLength];
  if (!injector_->read_guest_linear(injector_->current_linear_eip(), insn, sizeof insn) || !is_hypercall_instruction(insn)) {
    return false;
  }
  static constexpr int kArgs[] = {kRegEax, kRegEbx, kRegEcx, kRegEdx, kRegEsi};
  for (uint32_t i = 0; i < 5; i++) {
    uint64_t value = 0;
    read_register(uc_, kArgs[i], &value);
    exit_record_[kFieldHypercallNr + i] = static_cast<uint32_t>(value);
  }
  exit_record_[kFieldHypercallFromUser] = from_user ? 1 : 0;
  if (!CallInlineHandler(kInlineHypercall)) return handler_threw_;  // (the run ends on a throw)
  write_register(uc_, kRegEax, exit_record_[kFieldHypercallResult]);
  uint64_t eip = 0;
  read_register(uc_, kRegEip, &eip);
  write_register(uc_, kRegEip, static_cast<uint32_t>(eip + kHypercallInstructionLength));
  return true;
}

void Vcpu::SetExceptionReflection(const Napi::CallbackInfo& info) {
  reflect_exceptions_ = info[0].As<Napi::Boolean>().Value();
}

// Why the CPL is read through CS on this Unicorn build ("" when the live state was located).
Napi::Value Vcpu::GetLiveCpuStateMissing(const Napi::CallbackInfo& info) {
  return Napi::String::New(info.Env(), live_state_why_not_);
}

Napi::Value Vcpu::GetReflectedExceptions(const Napi::CallbackInfo& info) {
  return Napi::Number::New(info.Env(), static_cast<double>(reflected_exceptions_));
}

// Unicorn 2.1.1 arms its self-modifying-code check only on the TLB entry of the linear page a
// new translation was made at (tlb_reset_dirty_by_vaddr; QEMU's physical dirty bitmap is stubbed
// out): code written through another linear address whose TLB entry was already writable goes
// unnoticed, and stale code runs, where the CPU sees the write by any address (SDM Vol. 3
// §8.1.3). Without an engine core to write-protect code pages, the TLB is dropped at each
// exception the guest takes, so that every alias is re-armed at least that often, whether the
// exception is delivered in the core or by the run loop (a trace must not change what runs).
void Vcpu::RearmCodeWriteChecks() {
  if (!engine_) uc_ctl_flush_tlb(uc_);
}

bool Vcpu::reflect_exception(uint32_t vector, bool software_interrupt) {
  // A stop a device asked for before the exception (the debug-exit port) wins, as it does when
  // the run loop sees both. (A time slice's end does not: the exception is delivered, and the
  // run ends at the next block, as an interrupt would wait for the next instruction boundary.)
  if (!reflect_exceptions_ || stop_requested_ || debug_.has_code_hooks()) return false;
  GuestEvent event{vector, software_interrupt ? EventSource::kSoftware : EventSource::kException,
                   !software_interrupt && has_error_code(vector), exit_record_[kFieldErrorCode]};
  // A delivery that faults into shutdown or needs what the core does not model leaves the
  // registers as they were: the run ends with the exception, and the run loop delivers it again
  // and reports the same outcome.
  DeliveryOutcome outcome = injector_->deliver(event);
  if (outcome.result != DeliveryResult::kDelivered) return false;
  emulated_shadow_at_ = kNoAddress;
  exception_state_->clear_interrupt_shadow();
  if (engine_) engine_->after_event_delivered();
  reflected_exceptions_++;
  return true;
}

bool Vcpu::ReflectPendingException() {
  uint32_t vector = exit_record_[kFieldVector];
  // CR2 as the hook saw it (SDM Vol. 3 §4.7): a #PF handler reads it first thing.
  if (vector == kPf && !exception_is_int_) write_register(uc_, kRegCr2, exit_record_[kFieldCr2]);
  if (!reflect_exception(vector, exception_is_int_)) return false;
  exception_pending_ = false;
  exception_state_->reset_old_exception();
  RearmCodeWriteChecks();
  return true;
}

Napi::Value Vcpu::GetOpenBusAccesses(const Napi::CallbackInfo& info) {
  return Napi::Number::New(info.Env(), static_cast<double>(open_bus_reads_ + open_bus_writes_));
}

// A device sees accesses of at most 32 bits, as on a 32-bit bus: an 8-byte access (MOVQ, a
// 16-byte SSE access that Unicorn splits in two) reaches it as two, low half first.
uint64_t Vcpu::OnMmioRead(uc_engine* uc, uint64_t offset, unsigned size, void* opaque) {
  MmioRegion* region = static_cast<MmioRegion*>(opaque);
  if (size > 4) {
    uint64_t low = OnMmioRead(uc, offset, 4, opaque);
    return low | (OnMmioRead(uc, offset + 4, size - 4, opaque) << 32);
  }
  Vcpu* vcpu = region->vcpu;
  uint64_t address = region->base + offset;
  vcpu->exit_record_[kFieldAddress] = static_cast<uint32_t>(address);
  vcpu->exit_record_[kFieldMmioAddressHigh] = static_cast<uint32_t>(address >> 32);
  vcpu->exit_record_[kFieldSize] = size;
  vcpu->exit_record_[kFieldValue] = 0xFFFFFFFFu;
  vcpu->CallInlineHandler(kInlineMmioRead);
  return vcpu->exit_record_[kFieldValue];
}

void Vcpu::OnMmioWrite(uc_engine* uc, uint64_t offset, unsigned size, uint64_t value, void* opaque) {
  MmioRegion* region = static_cast<MmioRegion*>(opaque);
  if (size > 4) {
    OnMmioWrite(uc, offset, 4, value & 0xFFFFFFFFu, opaque);
    OnMmioWrite(uc, offset + 4, size - 4, value >> 32, opaque);
    return;
  }
  Vcpu* vcpu = region->vcpu;
  uint64_t address = region->base + offset;
  vcpu->exit_record_[kFieldAddress] = static_cast<uint32_t>(address);
  vcpu->exit_record_[kFieldMmioAddressHigh] = static_cast<uint32_t>(address >> 32);
  vcpu->exit_record_[kFieldSize] = size;
  vcpu->exit_record_[kFieldValue] = static_cast<uint32_t>(value);
  vcpu->CallInlineHandler(kInlineMmioWrite);
}

// setBlockDiscovery(on): one inline exit the first time each translated block's address runs,
// unless it first runs at CPL 3 (the trap engine scans kernel blocks for sensitive instructions
// that do not trap; user code runs at its own privilege, where they behave as on hardware).
// The addresses already reported stay marked when discovery is turned off and on again (the trap
// engine turns it off while the guest runs in real mode, and on at each return to protected
// mode): each block address is reported once per machine, as the engine's report keys its
// findings by address. (Clearing the set there freed and zeroed its 8 MiB of page slots at
// every mode switch: most of the cost of a BIOS call made from protected mode.)
void Vcpu::SetBlockDiscovery(const Napi::CallbackInfo& info) {
  discover_blocks_ = info[0].As<Napi::Boolean>().Value();
  if (discover_blocks_) EnsureBlockHook();
}

// readGuestLinear(linear, length): guest memory as the guest's own page tables map it.
Napi::Value Vcpu::ReadGuestLinear(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (!CheckOpen(env)) return env.Undefined();
  uint32_t linear = info[0].As<Napi::Number>().Uint32Value();
  uint32_t length = std::min<uint32_t>(info[1].As<Napi::Number>().Uint32Value(), 4096);
  bool guest_mapping_only = info.Length() > 2 && info[2].IsBoolean() && info[2].As<Napi::Boolean>().Value();
  Napi::Uint8Array out = Napi::Uint8Array::New(env, length);
  if (!injector_->read_guest_linear(linear, out.Data(), length, guest_mapping_only)) return env.Undefined();
  return out;
}

Napi::Value Vcpu::WriteGuestLinear(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (!CheckOpen(env)) return env.Undefined();
  uint32_t linear = info[0].As<Napi::Number>().Uint32Value();
  Napi::Uint8Array data = info[1].As<Napi::Uint8Array>();
  return Napi::Boolean::New(env, injector_->write_guest_linear(linear, data.Data(), static_cast<uint32_t>(data.ByteLength())));
}

// translateGuestLinear(linear, write): { physical } through the guest's own page tables (which
// may name an address outside RAM), or { pageFault: errorCode } as the CPU would raise it.
Napi::Value Vcpu::TranslateGuestLinear(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (!CheckOpen(env)) return env.Undefined();
  uint32_t linear = info[0].As<Napi::Number>().Uint32Value();
  bool write = info[1].As<Napi::Boolean>().Value();
  Translation t = injector_->translate(linear, write ? static_cast<uint32_t>(kAccessWrite) : 0u);
  Napi::Object out = Napi::Object::New(env);
  if (t.ok) out.Set("physical", static_cast<double>(t.physical));
  else out.Set("pageFault", t.page_fault_error);
  return out;
}

// The trap engine's own methods: thin forwards to its core (trap-core.h) --------------------

TrapCore* Vcpu::CheckTrap(Napi::Env env) {
  if (!CheckOpen(env)) return nullptr;
  if (trap_) return trap_;
  Napi::Error::New(env, "this vCPU has no VMM region (create it with the trap engine)").ThrowAsJavaScriptException();
  return nullptr;
}

void Vcpu::TrapConfigure(const Napi::CallbackInfo& info) {
  if (TrapCore* trap = CheckTrap(info.Env())) trap->configure({U32(info[0]), U32(info[1]), U32(info[2])});
}

Napi::Value Vcpu::TrapLoadGdt(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  TrapCore* trap = CheckTrap(env);
  if (!trap) return env.Undefined();
  return Napi::Boolean::New(env, trap->load_guest_gdt(U32(info[0]), U32(info[1])));
}

void Vcpu::TrapEnter(const Napi::CallbackInfo& info) {
  if (TrapCore* trap = CheckTrap(info.Env())) trap->enter(U32(info[0]), U32(info[1]), U32(info[2]), U32(info[3]), U32(info[4]));
}

void Vcpu::TrapSetGuestTss(const Napi::CallbackInfo& info) {
  if (TrapCore* trap = CheckTrap(info.Env())) trap->set_guest_tss(U32(info[0]), U32(info[1]));
}

void Vcpu::TrapInvalidatePage(const Napi::CallbackInfo& info) {
  if (TrapCore* trap = CheckTrap(info.Env())) trap->invalidate_page(U32(info[0]));
}

Napi::Value Vcpu::TrapCounters(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  TrapCore* trap = CheckTrap(env);
  if (!trap) return env.Undefined();
  Napi::Object out = Napi::Object::New(env);
  for (const EngineCounter& counter : trap->counters()) out.Set(counter.name, static_cast<double>(counter.value));
  return out;
}

// The dirty log: the shadow MMU's write-protected entries under an engine core, a comparison
// against a copy of RAM without one (content-dirty-log.h).
// With `byContent` (a migration), the content log under an engine core too: the shadow MMU's
// sees the guest's own stores only, not the VMM's (an event frame the core pushes on the guest's
// stack, an emulated instruction's store), which a copy elsewhere must have as well.
void Vcpu::SetDirtyLogging(const Napi::CallbackInfo& info) {
  if (!CheckOpen(info.Env())) return;
  bool on = info[0].As<Napi::Boolean>().Value();
  bool by_content = !trap_ || (info.Length() > 1 && info[1].IsBoolean() && info[1].As<Napi::Boolean>().Value());
  if (!on) {  // off: whichever is on
    if (content_dirty_log_) content_dirty_log_->set_logging(false);
    if (trap_) trap_->set_dirty_logging(false);
    return;
  }
  if (!by_content) {
    trap_->set_dirty_logging(on);
    return;
  }
  if (!content_dirty_log_) content_dirty_log_ = std::make_unique<ContentDirtyLog>(memory_->base(), memory_->size());
  content_dirty_log_->set_logging(on);
}

Napi::Value Vcpu::TakeDirtyLog(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (!CheckOpen(env)) return env.Undefined();
  // A content log taken for itself keeps its reference up to date; one whose pages are read
  // through readPages() (a migration) keeps what was read.
  bool update = !(info.Length() > 0 && info[0].IsBoolean() && info[0].As<Napi::Boolean>().Value());
  std::vector<uint8_t> bitmap = content_dirty_log_ && content_dirty_log_->logging() ? content_dirty_log_->take(update)
                                : trap_                                             ? trap_->take_dirty_log()
                                                     : std::vector<uint8_t>((memory_->size() / 4096 + 7) / 8, 0);
  return ToUint8Array(env, bitmap);
}

// `vcpu.trap`: the trap engine's own methods, on an object of their own so that the vCPU's
// interface stays the same for every engine (undefined without a trap core). The object holds
// the vCPU's JavaScript object, so the vCPU outlives it.
Napi::Value Vcpu::GetTrap(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (!trap_) return env.Undefined();
  Napi::Object trap = Napi::Object::New(env);
  trap.Set("configure", Napi::Function::New(env, [this](const Napi::CallbackInfo& i) { TrapConfigure(i); }));
  trap.Set("loadGdt", Napi::Function::New(env, [this](const Napi::CallbackInfo& i) { return TrapLoadGdt(i); }));
  trap.Set("enter", Napi::Function::New(env, [this](const Napi::CallbackInfo& i) { TrapEnter(i); }));
  trap.Set("invalidatePage", Napi::Function::New(env, [this](const Napi::CallbackInfo& i) { TrapInvalidatePage(i); }));
  trap.Set("setGuestTss", Napi::Function::New(env, [this](const Napi::CallbackInfo& i) { TrapSetGuestTss(i); }));
  trap.Set("counters", Napi::Function::New(env, [this](const Napi::CallbackInfo& i) { return TrapCounters(i); }));
  trap.Set("architecturalState", Napi::Function::New(env, [this](const Napi::CallbackInfo& i) { return TrapArchitecturalState(i); }));
  trap.Set("guestCr3", Napi::Function::New(env, [this](const Napi::CallbackInfo& i) {
    return Napi::Number::New(i.Env(), trap_ ? trap_->guest_cr3() : 0);
  }));
  trap.Set("guestCr2", Napi::Function::New(env, [this](const Napi::CallbackInfo& i) {
    return Napi::Number::New(i.Env(), trap_ ? trap_->guest_cr2() : 0);
  }));
  trap.Set("setGuestCr2", Napi::Function::New(env, [this](const Napi::CallbackInfo& i) {
    if (trap_) trap_->set_guest_cr2(i[0].As<Napi::Number>().Uint32Value());
  }));
  trap.Set("unblockNmis", Napi::Function::New(env, [this](const Napi::CallbackInfo&) {
    if (trap_) trap_->unblock_nmis();
  }));
  trap.Set("setGuestNestedTask", Napi::Function::New(env, [this](const Napi::CallbackInfo& i) {
    if (trap_) trap_->set_guest_nested_task(i[0].As<Napi::Boolean>().Value());
  }));
  trap.Set("paravirtualize", Napi::Function::New(env, [this](const Napi::CallbackInfo& i) {
    if (trap_) {
      trap_->set_paravirtual(i[0].As<Napi::Number>().Uint32Value(), i[1].As<Napi::Number>().Uint32Value(),
                             i[2].As<Napi::Number>().Uint32Value());
    }
  }));
  trap.Set("setParavirtualIdt", Napi::Function::New(env, [this](const Napi::CallbackInfo& i) {
    Napi::Uint8Array gates = i[0].As<Napi::Uint8Array>();
    if (gates.ByteLength() != kParavirtIdtBytes) {
      Napi::RangeError::New(i.Env(), "setParavirtualIdt: 2048 bytes of gates expected").ThrowAsJavaScriptException();
      return;
    }
    if (trap_) trap_->set_paravirtual_idt(gates.Data());
  }));
  trap.Set("setParavirtualKernelStack", Napi::Function::New(env, [this](const Napi::CallbackInfo& i) {
    if (trap_) trap_->set_paravirtual_kernel_stack(i[0].As<Napi::Number>().Uint32Value(), i[1].As<Napi::Number>().Uint32Value());
  }));
  trap.Set("guestCr0", Napi::Function::New(env, [this](const Napi::CallbackInfo& i) {
    return Napi::Number::New(i.Env(), trap_ ? trap_->guest_cr0() : 0);
  }));
  trap.Set("pinPageDirectory", Napi::Function::New(env, [this](const Napi::CallbackInfo& i) {
    return Napi::Number::New(i.Env(), trap_ ? trap_->pin_page_directory(i[0].As<Napi::Number>().Uint32Value()) : kErrnoInval);
  }));
  trap.Set("updatePageTable", Napi::Function::New(env, [this](const Napi::CallbackInfo& i) {
    return Napi::Number::New(i.Env(), trap_ ? trap_->update_page_table(i[0].As<Napi::Number>().Uint32Value(), i[1].As<Napi::Number>().Uint32Value()) : kErrnoInval);
  }));
  trap.Set("setSmapOffered", Napi::Function::New(env, [this](const Napi::CallbackInfo& i) {
    if (trap_) trap_->set_smap_offered(i[0].As<Napi::Boolean>().Value());
  }));
  trap.Set("leave", Napi::Function::New(env, [this](const Napi::CallbackInfo& i) {
    return Napi::Boolean::New(i.Env(), trap_ && trap_->leave());
  }));
  trap.Set("watchProtectedMode", Napi::Function::New(env, [this](const Napi::CallbackInfo& i) {
    if (trap_) trap_->watch_protected_mode(i[0].As<Napi::Boolean>().Value());
  }));
  trap.Set("protectedModeReady", Napi::Function::New(env, [this](const Napi::CallbackInfo& i) {
    return Napi::Boolean::New(i.Env(), trap_ && trap_->protected_mode_ready());
  }));
  trap.Set("regionBase", Napi::Number::New(env, static_cast<double>(trap_->region_physical())));
  trap.DefineProperty(Napi::PropertyDescriptor::Value("vcpu", info.This(), napi_default));
  return trap;
}

}  // namespace vmm
