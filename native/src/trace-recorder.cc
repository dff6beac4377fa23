#include "trace-recorder.h"

#include <cstring>

#include "event-injection.h"
#include "registers.h"

namespace vmm {

void TraceRecorder::set(Napi::Env env, uc_engine* uc, bool instructions, bool memory) {
  if (code_hook_) uc_hook_del(uc, code_hook_);
  if (memory_hook_) uc_hook_del(uc, memory_hook_);
  code_hook_ = memory_hook_ = 0;
  if (!instructions) return;
  if (!records_) {
    records_.reset(new uint32_t[kTraceCapacity * kTraceRecordWords]());
    buffer_ = Napi::Persistent(Napi::ArrayBuffer::New(env, records_.get(), kTraceCapacity * kTraceRecordWords * sizeof(uint32_t)));
  }
  uc_hook_add(uc, &code_hook_, UC_HOOK_CODE, reinterpret_cast<void*>(on_instruction), this, 1, 0);
  if (memory) {
    uc_hook_add(uc, &memory_hook_, UC_HOOK_MEM_READ_AFTER | UC_HOOK_MEM_WRITE, reinterpret_cast<void*>(on_memory), this, 1, 0);
  }
}

Napi::Value TraceRecorder::buffer(Napi::Env env) const {
  if (buffer_.IsEmpty()) return env.Undefined();
  return buffer_.Value();
}

void TraceRecorder::release() {
  if (!buffer_.IsEmpty()) {
    Napi::ArrayBuffer buffer = buffer_.Value();
    if (!buffer.IsEmpty() && !buffer.IsDetached()) buffer.Detach();
    buffer_.Reset();
  }
  // The hooks go with the engine.
  code_hook_ = memory_hook_ = 0;
}

uint32_t* TraceRecorder::next_record() {
  if (count_ == kTraceCapacity && !host_.drain_trace_buffer()) count_ = 0;  // no one to drain it: the records are lost
  return records_.get() + (count_++) * kTraceRecordWords;
}

void TraceRecorder::record_hidden_fault(uint32_t address, uint32_t error_code) {
  if (!recording()) return;
  uint32_t* record = next_record();
  record[kTraceKind] = kTraceHiddenFault;
  record[kTraceFaultAddress] = address;
  record[kTraceFaultError] = error_code;
}

void TraceRecorder::record_translation(uint32_t guest_start, uint32_t guest_end, uint32_t cache_bytes, uint32_t rewritten) {
  if (!recording()) return;
  uint32_t* record = next_record();
  record[kTraceKind] = kTraceTranslate;
  record[kTraceGuestStart] = guest_start;
  record[kTraceGuestEnd] = guest_end;
  record[kTraceCacheBytes] = cache_bytes;
  record[kTraceRewritten] = rewritten;
}

void TraceRecorder::record_vmm_call(TraceVmmCall kind, uint32_t guest) {
  if (!recording()) return;
  uint32_t* record = next_record();
  record[kTraceKind] = kTraceVmmCall;
  record[kTraceCallKind] = kind;
  record[kTraceCallGuest] = guest;
}

void TraceRecorder::on_instruction(uc_engine* uc, uint64_t address, uint32_t size, void* self) {
  static int registers[kTraceRegisterCount] = {
      UC_X86_REG_EAX, UC_X86_REG_ECX, UC_X86_REG_EDX, UC_X86_REG_EBX, UC_X86_REG_ESP, UC_X86_REG_EBP,
      UC_X86_REG_ESI, UC_X86_REG_EDI, UC_X86_REG_EFLAGS, UC_X86_REG_ES, UC_X86_REG_CS, UC_X86_REG_SS,
      UC_X86_REG_DS, UC_X86_REG_FS, UC_X86_REG_GS, UC_X86_REG_CR0, UC_X86_REG_CR2, UC_X86_REG_CR3, UC_X86_REG_CR4};
  TraceRecorder* recorder = static_cast<TraceRecorder*>(self);
  // With a code hook in every block, Unicorn leaves the block right after the hook once a stop
  // is requested, before the instruction runs: stops are precise while tracing, and the
  // instruction is recorded when it really runs (the next run starts with it).
  if (recorder->host_.stop_before_instruction()) return;
  // Translated code is recorded as the guest instruction it carries out, at its guest address.
  uint32_t guest = 0;
  if (!recorder->host_.guest_instruction(static_cast<uint32_t>(address), &guest)) return;
  uint32_t* record = recorder->next_record();
  std::memset(record, 0, kTraceRecordWords * sizeof(uint32_t));
  record[kTraceKind] = kTraceInstruction;
  uint64_t eip = 0;
  read_register(uc, kRegEip, &eip);
  record[kTraceEip] = static_cast<uint32_t>(eip - address + guest);
  record[kTraceLinear] = guest;
  uint32_t length = size > 16 ? 16 : size;
  if (guest != address) {
    // The guest's own instruction, whose length the translation does not keep: up to 16 bytes,
    // the trace decodes them.
    length = 16;
  }
  record[kTraceSize] = length;
  recorder->host_.injector().read_guest_linear(guest, &record[kTraceBytes], length);
  void* values[kTraceRegisterCount];
  for (int i = 0; i < kTraceRegisterCount; i++) values[i] = &record[kTraceRegisters + i];
  uc_reg_read_batch(uc, registers, values, kTraceRegisterCount);
  record[kTraceCs] = record[kTraceRegisters + 10];
}

void TraceRecorder::on_memory(uc_engine* uc, uc_mem_type type, uint64_t address, int size, int64_t value, void* self) {
  TraceRecorder* recorder = static_cast<TraceRecorder*>(self);
  if (recorder->host_.handler_threw()) return;
  uint32_t* record = recorder->next_record();
  record[kTraceKind] = type == UC_MEM_WRITE ? kTraceMemoryWrite : kTraceMemoryRead;
  record[kTraceAddress] = static_cast<uint32_t>(address);
  record[kTraceAccessSize] = static_cast<uint32_t>(size);
  record[kTraceValueLow] = static_cast<uint32_t>(value);
  record[kTraceValueHigh] = static_cast<uint32_t>(static_cast<uint64_t>(value) >> 32);
}

}  // namespace vmm
