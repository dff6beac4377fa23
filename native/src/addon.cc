// The native core of the VMM: exports the Vcpu class and the register/exit-record layout
// version so the TypeScript side can refuse a stale build.
#include <algorithm>

#include <napi.h>
#include <unicorn/unicorn.h>

#include "bt-translator.h"
#include "exact-stop.h"
#include "host-tsc.h"
#include "vcpu.h"

namespace {

constexpr uint32_t kAbiVersion = 10;

// Guest code from a byte string at a given address, for translateBlock.
class BytesAt final : public vmm::CodeSource {
 public:
  BytesAt(const uint8_t* bytes, size_t length, uint32_t address) : bytes_(bytes), length_(length), address_(address) {}
  uint32_t read(uint32_t linear, uint8_t* out, uint32_t length) override {
    uint32_t offset = linear - address_;
    if (offset >= length_) return 0;
    uint32_t n = static_cast<uint32_t>(std::min<size_t>(length, length_ - offset));
    std::copy(bytes_ + offset, bytes_ + offset + n, out);
    return n;
  }

 private:
  const uint8_t* bytes_;
  size_t length_;
  uint32_t address_;
};

// No translation exists yet: every direct jump goes through its exit stub.
class NoTargets final : public vmm::TranslationTargets {
 public:
  NoTargets(uint32_t table, uint32_t resume) {
    lookup_table = table;
    resume_slot = resume;
  }
  uint32_t find(uint32_t) const override { return 0; }
};

// translateBlock(bytes, guestAddress, cacheAddress, lookupTableAddress[, resumeSlotAddress]): what
// the bt engine's translator makes of the block at the start of `bytes` (translator tests); fast
// calls only with a resume slot.
Napi::Value TranslateBlock(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() < 4 || !info[0].IsTypedArray()) {
    Napi::TypeError::New(env, "translateBlock(bytes, guestAddress, cacheAddress, lookupTableAddress)").ThrowAsJavaScriptException();
    return env.Undefined();
  }
  Napi::Uint8Array bytes = info[0].As<Napi::Uint8Array>();
  uint32_t guest = info[1].As<Napi::Number>().Uint32Value();
  BytesAt source(bytes.Data(), bytes.ByteLength(), guest);
  uint32_t resume = info.Length() > 4 && info[4].IsNumber() ? info[4].As<Napi::Number>().Uint32Value() : 0;
  NoTargets targets(info[3].As<Napi::Number>().Uint32Value(), resume);
  vmm::Translator translator;
  vmm::BlockTranslation t = translator.translate(source, targets, guest, info[2].As<Napi::Number>().Uint32Value(), vmm::TranslatorLimits{});
  Napi::Object out = Napi::Object::New(env);
  Napi::Buffer<uint8_t> code = Napi::Buffer<uint8_t>::Copy(env, t.code.data(), t.code.size());
  out.Set("code", code);
  out.Set("guestEnd", static_cast<double>(t.guest_end));
  Napi::Array boundaries = Napi::Array::New(env, t.boundaries.size());
  for (uint32_t i = 0; i < t.boundaries.size(); i++) {
    Napi::Object b = Napi::Object::New(env);
    b.Set("tc", static_cast<double>(t.boundaries[i].tc));
    b.Set("guest", static_cast<double>(t.boundaries[i].guest));
    b.Set("precise", t.boundaries[i].precise);
    boundaries[i] = b;
  }
  out.Set("boundaries", boundaries);
  Napi::Array callouts = Napi::Array::New(env, t.callouts.size());
  static const char* const kKinds[] = {"exit", "miss", "emulate", "gdt", "fast", "far"};
  for (uint32_t i = 0; i < t.callouts.size(); i++) {
    const vmm::Callout& callout = t.callouts[i].second;
    Napi::Object c = Napi::Object::New(env);
    c.Set("tc", static_cast<double>(t.callouts[i].first));
    c.Set("kind", kKinds[static_cast<int>(callout.kind)]);
    c.Set("guest", static_cast<double>(callout.guest_eip));
    if (callout.kind == vmm::CalloutKind::kFastCall) c.Set("resume", static_cast<double>(callout.site));
    callouts[i] = c;
  }
  out.Set("callouts", callouts);
  return out;
}

Napi::Object Init(Napi::Env env, Napi::Object exports) {
  vmm::start_host_tsc_measurement();
  exports.Set("Vcpu", vmm::Vcpu::Define(env));
  exports.Set("abiVersion", Napi::Number::New(env, kAbiVersion));
  exports.Set("translateBlock", Napi::Function::New(env, TranslateBlock));
  exports.Set("hostTscHz", Napi::Function::New(env, [](const Napi::CallbackInfo& info) {
    return Napi::Number::New(info.Env(), static_cast<double>(vmm::host_tsc_hz()));
  }));
  exports.Set("hostTsc", Napi::Function::New(env, [](const Napi::CallbackInfo& info) {
    return Napi::BigInt::New(info.Env(), static_cast<uint64_t>(vmm::host_tsc()));
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
