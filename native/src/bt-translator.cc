#include "bt-translator.h"

#include <capstone/capstone.h>

#include <cstring>

#include "modrm.h"
#include "x86.h"

namespace vmm {
namespace {

// One decoded guest instruction, as far as the translator looks at it.
struct GuestInsn {
  uint32_t pc = 0;
  uint8_t bytes[kMaxInstructionLength] = {};
  uint32_t length = 0;
  uint32_t prefixes = 0;  // bytes of legacy prefixes
  bool operand16 = false;
  bool address16 = false;
  uint8_t op = 0;       // the opcode byte after the prefixes
  uint8_t op2 = 0;      // the second byte when op is 0x0F
  uint8_t modrm = 0;    // the byte after the opcode (one-byte opcodes) or after 0F xx
  uint32_t next() const { return pc + length; }
  uint32_t reg() const { return (modrm >> 3) & 7; }
  uint32_t mod() const { return modrm >> 6; }
  int32_t rel8() const { return static_cast<int8_t>(bytes[length - 1]); }
  int32_t rel32() const {
    int32_t v;
    std::memcpy(&v, bytes + length - 4, 4);
    return v;
  }
};

class Emitter {
 public:
  explicit Emitter(uint32_t base, std::vector<uint8_t>& out) : base_(base), out_(out) {}
  uint32_t here() const { return base_ + static_cast<uint32_t>(out_.size()); }
  void u8(uint8_t b) { out_.push_back(b); }
  void raw(std::initializer_list<uint8_t> bytes) { out_.insert(out_.end(), bytes); }
  void raw(const uint8_t* bytes, uint32_t n) { out_.insert(out_.end(), bytes, bytes + n); }
  void u32(uint32_t v) {
    for (int i = 0; i < 4; i++) out_.push_back(static_cast<uint8_t>(v >> (8 * i)));
  }
  void patch32(uint32_t at, uint32_t v) { std::memcpy(out_.data() + (at - base_), &v, 4); }

 private:
  uint32_t base_;
  std::vector<uint8_t>& out_;
};

// x86 bytes the translator emits (SDM Vol. 2 opcode maps).
constexpr uint8_t kXchgEaxTop[] = {0x87, 0x04, 0x24};          // xchg [esp], eax
constexpr uint8_t kPushTop[] = {0xFF, 0x34, 0x24};             // push dword [esp]
constexpr uint8_t kLeaEaxMinusIoplOne[] = {0x8D, 0x80, 0x00, 0xF0, 0xFF, 0xFF};  // lea eax, [eax - 0x1000]
constexpr uint8_t kUd2[] = {0x0F, 0x0B};
constexpr uint8_t kPushfd = 0x9C;
constexpr uint8_t kPushEcx = 0x51;
// lookup_slot(eax) into ecx, the flags untouched.
constexpr uint8_t kLookupSlotEcx[] = {
    0x8D, 0x0C, 0xC0,  // lea ecx, [eax + eax*8]
    0x0F, 0xC9,        // bswap ecx
    0x8D, 0x0C, 0x01,  // lea ecx, [ecx + eax]
    0x0F, 0xB7, 0xC9,  // movzx ecx, cx
};
constexpr uint8_t kJmpTableEcx[] = {0xFF, 0x24, 0x8D};           // jmp [ecx*4 + disp32]
constexpr uint8_t kPushImm32 = 0x68;
constexpr uint8_t kCpuid[] = {0x0F, 0xA2};
constexpr uint8_t kJmpAbsolute[] = {0xFF, 0x25};                 // jmp [disp32]

enum class Kind {
  kIdent, kIdentEnd, kTrapping, kJump, kJcc, kLoop, kCall, kCallIndirect, kJumpIndirect, kReturn, kReturnImm, kPushf,
  kSelector,  // PUSH CS/SS, MOV r32, CS/SS: the real selector, its RPL 1 made the guest's 0
  kSegmentLoad,  // loads DS, ES, FS or GS from the GDT: the real one must have the guest's descriptors
  kEmulate,
};

Kind classify(const GuestInsn& i) {
  const uint8_t op = i.op;
  // Near control flow with a 16-bit operand size truncates EIP to 16 bits: the VMM's business.
  bool near_branch = op == 0xE8 || op == 0xE9 || op == 0xEB || (op >= 0x70 && op <= 0x7F) || op == 0xC3 || op == 0xC2 ||
                     (op >= 0xE0 && op <= 0xE3) || (op == 0x0F && i.op2 >= 0x80 && i.op2 <= 0x8F) ||
                     (op == 0xFF && (i.reg() == 2 || i.reg() == 4));
  if (near_branch && i.operand16) return Kind::kEmulate;
  switch (op) {
    case 0xEB: case 0xE9: return Kind::kJump;
    case 0xE8: return Kind::kCall;
    case 0xE0: case 0xE1: case 0xE2: case 0xE3: return Kind::kLoop;
    case 0xC3: return Kind::kReturn;
    case 0xC2: return Kind::kReturnImm;
    case 0xCF: return Kind::kEmulate;                     // IRET
    case 0x9A: return Kind::kIdentEnd;                    // CALL ptr16:32: out to a guest address
    case 0x9C: return i.operand16 ? Kind::kEmulate : Kind::kPushf;
    case 0x0E: case 0x16:                                 // PUSH CS, PUSH SS: RPL 1 at ring 1
      return i.prefixes == 0 ? Kind::kSelector : Kind::kEmulate;
    case 0x8C:                                            // MOV r/m, CS/SS
      if (i.reg() != 1 && i.reg() != 2) return Kind::kIdent;
      return i.mod() == 3 && (i.modrm & 7) != 4 && (i.prefixes == 0 || (i.prefixes == 1 && i.operand16)) ? Kind::kSelector : Kind::kEmulate;
    case 0x8E: return i.reg() == 2 ? Kind::kTrapping : Kind::kSegmentLoad;  // MOV SS (traps), MOV Sreg, r/m
    case 0x17: return Kind::kTrapping;                    // POP SS
    case 0x07: case 0x1F: return Kind::kSegmentLoad;      // POP ES, POP DS
    case 0xC4: case 0xC5: return i.mod() == 3 ? Kind::kIdent : Kind::kSegmentLoad;  // LES, LDS
    case 0xF4: return Kind::kTrapping;                    // HLT
    case 0xCC: case 0xCD: case 0xCE: case 0xF1:           // INT3, INT n, INTO, INT1
    case 0xEA: case 0xCA: case 0xCB:                      // far JMP and RET: out to a guest address
      return Kind::kIdentEnd;
    case 0xFF:
      switch (i.reg()) {
        case 2: return Kind::kCallIndirect;
        case 3: return Kind::kIdentEnd;                   // CALL m16:32
        case 4: return Kind::kJumpIndirect;
        case 5: return Kind::kIdentEnd;                   // JMP m16:32
        default: return Kind::kIdent;
      }
    case 0x0F:
      if (i.op2 >= 0x80 && i.op2 <= 0x8F) return Kind::kJcc;
      switch (i.op2) {
        case 0x00:  // SLDT, STR, VERR, VERW show ring 1; LLDT, LTR trap
          if (i.reg() == 2 || i.reg() == 3) return Kind::kTrapping;
          if (i.reg() <= 1 || i.reg() == 4 || i.reg() == 5) return Kind::kEmulate;
          return Kind::kIdentEnd;
        case 0x01:
          if (i.mod() != 3 && (i.reg() == 0 || i.reg() == 1)) return Kind::kEmulate;  // SGDT, SIDT
          if (i.reg() == 4) return Kind::kEmulate;                                      // SMSW
          return Kind::kTrapping;  // LGDT, LIDT, LMSW, INVLPG, and the 0F 01 register forms
        case 0x02: case 0x03: return Kind::kEmulate;     // LAR, LSL: the descriptor's DPL and cut limit
        case 0x06: case 0x08: case 0x09:                  // CLTS, INVD, WBINVD
        case 0x20: case 0x21: case 0x22: case 0x23:       // MOV to/from CRn, DRn
        case 0x30: case 0x32: case 0x33:                  // WRMSR, RDMSR, RDPMC
        case 0x05: case 0x07: case 0xAA:                  // SYSCALL, SYSRET, RSM
          return Kind::kTrapping;
        case 0x34: case 0x35:  // SYSENTER, SYSEXIT: Unicorn's own only moves EIP (from a stale value)
          return Kind::kEmulate;
        case 0x0B: case 0xB9: case 0xFF:                  // UD2, UD1, UD0
          return Kind::kIdentEnd;
        case 0xA1: case 0xA9: case 0xB4: case 0xB5:       // POP FS, POP GS, LFS, LGS
          return Kind::kSegmentLoad;
        default:
          return Kind::kIdent;
      }
    default:
      if (op >= 0x70 && op <= 0x7F) return Kind::kJcc;
      return Kind::kIdent;
  }
}

// Far CALL (CALL ptr16:32, CALL m16:32): it pushes the return address where the guest can see it.
bool is_far_call(const GuestInsn& i) {
  return i.op == 0x9A || (i.op == 0xFF && i.reg() == 3);
}

// Far JMP, far RET and far CALL: control goes to a guest address through the GDT, not through
// the translation.
bool is_far_transfer(const GuestInsn& i) {
  return i.op == 0xEA || i.op == 0xCA || i.op == 0xCB || (i.op == 0xFF && i.reg() == 5) || is_far_call(i);
}

// Whether the VMM's core may carry the instruction out in a fast call (BtCore::fast_call): the
// forms its handlers take (trap-core.h, bt-core.h); any other form there takes the slow way.
bool core_may_carry_out(const GuestInsn& i) {
  if (i.op == 0xCF) return !i.operand16;                                     // IRET
  if (i.op != 0x0F) return false;
  if (i.op2 == 0x20 || i.op2 == 0x22) return true;                           // MOV r32, CRn; MOV CRn, r32
  if (i.op2 == 0x01) return i.mod() != 3 && i.reg() == 7;                    // INVLPG m
  if (i.op2 == 0x00) return i.reg() == 4 || i.reg() == 5;                    // VERR, VERW
  return false;
}

Rewrite rewrite_of(Kind kind) {
  switch (kind) {
    case Kind::kIdent: case Kind::kIdentEnd: return Rewrite::kIdent;
    case Kind::kTrapping: return Rewrite::kTrapping;
    case Kind::kJump: return Rewrite::kJump;
    case Kind::kJcc: case Kind::kLoop: return Rewrite::kBranch;
    case Kind::kCall: return Rewrite::kCall;
    case Kind::kCallIndirect: return Rewrite::kCallIndirect;
    case Kind::kJumpIndirect: return Rewrite::kJumpIndirect;
    case Kind::kReturn: case Kind::kReturnImm: return Rewrite::kReturn;
    case Kind::kPushf: return Rewrite::kPushf;
    case Kind::kSelector: return Rewrite::kSelector;
    case Kind::kSegmentLoad: return Rewrite::kSegmentLoad;
    case Kind::kEmulate: return Rewrite::kEmulate;
  }
  return Rewrite::kIdent;
}

}  // namespace

const char* rewrite_name(Rewrite kind) {
  switch (kind) {
    case Rewrite::kIdent: return "ident";
    case Rewrite::kTrapping: return "trapping";
    case Rewrite::kJump: return "jmp";
    case Rewrite::kBranch: return "jcc";
    case Rewrite::kCall: return "call";
    case Rewrite::kCallIndirect: return "call-indirect";
    case Rewrite::kJumpIndirect: return "jmp-indirect";
    case Rewrite::kReturn: return "ret";
    case Rewrite::kPushf: return "pushf";
    case Rewrite::kSelector: return "selector";
    case Rewrite::kSegmentLoad: return "segment-load";
    case Rewrite::kEmulate: return "vmm-call";
    case Rewrite::kCount: break;
  }
  return "?";
}

int32_t rel32_to(uint32_t site, uint32_t target) { return static_cast<int32_t>(target - (site + 4)); }

Translator::Translator() {
  csh handle = 0;
  if (cs_open(CS_ARCH_X86, CS_MODE_32, &handle) != CS_ERR_OK) return;
  handle_ = handle;
  insn_ = cs_malloc(handle);
}

Translator::~Translator() {
  if (insn_) cs_free(static_cast<cs_insn*>(insn_), 1);
  if (handle_) {
    csh handle = handle_;
    cs_close(&handle);
  }
}

BlockTranslation Translator::translate(CodeSource& source, const TranslationTargets& targets, uint32_t guest, uint32_t tc_start,
                                  const TranslatorLimits& limits) {
  BlockTranslation t;
  t.guest_start = guest;
  Emitter e(tc_start, t.code);
  struct PendingExit {
    uint32_t site;
    uint32_t target;
  };
  std::vector<PendingExit> exits;
  // A direct jump (opcode bytes already emitted) to the translation of `target`: straight there
  // when it exists (a chain link), else through an exit stub emitted after the block.
  auto direct = [&](uint32_t target) {
    uint32_t site = e.here();
    e.u32(0);
    exits.push_back({site, target});
  };
  auto precise = [&](uint32_t guest_eip) { t.boundaries.push_back({e.here(), guest_eip, true, false}); };
  // Where the guest instruction at `guest_eip` starts.
  auto starts = [&](uint32_t guest_eip) { t.boundaries.push_back({e.here(), guest_eip, true, true}); };
  auto inside = [&](uint32_t guest_eip) { t.boundaries.push_back({e.here(), guest_eip, false, false}); };
  // A jump that leaves for the translation of guest `target`, a precise point standing for it.
  auto exit_to = [&](uint32_t target) {
    precise(target);
    e.u8(kJmpRel32);
    direct(target);
  };
  // The end of every lookup (eax = target, [esp] the guest's eax): the guest's ecx saved below
  // it, and a jump through the table entry lookup_slot() of the target selects, to the lookup entry
  // of a block (which checks that it is the target's) or to the miss. Nothing here is a guest
  // instruction boundary.
  auto to_lookup = [&](uint32_t guest_eip) {
    inside(guest_eip);
    e.u8(kPushEcx);
    inside(guest_eip);
    e.raw(kLookupSlotEcx, sizeof kLookupSlotEcx);
    inside(guest_eip);
    e.raw(kJmpTableEcx, sizeof kJmpTableEcx);
    e.u32(targets.lookup_table);
  };

  // A fast call for the instruction at `guest_eip`, which goes on at `resume` when it is carried
  // out (0: its handler says where); the slow way follows it, a precise point at the instruction.
  auto fast_call = [&](uint32_t guest_eip, uint32_t resume) {
    starts(guest_eip);
    t.callouts.push_back({e.here(), {CalloutKind::kFastCall, guest_eip, resume}});
    e.raw(kCpuid, sizeof kCpuid);
    inside(guest_eip);
    e.raw(kJmpAbsolute, sizeof kJmpAbsolute);
    e.u32(targets.resume_slot);
    precise(guest_eip);
  };

  uint32_t pc = guest;
  uint32_t first_page = guest & ~(kPageSize - 1);
  bool ended = false;  // the last instruction transferred control: no fall-through jump
  cs_insn* insn = static_cast<cs_insn*>(insn_);
  while (true) {
    if (t.instructions > 0 &&
        (t.instructions >= limits.max_instructions || t.code.size() >= limits.max_code_bytes ||
         (pc & ~(kPageSize - 1)) != first_page || limits.single_instruction)) {
      break;
    }
    GuestInsn i;
    i.pc = pc;
    uint32_t available = source.read(pc, i.bytes, kMaxInstructionLength);
    if (available == 0) break;
    const uint8_t* code = i.bytes;
    size_t size = available;
    uint64_t address = pc;
    if (!handle_ || !cs_disasm_iter(handle_, &code, &size, &address, insn)) break;
    i.length = insn->size;
    while (i.prefixes < i.length && is_legacy_prefix(i.bytes[i.prefixes])) {
      if (i.bytes[i.prefixes] == 0x66) i.operand16 = true;
      if (i.bytes[i.prefixes] == 0x67) i.address16 = true;
      i.prefixes++;
    }
    if (i.prefixes >= i.length) break;
    i.op = i.bytes[i.prefixes];
    uint32_t modrm_at = i.prefixes + 1;
    if (i.op == 0x0F && i.prefixes + 1 < i.length) {
      i.op2 = i.bytes[i.prefixes + 1];
      modrm_at++;
    }
    if (modrm_at < i.length) i.modrm = i.bytes[modrm_at];

    Kind kind = classify(i);
    t.rewrites[static_cast<int>(rewrite_of(kind))]++;
    t.instructions++;
    pc = i.next();
    switch (kind) {
      case Kind::kIdent:
        starts(i.pc);
        e.raw(i.bytes, i.length);
        break;
      case Kind::kIdentEnd:
      case Kind::kTrapping:
        // Copied; it traps or leaves for a guest address. What follows it starts a new block
        // (where the VMM resumes the guest after emulating it).
        if (kind == Kind::kTrapping && targets.resume_slot && core_may_carry_out(i)) {
          // Carried out, it goes on at the jump after the copy.
          fast_call(i.pc, e.here() + kFastCallBytes + i.length);
        } else if (is_far_transfer(i)) {
          // The CPU lands at a guest address, where only the block hook sees the kernel arrive.
          // A fast call carries out the common case (the kernel's own flat code segment); the slow
          // way installs the block hook, then the copy runs. A far CALL always takes the slow way,
          // as under trap: the CPU pushes the return address, CS with the real RPL 1 (Linux's
          // PnP BIOS calls, into 16-bit code that returns with a far RET, run so).
          if (targets.resume_slot && !is_far_call(i)) {
            fast_call(i.pc, 0);
          } else {
            starts(i.pc);
          }
          t.callouts.push_back({e.here(), {CalloutKind::kFarTransfer, i.pc, e.here() + static_cast<uint32_t>(sizeof kUd2)}});
          e.raw(kUd2, sizeof kUd2);
          precise(i.pc);
        } else {
          starts(i.pc);
        }
        e.raw(i.bytes, i.length);
        exit_to(pc);
        ended = true;
        break;
      case Kind::kJump: {
        uint32_t target = i.next() + (i.op == 0xEB ? i.rel8() : i.rel32());
        starts(i.pc);
        e.u8(kJmpRel32);
        direct(target);
        ended = true;
        break;
      }
      case Kind::kJcc: {
        // Branch hints (2E, 3E) are dropped: only the condition and the target matter.
        uint8_t condition = (i.op == 0x0F ? i.op2 : i.op) & 0xF;
        uint32_t target = i.next() + (i.op == 0x0F ? i.rel32() : i.rel8());
        starts(i.pc);
        e.raw({0x0F, static_cast<uint8_t>(0x80 | condition)});
        direct(target);
        exit_to(pc);
        ended = true;
        break;
      }
      case Kind::kLoop: {
        // LOOP, LOOPE, LOOPNE and JECXZ have only an 8-bit form: over two jumps of our own.
        uint32_t target = i.next() + i.rel8();
        starts(i.pc);
        if (i.address16) e.u8(0x67);
        e.raw({i.op, 0x02});        // taken: to the first jump below
        precise(pc);
        e.raw({0xEB, 0x05});        // not taken: over it
        exit_to(target);
        exit_to(pc);
        ended = true;
        break;
      }
      case Kind::kCall: {
        // The guest's own return address is pushed: a guest never sees a cache address.
        uint32_t target = i.next() + i.rel32();
        starts(i.pc);
        e.u8(kPushImm32);
        e.u32(pc);
        exit_to(target);
        ended = true;
        break;
      }
      case Kind::kCallIndirect:
      case Kind::kJumpIndirect: {
        // PUSH r/m (FF /6) evaluates the same operand as CALL/JMP r/m (FF /2, /4), with ESP as it
        // was before the push (SDM Vol. 2 PUSH): the target lands on the stack.
        starts(i.pc);
        uint32_t modrm_offset = i.prefixes + 1;
        uint8_t push[kMaxInstructionLength];
        std::memcpy(push, i.bytes, i.length);
        push[modrm_offset] = static_cast<uint8_t>((push[modrm_offset] & ~0x38) | (6 << 3));
        e.raw(push, i.length);
        inside(i.pc);
        e.raw(kXchgEaxTop, sizeof kXchgEaxTop);  // eax = target, the slot = the guest's eax
        if (kind == Kind::kCallIndirect) {
          // [esp] = eax, [esp+4] = the guest's return address
          inside(i.pc);
          e.raw(kPushTop, sizeof kPushTop);
          inside(i.pc);
          e.raw({0xC7, 0x44, 0x24, 0x04});
          e.u32(pc);
        }
        to_lookup(i.pc);
        ended = true;
        break;
      }
      case Kind::kReturn:
        starts(i.pc);
        e.raw(kXchgEaxTop, sizeof kXchgEaxTop);
        to_lookup(i.pc);
        ended = true;
        break;
      case Kind::kReturnImm: {
        // RET n: the guest's eax is moved above the n bytes the return releases, so that the
        // lookup's pops end with ESP where the guest's RET leaves it.
        uint16_t n;
        std::memcpy(&n, i.bytes + i.length - 2, 2);
        uint32_t skip = uint32_t{n} + 4;
        starts(i.pc);
        e.raw(kXchgEaxTop, sizeof kXchgEaxTop);
        inside(i.pc);
        e.raw({0x8D, 0xA4, 0x24});  // lea esp, [esp + n + 4]
        e.u32(skip);
        inside(i.pc);
        e.raw({0xFF, 0xB4, 0x24});  // push dword [esp - (n + 4)]
        e.u32(static_cast<uint32_t>(-static_cast<int32_t>(skip)));
        to_lookup(i.pc);
        ended = true;
        break;
      }
      case Kind::kPushf:
        // The real IOPL is 1 in the guest kernel (KernelRingFlags); the guest's is 0. The image
        // is fixed with instructions that leave the flags alone.
        starts(i.pc);
        e.u8(kPushfd);
        inside(i.pc);
        e.raw(kXchgEaxTop, sizeof kXchgEaxTop);
        inside(i.pc);
        e.raw(kLeaEaxMinusIoplOne, sizeof kLeaEaxMinusIoplOne);
        inside(i.pc);
        e.raw(kXchgEaxTop, sizeof kXchgEaxTop);
        break;
      case Kind::kSelector:
        // The real CS and SS of the guest kernel have RPL 1 (its ring); the guest's have RPL 0:
        // one less, taken off without touching the flags.
        starts(i.pc);
        e.raw(i.bytes, i.length);
        if (i.op == 0x8C) {
          uint8_t r = i.modrm & 7;
          inside(i.pc);
          if (i.operand16) e.u8(0x66);
          e.raw({0x8D, static_cast<uint8_t>(0x40 | (r << 3) | r), 0xFF});  // lea r, [r - 1]
        } else {
          inside(i.pc);
          e.raw(kXchgEaxTop, sizeof kXchgEaxTop);
          inside(i.pc);
          e.raw({0x8D, 0x40, 0xFF});  // lea eax, [eax - 1]
          inside(i.pc);
          e.raw(kXchgEaxTop, sizeof kXchgEaxTop);
        }
        break;
      case Kind::kSegmentLoad:
        if (targets.gdt_stale == 0) {
          starts(i.pc);
          e.raw(i.bytes, i.length);
          break;
        }
        {
          // The guest edits its GDT in place (TLS descriptors at each context switch); the real
          // one is copied when the VMM gets control after such a write, and before a segment
          // load, through this check: `pushfd; cmp byte [stale], 0; jz +2; ud2; popfd; load`.
          starts(i.pc);
          e.u8(kPushfd);
          inside(i.pc);
          e.raw({0x80, 0x3D});
          e.u32(targets.gdt_stale);
          e.u8(0x00);
          inside(i.pc);
          e.raw({0x74, 0x02});
          inside(i.pc);
          uint32_t callout = e.here();
          e.raw(kUd2, sizeof kUd2);
          inside(i.pc);
          t.callouts.push_back({callout, {CalloutKind::kGdtRefresh, i.pc, e.here()}});
          e.u8(0x9D);  // popfd
          precise(i.pc);
          e.raw(i.bytes, i.length);
        }
        break;
      case Kind::kEmulate:
        if (targets.resume_slot && core_may_carry_out(i)) {
          fast_call(i.pc, 0);
        } else {
          starts(i.pc);
        }
        t.callouts.push_back({e.here(), {CalloutKind::kEmulate, i.pc, 0}});
        e.raw(kUd2, sizeof kUd2);
        ended = true;
        break;
    }
    if (ended) break;
  }
  t.guest_end = pc;
  if (t.instructions == 0) {
    t.code.clear();
    t.boundaries.clear();
    return t;
  }
  if (!ended) exit_to(pc);
  // Exit stubs: one per direct jump, its way back when a chain is undone.
  for (const PendingExit& exit : exits) {
    uint32_t stub = e.here();
    t.boundaries.push_back({stub, exit.target, true, false});
    t.callouts.push_back({stub, {CalloutKind::kDirectExit, exit.target, exit.site}});
    e.raw(kExitStub, sizeof kExitStub);
    uint32_t existing = targets.find(exit.target);
    if (existing) {
      e.patch32(exit.site, static_cast<uint32_t>(rel32_to(exit.site, existing)));
      t.links.push_back({exit.site, exit.target});
    } else {
      e.patch32(exit.site, static_cast<uint32_t>(rel32_to(exit.site, stub)));
    }
  }
  return t;
}

}  // namespace vmm
