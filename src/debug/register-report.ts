// `monitor info registers`: the guest's registers with the system state a kernel developer
// looks at first (after QEMU's `info registers`): EFLAGS decoded, CPL, the CPU mode, control and
// descriptor-table registers.
import { hex } from '../util/hex.js';
import { CR0_PE, CR0_PG, CR4_PAE, CR4_PSE } from '../x86/control-registers.js';
import {
  EFLAGS_AF, EFLAGS_CF, EFLAGS_DF, EFLAGS_IF, EFLAGS_IOPL, EFLAGS_NT, EFLAGS_OF, EFLAGS_PF, EFLAGS_RF, EFLAGS_SF,
  EFLAGS_TF, EFLAGS_VM, EFLAGS_ZF,
} from '../x86/eflags.js';
import { selectorRpl } from '../x86/selector.js';
import type { GuestRegisters } from './debug-target.js';

const FLAG_NAMES: [number, string][] = [
  [EFLAGS_CF, 'CF'], [EFLAGS_PF, 'PF'], [EFLAGS_AF, 'AF'], [EFLAGS_ZF, 'ZF'], [EFLAGS_SF, 'SF'], [EFLAGS_TF, 'TF'],
  [EFLAGS_IF, 'IF'], [EFLAGS_DF, 'DF'], [EFLAGS_OF, 'OF'], [EFLAGS_NT, 'NT'], [EFLAGS_RF, 'RF'], [EFLAGS_VM, 'VM'],
];

export function describeRegisters(r: GuestRegisters, engine: string): string {
  const flags = FLAG_NAMES.filter(([bit]) => r.eflags & bit).map(([, name]) => name);
  const iopl = (r.eflags & EFLAGS_IOPL) >>> 12;
  const protectedMode = (r.cr0 & CR0_PE) !== 0;
  const cpl = protectedMode ? selectorRpl(r.cs) : 0;
  const paging = !(r.cr0 & CR0_PG) ? 'off' : r.cr4 & CR4_PAE ? 'PAE' : r.cr4 & CR4_PSE ? '32-bit with 4 MiB pages' : '32-bit';
  const mode = !protectedMode ? 'real mode' : r.eflags & EFLAGS_VM ? 'virtual-8086 mode' : 'protected mode';
  return [
    `EAX=${hex(r.eax)} EBX=${hex(r.ebx)} ECX=${hex(r.ecx)} EDX=${hex(r.edx)}`,
    `ESI=${hex(r.esi)} EDI=${hex(r.edi)} EBP=${hex(r.ebp)} ESP=${hex(r.esp)}`,
    `EIP=${hex(r.eip)} EFL=${hex(r.eflags)} [${flags.join(' ')}] IOPL=${iopl} CPL=${cpl}`,
    `CS=${hex(r.cs, 4)} SS=${hex(r.ss, 4)} DS=${hex(r.ds, 4)} ES=${hex(r.es, 4)} FS=${hex(r.fs, 4)} GS=${hex(r.gs, 4)}`,
    `LDTR=${hex(r.ldtr, 4)} TR=${hex(r.tr, 4)}`,
    `GDT=${hex(r.gdtrBase)} limit ${hex(r.gdtrLimit, 4)}  IDT=${hex(r.idtrBase)} limit ${hex(r.idtrLimit, 4)}`,
    `CR0=${hex(r.cr0)} CR2=${hex(r.cr2)} CR3=${hex(r.cr3)} CR4=${hex(r.cr4)}`,
    `${mode}, paging ${paging}; the guest's view under engine ${engine}`,
    '',
  ].join('\n');
}
