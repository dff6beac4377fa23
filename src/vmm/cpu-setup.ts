// Puts a loader's plan into the machine: bytes into RAM, then the CPU state the boot protocol
// promises (real mode at CS:IP, or flat 32-bit protected mode for multiboot, spec §3.2).
import type { LoadPlan } from '../boot/load-plan.js';
import { CR0_ET, CR0_PE } from '../x86/control-registers.js';
import { EFLAGS_FIXED } from '../x86/eflags.js';
import type { NativeVcpu } from './native.js';
import { Reg } from './registers.js';

export function applyLoadPlan(vcpu: NativeVcpu, ram: Uint8Array, plan: LoadPlan): void {
  for (const chunk of plan.chunks) ram.set(chunk.bytes, chunk.guestPhys);
  for (const zero of plan.zeroRanges) ram.fill(0, zero.guestPhys, zero.guestPhys + zero.length);
  // Host writes bypass Unicorn's self-modifying-code tracking (UNICORN-NOTES item 10).
  vcpu.invalidateCode(0, ram.length);

  // IDTR as after RESET (SDM Vol. 3 §9.1.1, Table 9-1): base 0, limit 0xFFFF, so a real-mode
  // guest's IVT at 0 works before it ever loads an IDT.
  vcpu.writeRegister(Reg.idtrBase, 0);
  vcpu.writeRegister(Reg.idtrLimit, 0xffff);
  if (plan.cpuMode === 'real16') {
    vcpu.writeRegister(Reg.cr0, CR0_ET);
  } else {
    if (!plan.gdt) throw new Error('a protected-mode load plan needs a GDT');
    vcpu.writeRegister(Reg.gdtrBase, plan.gdt.base);
    vcpu.writeRegister(Reg.gdtrLimit, plan.gdt.limit);
    vcpu.writeRegister(Reg.cr0, CR0_ET | CR0_PE);
  }
  // In protected mode each selector write loads its descriptor from the GDT just written.
  vcpu.writeRegister(Reg.cs, plan.entry.cs);
  const segments = plan.segments ?? { ds: 0, es: 0, ss: 0, fs: 0, gs: 0 };
  vcpu.writeRegister(Reg.ds, segments.ds);
  vcpu.writeRegister(Reg.es, segments.es);
  vcpu.writeRegister(Reg.fs, segments.fs);
  vcpu.writeRegister(Reg.gs, segments.gs);
  vcpu.writeRegister(Reg.ss, segments.ss);
  vcpu.writeRegister(Reg.eip, plan.entry.eip);
  const r = plan.registers;
  vcpu.writeRegister(Reg.eflags, r.eflags ?? EFLAGS_FIXED);
  for (const name of ['eax', 'ebx', 'ecx', 'edx', 'esi', 'edi', 'esp', 'ebp'] as const) {
    vcpu.writeRegister(Reg[name], r[name] ?? 0);
  }
}
