#include "smsw-register-form.h"

#include <cstdint>
#include <mutex>

#include "modrm.h"

namespace vmm {
namespace {

// QEMU's translator interface (include/exec/translator.h of Unicorn 2.1, the library this addon
// is built against): the loop calls the target's translate_insn once per instruction, with
// pc_next at that instruction's first byte (a linear address).
struct DisasContextBase {
  void* tb;
  uint64_t pc_first;
  uint64_t pc_next;
  int is_jmp;
  int num_insns;
  int max_insns;
  bool singlestep_enabled;
};

using TranslateInsn = void (*)(DisasContextBase* db, void* cpu);

struct TranslatorOps {
  void (*init_disas_context)(DisasContextBase* db, void* cpu);
  void (*tb_start)(DisasContextBase* db, void* cpu);
  void (*insn_start)(DisasContextBase* db, void* cpu);
  bool (*breakpoint_check)(DisasContextBase* db, void* cpu, const void* bp);
  TranslateInsn translate_insn;
  void (*tb_stop)(DisasContextBase* db, void* cpu);
};

constexpr uint8_t kOperandSizePrefix = 0x66;
constexpr uint8_t kLockPrefix = 0xF0;
constexpr uint8_t kTwoByteEscape = 0x0F;
constexpr uint8_t kGroup7 = 0x01;              // 0F 01: SGDT, SIDT, ..., SMSW (/4), LMSW (/6), INVLPG
constexpr uint8_t kMovFromControl = 0x20;      // 0F 20: MOV r32, CRn
constexpr uint8_t kSmswRegisterForm = 0xE0;    // ModRM mod 11, reg 100: SMSW r16/r32
constexpr uint8_t kModrmRegisterForm = 0xC0;   // ModRM mod 11, reg 000 (CR0)
constexpr int kMaxPrefixes = 14;               // an instruction is at most 15 bytes

// The rewrite in force for the instruction being translated on this thread.
struct Rewrite {
  bool active = false;
  uint64_t opcode_at = 0;  // the 01h byte: read as 20h
  uint64_t modrm_at = 0;   // SMSW's ModRM: read as MOV's
  uint8_t modrm = 0;
};

thread_local const LiveCpuState* t_cpu = nullptr;
thread_local Rewrite t_rewrite;

TranslateInsn g_translate_insn = nullptr;
const TranslatorOps* g_target_ops = nullptr;
TranslatorOps g_wrapped_ops{};
std::once_flag g_wrap_once;

}  // namespace

void set_translating_cpu(const LiveCpuState* live) { t_cpu = live; }

}  // namespace vmm

extern "C" {

uint32_t __real_cpu_ldub_code_x86_64(void* env, uint64_t addr);
void __real_translator_loop_x86_64(const vmm::TranslatorOps* ops, vmm::DisasContextBase* db, void* cpu, void* tb, int max_insns);

__attribute__((visibility("hidden"))) uint32_t __wrap_cpu_ldub_code_x86_64(void* env, uint64_t addr) {
  // The real fetch first: its faults are the guest's, rewritten or not.
  uint32_t byte = __real_cpu_ldub_code_x86_64(env, addr);
  const vmm::Rewrite& rewrite = vmm::t_rewrite;
  if (rewrite.active) {
    if (addr == rewrite.opcode_at) return vmm::kMovFromControl;
    if (addr == rewrite.modrm_at) return rewrite.modrm;
  }
  return byte;
}

}  // extern "C"

namespace vmm {
namespace {

// Whether the instruction at `pc` is SMSW into a 32-bit register at CPL 0; if so, the rewrite is
// set up. Reads the prefixes, the opcode and the ModRM byte, and no further: the bytes the
// translator fetches for the instruction itself.
void plan_rewrite(const LiveCpuState& cpu, uint64_t pc) {
  if (cpu.cpl() != 0) return;
  void* env = cpu.cpu_env();
  bool operand_32 = cpu.code_segment_is_32();
  uint64_t at = pc;
  uint8_t byte = 0;
  for (int i = 0;; i++, at++) {
    if (i > kMaxPrefixes) return;
    byte = static_cast<uint8_t>(__real_cpu_ldub_code_x86_64(env, at));
    // LOCK MOV CR0 is AMD's MOV CR8 where the CPU offers it; LOCK SMSW is left to the translator.
    if (byte == kLockPrefix) return;
    // 66h selects the other operand size; repeated, it is still one prefix (SDM Vol. 2 §2.1.1).
    if (byte == kOperandSizePrefix) {
      operand_32 = !cpu.code_segment_is_32();
    } else if (!is_legacy_prefix(byte)) {
      break;
    }
  }
  if (byte != kTwoByteEscape || !operand_32) return;
  if (static_cast<uint8_t>(__real_cpu_ldub_code_x86_64(env, at + 1)) != kGroup7) return;
  uint8_t modrm = static_cast<uint8_t>(__real_cpu_ldub_code_x86_64(env, at + 2));
  if ((modrm & 0xF8) != kSmswRegisterForm) return;
  t_rewrite = Rewrite{true, at + 1, at + 2, static_cast<uint8_t>(kModrmRegisterForm | (modrm & 7))};
}

void translate_insn(DisasContextBase* db, void* cpu) {
  t_rewrite.active = false;
  if (t_cpu) plan_rewrite(*t_cpu, db->pc_next);
  g_translate_insn(db, cpu);
  t_rewrite.active = false;
}

}  // namespace
}  // namespace vmm

extern "C" {

__attribute__((visibility("hidden"))) void __wrap_translator_loop_x86_64(const vmm::TranslatorOps* ops, vmm::DisasContextBase* db,
                                                                        void* cpu, void* tb, int max_insns) {
  // One target (x86) translates here, with one table of operations: a copy of it whose
  // translate_insn goes through the rewrite.
  std::call_once(vmm::g_wrap_once, [ops] {
    vmm::g_target_ops = ops;
    vmm::g_wrapped_ops = *ops;
    vmm::g_translate_insn = ops->translate_insn;
    vmm::g_wrapped_ops.translate_insn = vmm::translate_insn;
  });
  __real_translator_loop_x86_64(ops == vmm::g_target_ops ? &vmm::g_wrapped_ops : ops, db, cpu, tb, max_insns);
}

}  // extern "C"
