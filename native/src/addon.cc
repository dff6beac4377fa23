// The native core of the VMM: exports the Vcpu class and the register/exit-record layout
// version so the TypeScript side can refuse a stale build.
#include <napi.h>
#include <unicorn/unicorn.h>

#include "host-tsc.h"
#include "vcpu.h"

namespace {

constexpr uint32_t kAbiVersion = 3;

Napi::Object Init(Napi::Env env, Napi::Object exports) {
  exports.Set("Vcpu", vmm::Vcpu::Define(env));
  exports.Set("abiVersion", Napi::Number::New(env, kAbiVersion));
  exports.Set("hostTscHz", Napi::Function::New(env, [](const Napi::CallbackInfo& info) {
    return Napi::Number::New(info.Env(), static_cast<double>(vmm::host_tsc_hz()));
  }));
  unsigned major = 0, minor = 0;
  uc_version(&major, &minor);
  exports.Set("unicornVersion", Napi::String::New(env, std::to_string(major) + "." + std::to_string(minor)));
  return exports;
}

}  // namespace

NODE_API_MODULE(vmm_native, Init)
