#include "registers.h"

namespace vmm {
namespace {

// Plain registers map one to one onto a Unicorn register read as 32 bits.
int plain_unicorn_id(uint32_t id) {
  static const int table[] = {
      UC_X86_REG_EAX, UC_X86_REG_ECX, UC_X86_REG_EDX, UC_X86_REG_EBX, UC_X86_REG_ESP, UC_X86_REG_EBP,
      UC_X86_REG_ESI, UC_X86_REG_EDI, UC_X86_REG_EIP, UC_X86_REG_EFLAGS, UC_X86_REG_ES, UC_X86_REG_CS,
      UC_X86_REG_SS,  UC_X86_REG_DS,  UC_X86_REG_FS,  UC_X86_REG_GS,  UC_X86_REG_CR0, UC_X86_REG_CR2,
      UC_X86_REG_CR3, UC_X86_REG_CR4,
  };
  if (id < sizeof table / sizeof table[0]) return table[id];
  switch (id) {
    case kRegDr0: return UC_X86_REG_DR0;
    case kRegDr1: return UC_X86_REG_DR1;
    case kRegDr2: return UC_X86_REG_DR2;
    case kRegDr3: return UC_X86_REG_DR3;
    case kRegDr6: return UC_X86_REG_DR6;
    case kRegDr7: return UC_X86_REG_DR7;
    default: return -1;
  }
}

int table_register(uint32_t id) {
  switch (id) {
    case kRegGdtrBase: case kRegGdtrLimit: return UC_X86_REG_GDTR;
    case kRegIdtrBase: case kRegIdtrLimit: return UC_X86_REG_IDTR;
    case kRegLdtr: return UC_X86_REG_LDTR;
    case kRegTr: return UC_X86_REG_TR;
    default: return -1;
  }
}

}  // namespace

uc_err read_register(uc_engine* uc, uint32_t id, uint64_t* value) {
  int plain = plain_unicorn_id(id);
  if (plain >= 0) {
    uint32_t v = 0;
    uc_err err = uc_reg_read(uc, plain, &v);
    *value = v;
    return err;
  }
  int table = table_register(id);
  if (table < 0) return UC_ERR_ARG;
  uc_x86_mmr mmr{};
  uc_err err = uc_reg_read(uc, table, &mmr);
  switch (id) {
    case kRegGdtrBase: case kRegIdtrBase: *value = mmr.base; break;
    case kRegGdtrLimit: case kRegIdtrLimit: *value = mmr.limit; break;
    default: *value = mmr.selector; break;
  }
  return err;
}

uc_err write_register(uc_engine* uc, uint32_t id, uint64_t value) {
  int plain = plain_unicorn_id(id);
  if (id == kRegCr2) {
    // Unicorn 2.1.1 stores a CR2 write into CR3 as well (checked: writing CR2 = 0x1234 made
    // CR3 read 0x1234), so CR3 is put back afterwards. Each of the two is a CR3 load, which
    // flushes Unicorn's whole TLB: a CR2 that already holds the value is left alone (every
    // exception exit writes it back, and it almost always still holds it).
    uint32_t cr3 = 0, cr2 = static_cast<uint32_t>(value), current = 0;
    if (uc_reg_read(uc, UC_X86_REG_CR2, &current) == UC_ERR_OK && current == cr2) return UC_ERR_OK;
    uc_reg_read(uc, UC_X86_REG_CR3, &cr3);
    uc_err err = uc_reg_write(uc, UC_X86_REG_CR2, &cr2);
    if (err != UC_ERR_OK) return err;
    return uc_reg_write(uc, UC_X86_REG_CR3, &cr3);
  }
  if (plain >= 0) {
    uint32_t v = static_cast<uint32_t>(value);
    return uc_reg_write(uc, plain, &v);
  }
  int table = table_register(id);
  if (table < 0) return UC_ERR_ARG;
  uc_x86_mmr mmr{};
  uc_err err = uc_reg_read(uc, table, &mmr);
  if (err != UC_ERR_OK) return err;
  switch (id) {
    case kRegGdtrBase: case kRegIdtrBase: mmr.base = value; break;
    case kRegGdtrLimit: case kRegIdtrLimit: mmr.limit = static_cast<uint32_t>(value); break;
    // LDTR and TR are loaded from the GDT like LLDT/LTR would (Unicorn reads the descriptor).
    default: mmr.selector = static_cast<uint16_t>(value); break;
  }
  return uc_reg_write(uc, table, &mmr);
}

uc_err read_msr(uc_engine* uc, uint32_t index, uint64_t* value) {
  uc_x86_msr msr{index, 0};
  uc_err err = uc_reg_read(uc, UC_X86_REG_MSR, &msr);
  *value = msr.value;
  return err;
}

uc_err write_msr(uc_engine* uc, uint32_t index, uint64_t value) {
  uc_x86_msr msr{index, value};
  return uc_reg_write(uc, UC_X86_REG_MSR, &msr);
}

}  // namespace vmm
