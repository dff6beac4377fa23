// Instruction tracing (setTracing): while enabled, a code hook records each instruction's
// address, bytes and the registers before it runs, and memory hooks each read and write, into a
// buffer shared with TypeScript (the layout is trace-buffer.h's). Per-instruction hooks cost a
// call into the host for every instruction, so they exist only while tracing; the default path
// has none. A full buffer is handed to TypeScript through the inline-exit upcall.
#pragma once
#include <cstdint>
#include <memory>

#include <napi.h>
#include <unicorn/unicorn.h>

#include "trace-buffer.h"

namespace vmm {

class EventInjector;

class TraceRecorder {
 public:
  // What the recorder needs from its vCPU.
  class Host {
   public:
    // Called before each traced instruction: true when the guest is being stopped there (the
    // host stops it), so that an instruction is recorded only when it really runs.
    virtual bool stop_before_instruction() = 0;
    // The buffer is full: TypeScript drains it through the inline-exit upcall (kInlineTraceFull)
    // and sets count(); false when the upcall could not run.
    virtual bool drain_trace_buffer() = 0;
    // The inline handler threw in this run: it is not called again, so nothing more is recorded.
    virtual bool handler_threw() const = 0;
    // Reads an instruction's bytes through the guest's own mapping.
    virtual EventInjector& injector() = 0;
    // The guest instruction that code at `linear` carries out (an engine core's translation of it),
    // or false when that code is not the start of a guest instruction (nothing is recorded).
    virtual bool guest_instruction(uint32_t linear, uint32_t* guest) = 0;

   protected:
    ~Host() = default;
  };

  explicit TraceRecorder(Host& host) : host_(host) {}

  // Adds the code hook (and, with `memory`, the memory hooks), or removes them all.
  void set(Napi::Env env, uc_engine* uc, bool instructions, bool memory);
  bool recording() const { return code_hook_ != 0; }
  // The record buffer as an ArrayBuffer, once tracing has been on; else undefined.
  Napi::Value buffer(Napi::Env env) const;
  // Records written since TypeScript last drained the buffer (it drains during upcalls too).
  uint32_t count() const { return count_; }
  void set_count(uint32_t count) { count_ = count; }
  // An engine core's own work, recorded in line with the instructions (while recording).
  void record_hidden_fault(uint32_t address, uint32_t error_code);
  void record_translation(uint32_t guest_start, uint32_t guest_end, uint32_t cache_bytes, uint32_t rewritten);
  void record_vmm_call(TraceVmmCall kind, uint32_t guest);
  // The vCPU is closing: TypeScript must not reach the records through the buffer any more.
  void release();

 private:
  uint32_t* next_record();
  static void on_instruction(uc_engine* uc, uint64_t address, uint32_t size, void* self);
  static void on_memory(uc_engine* uc, uc_mem_type type, uint64_t address, int size, int64_t value, void* self);

  Host& host_;
  std::unique_ptr<uint32_t[]> records_;
  uint32_t count_ = 0;
  uc_hook code_hook_ = 0;
  uc_hook memory_hook_ = 0;
  Napi::Reference<Napi::ArrayBuffer> buffer_;
};

}  // namespace vmm
