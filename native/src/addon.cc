// The native core of the VMM: exports the Vcpu class and the register/exit-record layout
// version so the TypeScript side can refuse a stale build.
#include <napi.h>
#include <unicorn/unicorn.h>

#include "exact-stop.h"
#include "host-tsc.h"
#include "vcpu.h"

namespace {

constexpr uint32_t kAbiVersion = 6;

Napi::Object Init(Napi::Env env, Napi::Object exports) {
  exports.Set("Vcpu", vmm::Vcpu::Define(env));
  exports.Set("abiVersion", Napi::Number::New(env, kAbiVersion));
  exports.Set("hostTscHz", Napi::Function::New(env, [](const Napi::CallbackInfo& info) {
    return Napi::Number::New(info.Env(), static_cast<double>(vmm::host_tsc_hz()));
  }));
  // exactStops(): where the proof found Unicorn's no_exit_request, or why not.
  exports.Set("exactStops", Napi::Function::New(env, [](const Napi::CallbackInfo& info) {
    const vmm::ExactStopLayout& layout = vmm::exact_stop_layout();
    Napi::Object out = Napi::Object::New(info.Env());
    out.Set("proven", layout.proven);
    out.Set("offset", static_cast<double>(layout.no_exit_request_offset));
    out.Set("whyNot", layout.why_not);
    return out;
  }));
  // proveExactStops(offset): the proof alone, for any offset (a wrong one must fail it).
  exports.Set("proveExactStops", Napi::Function::New(env, [](const Napi::CallbackInfo& info) {
    std::string why_not;
    bool proven = vmm::prove_exact_stops(info[0].As<Napi::Number>().Uint32Value(), &why_not);
    Napi::Object out = Napi::Object::New(info.Env());
    out.Set("proven", proven);
    out.Set("whyNot", why_not);
    return out;
  }));
  unsigned major = 0, minor = 0;
  uc_version(&major, &minor);
  exports.Set("unicornVersion", Napi::String::New(env, std::to_string(major) + "." + std::to_string(minor)));
  return exports;
}

}  // namespace

NODE_API_MODULE(vmm_native, Init)
