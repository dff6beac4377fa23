// The architectural state the VMM can read and write, by stable numeric id.
// src/vmm/registers.ts mirrors the ids and names.
#pragma once
#include <cstdint>

#include <unicorn/unicorn.h>

namespace vmm {

enum RegisterId : uint32_t {
  kRegEax, kRegEcx, kRegEdx, kRegEbx, kRegEsp, kRegEbp, kRegEsi, kRegEdi,
  kRegEip, kRegEflags,
  kRegEs, kRegCs, kRegSs, kRegDs, kRegFs, kRegGs,
  kRegCr0, kRegCr2, kRegCr3, kRegCr4,
  kRegGdtrBase, kRegGdtrLimit, kRegIdtrBase, kRegIdtrLimit,
  kRegLdtr, kRegTr,
  kRegDr0, kRegDr1, kRegDr2, kRegDr3, kRegDr6, kRegDr7,
  kRegisterCount,
};

// Returns a Unicorn error code (UC_ERR_OK on success). MSRs go through read_msr/write_msr.
uc_err read_register(uc_engine* uc, uint32_t id, uint64_t* value);
uc_err write_register(uc_engine* uc, uint32_t id, uint64_t value);
uc_err read_msr(uc_engine* uc, uint32_t index, uint64_t* value);
uc_err write_msr(uc_engine* uc, uint32_t index, uint64_t value);

}  // namespace vmm
