// The bt engine's translator (docs/bt-engine.md): one guest basic block of 32-bit kernel code in,
// code for the translation cache out. After VMware's binary translator (Bugnion et al., TOCS
// 2012, §6; Adams & Agesen, ASPLOS 2006, §3): most instructions are copied unchanged (IDENT);
// control flow is rewritten so that it still speaks guest addresses; sensitive instructions that
// would not trap become short sequences or calls into the VMM. It knows nothing of Unicorn, the
// cache's bookkeeping or the shadow MMU: it reads guest bytes through a CodeSource and writes
// bytes for a given cache address, so it can be tested on byte strings alone.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

namespace vmm {

// Guest code as the translator reads it: linear addresses through the guest's own mapping.
class CodeSource {
 public:
  // Copies up to `length` bytes at `linear`; returns how many could be read (0 when the first
  // byte is not mapped). A read may cross into the next page.
  virtual uint32_t read(uint32_t linear, uint8_t* out, uint32_t length) = 0;

 protected:
  ~CodeSource() = default;
};

// Where a translation may jump: the cache's shared routines and the translations that exist.
struct TranslationTargets {
  // The indirect-branch lookup table: kLookupEntries cache addresses, indexed by lookup_slot() of
  // a target (translation-cache.h). Reached with eax = target, [esp] = the guest's ecx, [esp+4] its eax.
  uint32_t lookup_table;
  uint32_t gdt_stale = 0;  // a byte the VMM sets while the real GDT lags behind the guest's (0: no check)
  // The dword a fast call jumps through: where the VMM says the guest goes on (0: no fast calls).
  uint32_t resume_slot = 0;
  // The cache address of the translation of a guest address, or 0 if there is none yet.
  virtual uint32_t find(uint32_t guest) const = 0;

 protected:
  ~TranslationTargets() = default;
};

// What the code at a cache address asks of the VMM when it runs: a UD2 the VMM recognises, or a
// fast call's CPUID.
enum class CalloutKind : uint8_t {
  kDirectExit,   // a direct jump's target has no translation yet: translate it and chain the jump
  kIndirectMiss, // the lookup found no translation for the target in eax
  kEmulate,      // a sensitive instruction the VMM emulates (guest_eip is the instruction)
  kGdtRefresh,   // a segment load found the real GDT stale: copy it, then go on at `site`
  // A fast call (kFastCall below) for the sensitive instruction at guest_eip; `site` is where the
  // guest goes on after it when it does not transfer control (0 when it does).
  kFastCall,
  // A far JMP or RET is about to run (its copy at `site`): the VMM's block hook must be in place
  // to see the guest address it lands at.
  kFarTransfer,
};

struct Callout {
  CalloutKind kind;
  uint32_t guest_eip;  // kDirectExit: the target; kEmulate, kFastCall: the instruction
  uint32_t site;       // kDirectExit: cache address of the rel32 that jumps to this exit (0: none)
};

// A fast call into the VMM: `cpuid; jmp [resume_slot]`, then the slow way (the trapping
// instruction, or the UD2 of an emulation). Unicorn calls its CPUID hook inside its CPU loop, so
// the VMM carries the instruction out without the exception, the exit from uc_emu_start and the
// re-entry that a trap or a UD2 costs; it skips the CPUID (the guest's registers stay as they
// were), and writes the slot: the code after the instruction, the translation of where it went,
// or, when the core cannot do it there, the slow way. Only the instructions the core carries out
// itself get one (MOV to and from CRn, INVLPG, IRET, VERR, VERW).
constexpr uint8_t kFastCallBytes = 8;  // 0F A2, FF 25 slot32

// A point in a translation and the guest state it stands for. At a precise point the guest
// registers are exactly the guest's before the instruction at `guest`; inside a rewritten
// sequence they are not (precise = false), and nothing guest-visible may happen there.
struct Boundary {
  uint32_t tc;
  uint32_t guest;
  bool precise;
  bool instruction = false;  // the first code of the guest instruction at `guest` (for the trace)
};

// How each guest instruction was translated, for the counters (bt-core.h names them).
enum class Rewrite : uint8_t {
  kIdent,          // copied unchanged
  kTrapping,       // copied; it traps at ring 1 (MOV CRn, LGDT, HLT, ...) and ends the block
  kJump,           // JMP rel: a direct jump to the target's translation
  kBranch,         // Jcc, JECXZ, LOOP: both ways direct jumps
  kCall,           // CALL rel: pushes the guest return address
  kCallIndirect,   // CALL r/m: pushes the guest return address, then the lookup
  kJumpIndirect,   // JMP r/m: the lookup
  kReturn,         // RET, RET imm16: the lookup
  kPushf,          // PUSHFD: the guest's IOPL in the pushed image, no exit
  kSelector,       // PUSH CS/SS, MOV r32, CS/SS: the guest's RPL, no exit
  kSegmentLoad,    // MOV Sreg, POP Sreg, LDS/LES/LFS/LGS: after a check that the real GDT is current
  kEmulate,        // a call into the VMM (IRET, SGDT, SIDT, SLDT, STR, SMSW, LAR, LSL, VERR, VERW,
                   // MOV m16 from CS/SS, prefixed PUSH CS/SS, 16-bit PUSHF, SYSENTER)
  kCount,
};
const char* rewrite_name(Rewrite kind);

struct BlockTranslation {
  uint32_t guest_start = 0;
  uint32_t guest_end = 0;              // one past the last guest byte translated
  std::vector<uint8_t> code;           // for cache address tc_start
  std::vector<Boundary> boundaries;    // sorted by tc
  std::vector<std::pair<uint32_t, Callout>> callouts;  // cache address of each UD2, and what it asks
  std::vector<std::pair<uint32_t, uint32_t>> links;    // cache address of a rel32 chained at once, its guest target
  uint32_t rewrites[static_cast<int>(Rewrite::kCount)] = {};
  uint32_t instructions = 0;
  bool empty() const { return code.empty(); }
};

struct TranslatorLimits {
  uint32_t max_instructions = 64;
  uint32_t max_code_bytes = 1536;
  bool single_instruction = false;  // translate only the first instruction (after a write to its page)
};

class Translator {
 public:
  Translator();
  ~Translator();
  Translator(const Translator&) = delete;
  Translator& operator=(const Translator&) = delete;
  bool ok() const { return handle_ != 0; }

  // Translates the block at `guest` for cache address `tc_start`. An empty result means the first
  // instruction could not be read or decoded: the guest should run it in place (and fault there).
  BlockTranslation translate(CodeSource& source, const TranslationTargets& targets, uint32_t guest, uint32_t tc_start,
                        const TranslatorLimits& limits);

 private:
  size_t handle_ = 0;  // Capstone's csh
  void* insn_ = nullptr;
};

// The rel32 of a direct jump at `site` (the cache address of its 4 bytes) made to reach `target`.
int32_t rel32_to(uint32_t site, uint32_t target);

// An exit stub: a UD2 (the call into the VMM that finds or makes the jump's target), then room
// for the JMP rel32 that chaining writes over it. Chaining rewrites the stub, not the block's own
// jump: Unicorn then drops and remakes only its translation of the stub, never the block's
// (which a jump into the middle of a translated block would cost, once per link).
constexpr uint8_t kExitStub[] = {0x0F, 0x0B, 0xCC, 0xCC, 0xCC};  // ud2; int3 x 3 (never reached)
constexpr uint8_t kJmpRel32 = 0xE9;

// The indirect-branch lookup: a direct-mapped table of 2^16 cache addresses indexed by a hash of
// the guest target, computed with instructions that leave the flags alone (no PUSHFD or POPFD,
// whose emulation computes the flags and, for POPFD, ends Unicorn's translated block): LEA, BSWAP
// and MOVZX. The target's low 16 bits alone made return addresses 64 KiB apart share an entry, and
// the hot ones of a fork and exit took turns missing (61 misses a fork in Linux).
constexpr uint32_t kLookupEntries = 1u << 16;
// The entry of guest target t: the low 16 bits of bswap(9t) + t, which bring the target's high
// bytes down onto its low ones (the translator emits the same, kLookupSlotEcx).
inline uint32_t lookup_slot(uint32_t target) {
  return (__builtin_bswap32(target * 9u) + target) & (kLookupEntries - 1);
}

}  // namespace vmm
