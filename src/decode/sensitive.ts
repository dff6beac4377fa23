// Which decoded instructions a deprivileged guest kernel (guest ring 0 on real ring 1) needs the
// VMM for. Popek & Goldberg: x86 is virtualisable by trap-and-emulate only if every sensitive
// instruction is privileged; Robin & Irvine (2000) list the x86 instructions that are sensitive but
// do not trap. The classification is static: it assumes protected mode, real CPL 1 or 3, real
// IOPL below CPL (so IOPL-sensitive instructions fault), and CR4.TSD = CR4.PCE = CR4.UMIP = 0.
// Section numbers are the Intel SDM's (Vol. 3A ch. 5 "Protection"; Vol. 2 pages by mnemonic).
import { SREG, type DecodedX86 } from './modrm.js';

export type InstructionKind = 'privileged' | 'sensitive' | 'io' | 'ordinary';

export interface Classification {
  /**
   * privileged: raises #GP at CPL > 0 (or CPL > IOPL), so it traps and the VMM emulates it;
   * io: raises #GP at CPL > IOPL unless the TSS I/O permission bitmap allows the port;
   * sensitive: its result depends on the real CPL, IOPL or system state, and it does not always
   * trap (an equivalence hole; it may also fault where the guest at ring 0 would not);
   * ordinary: behaves the same at every CPL.
   */
  kind: InstructionKind;
  /** Mnemonic with the operands that identify the form, e.g. "mov cr3, r32", "lgdt", "mov r/m, ss". */
  name: string;
  why?: string;
}

/** SDM Vol. 3A §5.9 "Privileged Instructions": #GP(0) unless CPL = 0. */
const privileged = (name: string, page = name.toUpperCase()): Classification => ({
  kind: 'privileged',
  name,
  why: `${name.toUpperCase()} raises #GP(0) at CPL > 0 (SDM Vol. 2 ${page}; Vol. 3A §5.9)`,
});
const sensitive = (name: string, why: string): Classification => ({ kind: 'sensitive', name, why });
const ordinary = (name: string, why?: string): Classification => ({ kind: 'ordinary', name, ...(why ? { why } : {}) });

// IN/OUT/INS/OUTS: Vol. 1 ch. "Input/Output", "I/O Privilege Level" and "I/O Permission Bit Map".
const io = (name: string): Classification => ({
  kind: 'io',
  name,
  why: `${name.toUpperCase()} raises #GP(0) when CPL > IOPL unless the TSS I/O permission bitmap allows every byte of the port (SDM Vol. 2 ${name.toUpperCase()}; Vol. 1 "I/O Permission Bit Map")`,
});

// SGDT/SIDT/SLDT/STR/SMSW: store-only, unprivileged unless CR4.UMIP = 1 (SDM Vol. 2 each page).
const store = (name: string, what: string): Classification =>
  sensitive(name, `${name.toUpperCase()} does not fault at CPL > 0 (CR4.UMIP = 0) and stores the real ${what}, not the guest's (SDM Vol. 2 ${name.toUpperCase()})`);

// LAR/LSL/VERR/VERW: SDM Vol. 3A §5.10 "Pointer Validation".
const pointerCheck = (name: string, what: string): Classification =>
  sensitive(
    name,
    `${name.toUpperCase()} ${what} only if the descriptor's DPL >= max(CPL, RPL) (non-conforming segments), judged against the real CPL, so a DPL 0 descriptor that is valid at ring 0 is reported invalid (ZF = 0) at CPL 1, without a fault (SDM Vol. 3A §5.10)`,
  );

// Far transfers: SDM Vol. 3A §5.8 "Privilege Level Checking When Transferring Program Control".
const farTransfer = (name: string): Classification =>
  sensitive(
    name,
    `${name.toUpperCase()} checks the target selector's RPL and the descriptor's DPL against the real CPL, so a transfer to a DPL 0 code segment from CPL 1 raises #GP where ring 0 would succeed (SDM Vol. 3A §5.8)`,
  );

const SOFTWARE_INTERRUPT_WHY = (name: string) =>
  `${name} raises #GP when the gate's DPL < CPL (a DPL 0 gate at real CPL 1), and a handler in a more privileged ring runs on the stack from the real TSS (SDM Vol. 2 INT n; Vol. 3A §6.12.1.1)`;

const RETF = sensitive(
  'retf',
  "RETF raises #GP when the return CS selector's RPL < the real CPL (a return to the guest kernel's RPL 0 from CPL 1), and a return to an outer ring pops SS:ESP and clears data segment registers by the real CPL (SDM Vol. 2 RET; Vol. 3A §5.8.6)",
);

const BY_OPCODE = new Map<number, Classification>([
  [0xfa, { kind: 'privileged', name: 'cli', why: 'CLI raises #GP(0) when CPL > IOPL in protected mode (SDM Vol. 2 CLI); the VMM keeps the real IOPL below the guest CPL' }],
  [0xfb, { kind: 'privileged', name: 'sti', why: 'STI raises #GP(0) when CPL > IOPL in protected mode (SDM Vol. 2 STI); the VMM keeps the real IOPL below the guest CPL' }],
  [0xf4, privileged('hlt')],
  [0xe4, io('in')], [0xe5, io('in')], [0xec, io('in')], [0xed, io('in')],
  [0xe6, io('out')], [0xe7, io('out')], [0xee, io('out')], [0xef, io('out')],
  [0x6c, io('ins')], [0x6d, io('ins')], [0x6e, io('outs')], [0x6f, io('outs')],
  [0x9c, sensitive('pushf', 'PUSHF does not fault and pushes the real EFLAGS, revealing the real IF and IOPL instead of the guest\'s virtual ones (SDM Vol. 2 PUSHF)')],
  [0x9d, sensitive('popf', 'POPF does not fault at CPL > 0: it silently leaves IOPL unchanged, and leaves IF unchanged when CPL > IOPL (e.g. CPL 1 with IOPL 0), so the guest cannot set or clear IF with it (SDM Vol. 2 POPF)')],
  [0xcf, sensitive('iret', 'IRET at CPL > 0 silently leaves IOPL unchanged and IF unchanged when CPL > IOPL, ignores the VM flag of the image, and raises #GP when the return CS selector\'s RPL < CPL, e.g. returning to the guest kernel\'s RPL 0 from real CPL 1 (SDM Vol. 2 IRET)')],
  [0xcd, sensitive('int', SOFTWARE_INTERRUPT_WHY('INT n'))],
  [0xcc, sensitive('int3', SOFTWARE_INTERRUPT_WHY('INT3'))],
  [0xce, sensitive('into', SOFTWARE_INTERRUPT_WHY('INTO'))],
  [0x0e, sensitive('push cs', 'PUSH CS does not fault and pushes the CS selector whose RPL is the real CPL (1), not the guest\'s 0 (SDM Vol. 3A §5.5)')],
  [0x16, sensitive('push ss', 'PUSH SS does not fault and pushes the SS selector whose RPL is the real CPL (1), not the guest\'s 0 (SDM Vol. 3A §5.5)')],
  [0x17, sensitive('pop ss', 'POP SS raises #GP(selector) unless the selector\'s RPL and the descriptor\'s DPL equal the real CPL, so loading the guest kernel\'s ring 0 stack segment at CPL 1 faults (SDM Vol. 2 POP)')],
  [0xea, farTransfer('jmp far')], [0x9a, farTransfer('call far')],
  [0xca, RETF], [0xcb, RETF],
  [0x0f06, privileged('clts')],
  [0x0f08, privileged('invd')],
  [0x0f09, privileged('wbinvd')],
  [0x0f30, privileged('wrmsr')],
  [0x0f31, ordinary('rdtsc', 'RDTSC raises #GP(0) at CPL > 0 only when CR4.TSD = 1; otherwise it behaves the same at every CPL (SDM Vol. 2 RDTSC)')],
  [0x0f32, privileged('rdmsr')],
  [0x0f33, { kind: 'privileged', name: 'rdpmc', why: 'RDPMC raises #GP(0) at CPL > 0 unless CR4.PCE = 1 (SDM Vol. 2 RDPMC; Vol. 3A §5.9)' }],
  [0x0f34, sensitive('sysenter', 'SYSENTER does not fault at any CPL: it switches to CPL 0 with CS, SS, EIP and ESP from the real IA32_SYSENTER_* MSRs, which are the VMM\'s, not the values the guest wrote (SDM Vol. 2 SYSENTER)')],
  [0x0f35, { kind: 'privileged', name: 'sysexit', why: 'SYSEXIT raises #GP(0) at CPL > 0 (SDM Vol. 2 SYSEXIT)' }],
  [0x0fa2, ordinary('cpuid', 'CPUID is not privileged and behaves the same at every CPL (SDM Vol. 2 CPUID)')],
]);

const GROUP6 = [ // 0F 00 /reg
  store('sldt', 'LDTR selector'),
  store('str', 'task register selector'),
  privileged('lldt'),
  privileged('ltr'),
  pointerCheck('verr', 'reports the segment readable'),
  pointerCheck('verw', 'reports the segment writable'),
];

const GROUP7: (Classification | undefined)[] = [ // 0F 01 /reg
  store('sgdt', 'GDTR base and limit (the VMM\'s GDT)'),
  store('sidt', 'IDTR base and limit (the VMM\'s IDT)'),
  privileged('lgdt', 'LGDT/LIDT'),
  privileged('lidt', 'LGDT/LIDT'),
  store('smsw', 'CR0 bits 0-15 (PE, MP, EM, TS, ET, NE as the VMM set them)'),
  undefined,
  privileged('lmsw'),
  privileged('invlpg'),
];

/** Classifies a decoded instruction; see Classification for what each kind means. */
export function classifyInstruction(d: DecodedX86): Classification {
  const op = d.opcode.length === 2 ? 0x0f00 | d.opcode[1] : d.opcode[0];
  const reg = d.modrm?.reg ?? 0;
  switch (op) {
    case 0x8c: // MOV r/m16, Sreg (SDM Vol. 2 MOV)
      if (reg === 1 || reg === 2)
        return sensitive(`mov r/m, ${SREG[reg]}`, `MOV r/m, ${SREG[reg].toUpperCase()} does not fault and stores the selector whose RPL is the real CPL (1), not the guest's 0 (SDM Vol. 2 MOV; Vol. 3A §5.5)`);
      return ordinary(`mov r/m, ${SREG[reg]}`);
    case 0x8e: // MOV Sreg, r/m16 (SDM Vol. 2 MOV, "Protected Mode Exceptions")
      return reg === 2
        ? sensitive('mov ss, r/m', "MOV SS raises #GP(selector) unless the selector's RPL and the descriptor's DPL equal the real CPL, so loading the guest kernel's ring 0 stack segment at CPL 1 faults (SDM Vol. 2 MOV)")
        : sensitive(`mov ${SREG[reg]}, r/m`, `MOV ${SREG[reg].toUpperCase()} raises #GP(selector) when the data segment's DPL < max(CPL, RPL), judged against the real CPL, so a DPL 0 segment faults at CPL 1 (SDM Vol. 2 MOV)`);
    case 0xff: // FF /3 CALL m16:16/32, FF /5 JMP m16:16/32
      return farTransfer(reg === 3 ? 'call far' : 'jmp far');
    case 0x0f00:
      return GROUP6[reg] ?? ordinary('(invalid 0f 00)');
    case 0x0f01:
      return GROUP7[reg] ?? ordinary('(invalid 0f 01)');
    case 0x0f02:
      return pointerCheck('lar', 'loads the access rights');
    case 0x0f03:
      return pointerCheck('lsl', 'loads the segment limit');
    // MOV to/from CRn/DRn: SDM Vol. 2 "MOV—Move to/from Control Registers" / "... Debug Registers".
    case 0x0f20:
    case 0x0f22:
    case 0x0f21:
    case 0x0f23: {
      const register = `${op & 1 ? 'dr' : 'cr'}${reg}`;
      const name = op & 2 ? `mov ${register}, r32` : `mov r32, ${register}`;
      const page = op & 1 ? 'Debug' : 'Control';
      return { kind: 'privileged', name, why: `MOV to/from ${register.toUpperCase()} raises #GP(0) at CPL > 0 (SDM Vol. 2 MOV—Move to/from ${page} Registers; Vol. 3A §5.9)` };
    }
  }
  return BY_OPCODE.get(op) ?? ordinary(`(opcode ${d.opcode.map((b) => b.toString(16).padStart(2, '0')).join(' ')})`);
}
