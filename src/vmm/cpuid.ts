// The CPU the guest sees (Intel SDM Vol. 2A, CPUID): a plain 32-bit P6-class processor that
// advertises only what the emulated CPU and the VMM really provide. The hypervisor leaves
// (0x40000000 on) belong to the paravirtual interface offered, if any (src/paravirt/kvm).
import { cpuidTextWord } from '../x86/cpuid-text.js';
import { CR4_MCE, CR4_OSFXSR, CR4_OSXMMEXCPT, CR4_PAE, CR4_PCE, CR4_PGE, CR4_PSE, CR4_TSD } from '../x86/control-registers.js';

export interface CpuidResult {
  eax: number;
  ebx: number;
  ecx: number;
  edx: number;
}

const VENDOR = 'GenuineIntel';
const BRAND = 'vmm virtual CPU (Unicorn)';
/** Leaf 0x15 is the highest basic leaf: it states the TSC rate (see tscLeaf). */
const MAX_BASIC_LEAF = 0x15;

// Leaf 1 (SDM Vol. 2A, CPUID, tables 3-10 and 3-11): only bits whose instructions and
// architectural state really work on this CPU under both engines. Unicorn opens its x86 CPU as
// QEMU's "qemu64" model (target/i386/cpu.c: PPRO_FEATURES | MTRR | CLFLUSH | MCA | PSE36, ECX
// SSE3 | CX16), and its instruction decoder follows that model, not what this table says: an
// instruction of a family the model lacks is #UD whatever the guest was told. Each bit below
// was checked by executing its family in guests/cpufeatures under `direct` and `trap`
// (test/e2e/cpu-features.test.ts).
//
// EDX, on:
//   FPU (0), TSC (4), MSR (5), CX8 (8), CMOV (15), MMX (23), FXSR (24), SSE (25), SSE2 (26):
//     executed with their results checked.
//   PSE (3), PAE (6): 4 MiB pages and PAE paging read through aliases; both engines' MMUs
//     (Unicorn's walk, the trap engine's shadows) handle them.
//   MCE (7), PGE (13): the CR4 bits hold; there is no machine check to deliver.
//   MTRR (12): IA32_MTRRCAP reports variable and fixed ranges, the range MSRs hold values.
//   MCA (14): IA32_MCG_CAP reports banks, the bank MSRs read.
//   PAT (16): IA32_PAT reads its power-up value and holds a new one.
//   CLFSH (19): CLFLUSH executes (leaf 1 EBX keeps the 64-byte line size).
//   APIC (9): the local APIC (src/devices/local-apic.ts), while IA32_APIC_BASE enables it (SDM
//     Vol. 3A §11.4.3: the flag reads 0 once software turns the APIC off there).
// EDX, off:
//   VME (1): STI/CLI at ring 3 under CR4.PVI raise #GP; QEMU's TCG has no VME (its VIF helpers
//     are compiled out) and the VMM does not run virtual-8086 mode.
//   DE (2): under `trap`, MOV from DR4 with CR4.DE set returns a value instead of #UD (SDM
//     Vol. 3B 18.2.2): the emulated MOV DRn knows nothing of CR4.DE or I/O breakpoints.
//   SEP (11): Unicorn does not carry out SYSENTER/SYSEXIT (its SYSENTER only calls hooks, then
//     adds the instruction's length to an EIP it has not brought up to date: the probe took a
//     #UD somewhere after it), and Linux's vDSO would use them for every system call; without
//     SEP it uses INT 0x80.
//   PSE36 (17): there is no memory above 4 GiB to map (both engines take PDE bits 13-20 as
//     Unicorn's walker does, so such a page is open bus, never RAM below 4 GiB).
//   DS, ACPI, SS, HTT, TM, PBE (21, 22, 27, 28, 29, 31): not emulated.
const LEAF1_EDX =
  (1 << 0) | (1 << 3) | (1 << 4) | (1 << 5) | (1 << 6) | (1 << 7) | (1 << 8) |
  (1 << 12) | (1 << 13) | (1 << 14) | (1 << 15) | (1 << 16) | (1 << 19) |
  (1 << 23) | (1 << 24) | (1 << 25) | (1 << 26);
// ECX, on: SSE3 (0): HADDPS and LDDQU execute with the right results. TSC-Deadline (24): the
//   local APIC's timer mode (src/devices/local-apic.ts), where the host TSC rate is known.
// ECX, off: SSSE3 (9), SSE4.1 (19), SSE4.2 (20), POPCNT (23), PCLMULQDQ (1), MOVBE (22),
//   AES (25), XSAVE (26), RDRAND (30), MONITOR (3): #UD on this CPU model (a C library that saw
//   SSSE3 chose PSHUFB string routines and the guest stopped). CX16 (13): CMPXCHG16B is a
//   64-bit-mode instruction. The rest (VMX, AVX, x2APIC, ...) are not emulated.
const LEAF1_ECX = 1 << 0;
// Family 6, model 6, stepping 3: what QEMU's qemu32 model reports.
const LEAF1_EAX = (6 << 8) | (6 << 4) | 3;
const LEAF1_EBX = 8 << 8; // CLFLUSH line size 64 bytes, one logical processor, APIC id 0

/**
 * Leaf 0x15 (SDM Vol. 2A, "Time Stamp Counter and Nominal Core Crystal Clock"): TSC = crystal ×
 * EBX / EAX. With a 1:1 ratio ECX is the TSC rate itself, so Linux's native_calibrate_tsc() knows
 * the rate without timing the PIT, which port I/O through the VMM cannot do steadily enough.
 */
function tscLeaf(tscHz: number): CpuidResult {
  if (tscHz <= 0 || tscHz > 0xffffffff) return { eax: 0, ebx: 0, ecx: 0, edx: 0 };
  return { eax: 1, ebx: 1, ecx: tscHz >>> 0, edx: 0 };
}

/**
 * The CR4 bits this CPU has, following what leaf 1 advertises (SDM Vol. 3A §2.5: setting a bit
 * for a feature the processor lacks raises #GP): TSD (TSC), PSE, PAE, MCE, PGE, PCE, OSFXSR
 * (FXSR) and OSXMMEXCPT (SSE). Not VME/PVI, DE, UMIP, or the 64-bit era's bits (LA57, PCIDE,
 * OSXSAVE, SMEP, SMAP, ...). Engines that emulate MOV to CR4 refuse the rest with #GP; under
 * `direct`, where Unicorn would take them, the vCPU refuses them (native/src/direct-cpu-checks.h).
 */
export const CR4_SUPPORTED_BITS =
  CR4_TSD | CR4_PSE | CR4_PAE | CR4_MCE | CR4_PGE | CR4_PCE | CR4_OSFXSR | CR4_OSXMMEXCPT;

/** The bits a CPU model (cpu-model.ts) adds to the leaves below. */
export interface CpuidModel {
  /** Leaf 7, subleaf 0, EBX. */
  readonly leaf7Ebx: number;
  /** Leaf 0x80000001, EDX. */
  readonly extendedEdx: number;
}

/** What the CPUID answers depend on beyond the CPU model. */
export interface CpuidFacts {
  /** The host's TSC rate in Hz (0: unknown), for leaf 0x15. */
  tscHz: number;
  /** The local APIC is globally enabled (IA32_APIC_BASE bit 11). */
  apic: boolean;
  /** The local APIC's timer has TSC-deadline mode (IA32_TSC_DEADLINE). */
  tscDeadline: boolean;
  /** A hypervisor interface is offered (`--pv`): leaf 1 ECX bit 31 says so. */
  hypervisor: boolean;
}

const LEAF1_EDX_APIC = 1 << 9;
/**
 * Leaf 1 ECX bit 31, which Intel and AMD leave to hypervisors: set only when the VMM offers a
 * paravirtual interface (`--pv`); otherwise the guest is told it runs on hardware. Guests look
 * for the hypervisor's leaves at 0x40000000 only with it set.
 */
const LEAF1_ECX_HYPERVISOR = 1 << 31;
/** Leaf 1 ECX bit 24: the local APIC timer's TSC-deadline mode (SDM Vol. 3A §11.5.4.1). */
const LEAF1_ECX_TSC_DEADLINE = 1 << 24;

export function cpuid(leaf: number, subleaf: number, facts: CpuidFacts, model: CpuidModel): CpuidResult {
  const { tscHz } = facts;
  switch (leaf >>> 0) {
    case 0:
      return { eax: MAX_BASIC_LEAF, ebx: cpuidTextWord(VENDOR, 0), edx: cpuidTextWord(VENDOR, 4), ecx: cpuidTextWord(VENDOR, 8) };
    case 1:
      return { eax: LEAF1_EAX, ebx: LEAF1_EBX, ecx: (LEAF1_ECX | (facts.tscDeadline ? LEAF1_ECX_TSC_DEADLINE : 0) | (facts.hypervisor ? LEAF1_ECX_HYPERVISOR : 0)) >>> 0, edx: (LEAF1_EDX | (facts.apic ? LEAF1_EDX_APIC : 0)) >>> 0 };
    case 7:
      // Structured extended features (SDM Vol. 2A, CPUID, table 3-8): subleaf 0 only (EAX = 0).
      return { eax: 0, ebx: subleaf === 0 ? model.leaf7Ebx >>> 0 : 0, ecx: 0, edx: 0 };
    case 0x15:
      return tscLeaf(tscHz);
    case 0x80000000:
      return { eax: 0x80000004, ebx: 0, ecx: 0, edx: 0 };
    case 0x80000001:
      // Extended features (SDM Vol. 2A, CPUID, table 3-8): off but for what the model adds. NX (EDX 20): Unicorn's MMU
      // honours EFER.NXE, but the trap engine's shadow page tables drop the XD bit, so a page
      // the guest made non-executable runs there. LM (29), SYSCALL (11), LAHF-SAHF (ECX 0):
      // 64-bit mode, which a 32-bit VMM does not run. RDTSCP (27) where the model has it.
      return { eax: 0, ebx: 0, ecx: 0, edx: model.extendedEdx >>> 0 };
    case 0x80000002:
    case 0x80000003:
    case 0x80000004: {
      const at = (leaf - 0x80000002) * 16;
      return { eax: cpuidTextWord(BRAND, at), ebx: cpuidTextWord(BRAND, at + 4), ecx: cpuidTextWord(BRAND, at + 8), edx: cpuidTextWord(BRAND, at + 12) };
    }
    default:
      // Leaves 2-0x14 but 7 (caches, topology, ...) are not modelled: all zeros, which
      // guests read as "nothing to report".
      return { eax: 0, ebx: 0, ecx: 0, edx: 0 };
  }
}
