// The CPU the guest sees (Intel SDM Vol. 2A, CPUID): a plain 32-bit P6-class processor that
// advertises only what the emulated CPU and the VMM really provide. No local APIC (leaf 1 EDX
// bit 9) until the VMM emulates one, no hypervisor-specific leaves yet.
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

// Leaf 1 EDX: FPU VME DE PSE TSC MSR PAE MCE CX8 MTRR PGE MCA CMOV PAT PSE36 CLFSH MMX FXSR SSE SSE2.
// Not SEP (bit 11): Unicorn does not carry out SYSENTER/SYSEXIT (its SYSENTER only calls hooks),
// and Linux's vDSO would use them for every system call; without SEP it uses INT 0x80.
const LEAF1_EDX =
  (1 << 0) | (1 << 1) | (1 << 2) | (1 << 3) | (1 << 4) | (1 << 5) | (1 << 6) | (1 << 7) | (1 << 8) |
  (1 << 12) | (1 << 13) | (1 << 14) | (1 << 15) | (1 << 16) | (1 << 17) | (1 << 19) |
  (1 << 23) | (1 << 24) | (1 << 25) | (1 << 26);
const LEAF1_ECX = (1 << 0) | (1 << 9); // SSE3, SSSE3
// Family 6, model 6, stepping 3: what QEMU's qemu32 model reports.
const LEAF1_EAX = (6 << 8) | (6 << 4) | 3;
const LEAF1_EBX = 8 << 8; // CLFLUSH line size 64 bytes, one logical processor, APIC id 0

function ascii4(text: string, at: number): number {
  let v = 0;
  for (let i = 3; i >= 0; i--) v = (v << 8) | (text.charCodeAt(at + i) || 0);
  return v >>> 0;
}

/**
 * Leaf 0x15 (SDM Vol. 2A, "Time Stamp Counter and Nominal Core Crystal Clock"): TSC = crystal ×
 * EBX / EAX. With a 1:1 ratio ECX is the TSC rate itself, so Linux's native_calibrate_tsc() knows
 * the rate without timing the PIT, which port I/O through the VMM cannot do steadily enough.
 */
function tscLeaf(tscHz: number): CpuidResult {
  if (tscHz <= 0 || tscHz > 0xffffffff) return { eax: 0, ebx: 0, ecx: 0, edx: 0 };
  return { eax: 1, ebx: 1, ecx: tscHz >>> 0, edx: 0 };
}

export function cpuid(leaf: number, _subleaf: number, tscHz: number): CpuidResult {
  switch (leaf >>> 0) {
    case 0:
      return { eax: MAX_BASIC_LEAF, ebx: ascii4(VENDOR, 0), edx: ascii4(VENDOR, 4), ecx: ascii4(VENDOR, 8) };
    case 1:
      return { eax: LEAF1_EAX, ebx: LEAF1_EBX, ecx: LEAF1_ECX, edx: LEAF1_EDX >>> 0 };
    case 0x15:
      return tscLeaf(tscHz);
    case 0x80000000:
      return { eax: 0x80000004, ebx: 0, ecx: 0, edx: 0 };
    case 0x80000002:
    case 0x80000003:
    case 0x80000004: {
      const at = (leaf - 0x80000002) * 16;
      return { eax: ascii4(BRAND, at), ebx: ascii4(BRAND, at + 4), ecx: ascii4(BRAND, at + 8), edx: ascii4(BRAND, at + 12) };
    }
    default:
      // Leaves 2-0x14 (caches, topology, extended features) are not modelled: all zeros, which
      // guests read as "nothing to report".
      return { eax: 0, ebx: 0, ecx: 0, edx: 0 };
  }
}
