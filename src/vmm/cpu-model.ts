// The CPU models a guest can be given (`vmm boot --cpu MODEL`), in QEMU's vocabulary: `qemu32`,
// the plain P6-class processor every guest gets by default, and `max`, which adds every feature
// the emulated CPU and the engine carry out beyond it. What each feature bit means and how it
// was checked is in cpuid.ts; a model only chooses among those bits.
import { CR4_SMAP, CR4_SMEP } from '../x86/control-registers.js';
import { IA32_EFER, IA32_FMASK, IA32_FS_BASE, IA32_KERNEL_GS_BASE, IA32_STAR, IA32_TSC_AUX } from '../x86/msrs.js';
import { readFileSync } from 'node:fs';
import { CR4_SUPPORTED_BITS } from './cpuid.js';

export const CPU_MODEL_NAMES = ['qemu32', 'max', 'host'] as const;
export type CpuModelName = (typeof CPU_MODEL_NAMES)[number];

/**
 * The features a model may offer beyond qemu32, by the names /proc/cpuinfo and QEMU's `-cpu`
 * use: what decides whether a guest given one model can move to a host with another (VMotion's
 * CPU check), and what a mask (`max,-smap`) takes away so that it can move anywhere (EVC).
 */
export const CPU_FEATURES = ['smep', 'smap', 'rdtscp'] as const;
export type CpuFeature = (typeof CPU_FEATURES)[number];

/** Unicorn's CPU models the emulated CPU decodes and executes as (native/src/vcpu.cc maps them). */
export type EmulatedCpu = 'qemu64' | 'broadwell';

export interface CpuModel {
  readonly name: CpuModelName;
  /** As given: the model and the features taken away (`max,-smap`); what a saved machine keeps. */
  readonly spec: string;
  /** The features it offers beyond qemu32. */
  readonly features: readonly CpuFeature[];
  /**
   * Unicorn's model: its translator decodes an instruction family only if that model has it, and
   * QEMU ignores CR4.SMAP on a model without SMAP.
   */
  readonly emulatedAs: EmulatedCpu;
  /** CPUID leaf 7, subleaf 0, EBX (structured extended features). */
  readonly leaf7Ebx: number;
  /** CPUID leaf 0x80000001, EDX (extended features). */
  readonly extendedEdx: number;
  /** The CR4 bits a MOV to CR4 may set; the rest raise #GP(0) (SDM Vol. 3A §2.5). */
  readonly cr4Bits: number;
  /**
   * Whether the CPU is a 64-bit one, with IA32_EFER and the SYSCALL and segment-base MSRs, though
   * CPUID does not offer long mode or NX to the guest (as a 64-bit CPU under a CPUID mask).
   */
  readonly has64BitMsrs: boolean;
}

/**
 * MSRs this CPU does not have although Unicorn's (a 64-bit QEMU model) carries them out: RDMSR and
 * WRMSR of one raise #GP(0) (SDM Vol. 2B, RDMSR: an unimplemented MSR). A 32-bit CPU has no EFER
 * (it comes with NX or LM), no SYSCALL or segment-base MSRs (with LM); IA32_TSC_AUX comes with
 * RDTSCP.
 */
export function absentMsrs(model: CpuModel): number[] {
  const absent: number[] = [];
  if (!model.has64BitMsrs) {
    absent.push(IA32_EFER);
    for (let index = IA32_STAR; index <= IA32_FMASK; index++) absent.push(index);
    for (let index = IA32_FS_BASE; index <= IA32_KERNEL_GS_BASE; index++) absent.push(index);
  }
  if (!(model.extendedEdx & EXTENDED_EDX_RDTSCP)) absent.push(IA32_TSC_AUX);
  return absent;
}

/** Leaf 7 EBX bit 7: SMEP. Bit 20: SMAP, with STAC and CLAC (SDM Vol. 2A, CPUID, table 3-8). */
export const LEAF7_EBX_SMEP = 1 << 7;
export const LEAF7_EBX_SMAP = 1 << 20;
/** Leaf 0x80000001 EDX bit 27: RDTSCP and IA32_TSC_AUX. */
export const EXTENDED_EDX_RDTSCP = 1 << 27;

export class UnknownCpuModel extends Error {}

/** Where each feature lives in CPUID (and CR4, for the protections). */
const FEATURE_BITS: Record<CpuFeature, { leaf7Ebx?: number; extendedEdx?: number; cr4?: number }> = {
  smep: { leaf7Ebx: LEAF7_EBX_SMEP, cr4: CR4_SMEP },
  smap: { leaf7Ebx: LEAF7_EBX_SMAP, cr4: CR4_SMAP },
  rdtscp: { extendedEdx: EXTENDED_EDX_RDTSCP },
};

/**
 * A model by its spec: `qemu32`, `max` (every feature vmm carries out), `host` (those of max this
 * host's CPU has too, as /proc/cpuinfo lists them), each optionally with features taken away:
 * `max,-smap,-smep`.
 */
export function cpuModel(spec: string): CpuModel {
  const [name, ...masks] = spec.split(',');
  const removed = new Set<CpuFeature>();
  for (const mask of masks) {
    const feature = mask.slice(1);
    if (!mask.startsWith('-') || !(CPU_FEATURES as readonly string[]).includes(feature)) {
      throw new UnknownCpuModel(`invalid CPU feature mask '${mask}' in '${spec}': give -FEATURE, FEATURE one of ${CPU_FEATURES.join(', ')}`);
    }
    removed.add(feature as CpuFeature);
  }
  const base = baseModel(name, spec);
  const features = base.features.filter((f) => !removed.has(f));
  if (features.length === base.features.length) return { ...base, spec: name };
  let { leaf7Ebx, extendedEdx, cr4Bits } = base;
  for (const feature of removed) {
    const bits = FEATURE_BITS[feature];
    leaf7Ebx &= ~(bits.leaf7Ebx ?? 0);
    extendedEdx &= ~(bits.extendedEdx ?? 0);
    cr4Bits &= ~(bits.cr4 ?? 0);
  }
  const canonical = [name, ...CPU_FEATURES.filter((f) => removed.has(f) && base.features.includes(f)).map((f) => `-${f}`)].join(',');
  return { ...base, spec: canonical, features, leaf7Ebx, extendedEdx, cr4Bits };
}

/** The features of `guest` that `host` does not offer: a guest given them cannot move there. */
export function missingFeatures(guest: CpuModel, host: CpuModel): CpuFeature[] {
  return guest.features.filter((f) => !host.features.includes(f));
}

/** The host CPU's feature flags (/proc/cpuinfo), or undefined where there is none to read. */
function hostCpuFlags(): Set<string> | undefined {
  try {
    const flags = /^flags\s*:\s*(.*)$/m.exec(readFileSync('/proc/cpuinfo', 'utf8'))?.[1];
    return flags === undefined ? undefined : new Set(flags.split(/\s+/));
  } catch {
    return undefined;
  }
}

function baseModel(name: string, spec: string): CpuModel {
  switch (name) {
    case 'host': {
      // What max offers, less what the host's CPU lacks: a guest started here can move to any
      // host whose CPU has the same (as VMware's "host" compatibility does).
      const flags = hostCpuFlags();
      const lacking = CPU_FEATURES.filter((f) => flags !== undefined && !flags.has(f));
      const max = cpuModel(['max', ...lacking.map((f) => `-${f}`)].join(','));
      return { ...max, name: 'host', spec: 'host' };
    }
    case 'qemu32':
      // A P6-class 32-bit processor (family 6, model 6).
      return { name, spec: name, features: [], emulatedAs: 'qemu64', leaf7Ebx: 0, extendedEdx: 0, cr4Bits: CR4_SUPPORTED_BITS, has64BitMsrs: false };
    case 'max': {
      // Checked by guests/cpufeatures (rdtscp, and SMEP/SMAP faults) and kvm-unit-tests' smap and
      // tsc tests, under every engine (the deprivileged kernel's CLAC and STAC are carried out by
      // the trap core, its SMEP and SMAP faults told from the shadows' own by the shadow MMU).
      // Broadwell is Unicorn's first model with SMAP; its other extensions (SSSE3, SSE4, AVX, ...)
      // are not advertised: each would need checking as cpuid.ts's bits were.
      return {
        name,
        spec: name,
        features: ['smep', 'smap', 'rdtscp'],
        emulatedAs: 'broadwell',
        leaf7Ebx: LEAF7_EBX_SMEP | LEAF7_EBX_SMAP,
        extendedEdx: EXTENDED_EDX_RDTSCP,
        cr4Bits: CR4_SUPPORTED_BITS | CR4_SMEP | CR4_SMAP,
        // Broadwell is a 64-bit CPU: its EFER is there for guests written for QEMU's `max`, which
        // read it whatever CPUID says (kvm-unit-tests' la57 does), though long mode and NX are not
        // offered (the trap engine's shadows drop XD).
        has64BitMsrs: true,
      };
    }
    default:
      throw new UnknownCpuModel(`unknown CPU model '${spec}'; choose one of ${CPU_MODEL_NAMES.join(', ')}, with -FEATURE masks (${CPU_FEATURES.join(', ')})`);
  }
}
