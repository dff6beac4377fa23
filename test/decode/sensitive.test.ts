import { describe, expect, it } from 'vitest';
import { decodeInstruction } from '../../src/decode/modrm.js';
import { classifyInstruction, type InstructionKind } from '../../src/decode/sensitive.js';

const classify = (hex: string, bits: 16 | 32 = 32) => {
  const d = decodeInstruction(Uint8Array.from(Buffer.from(hex.replace(/\s+/g, ''), 'hex')), bits);
  if (!d) throw new Error(`${hex} did not decode`);
  return classifyInstruction(d);
};

const CASES: Record<InstructionKind, [hex: string, name: string][]> = {
  privileged: [
    ['fa', 'cli'], ['fb', 'sti'], ['f4', 'hlt'],
    ['0f 20 c0', 'mov r32, cr0'], ['0f 22 d8', 'mov cr3, r32'], ['0f 20 e0', 'mov r32, cr4'], ['0f 22 10', 'mov cr2, r32'],
    ['0f 21 f8', 'mov r32, dr7'], ['0f 23 c1', 'mov dr0, r32'],
    ['0f 01 50 04', 'lgdt'], ['0f 01 18', 'lidt'], ['0f 00 d0', 'lldt'], ['0f 00 18', 'ltr'], ['0f 01 f0', 'lmsw'],
    ['0f 06', 'clts'], ['0f 01 3b', 'invlpg'], ['0f 08', 'invd'], ['0f 09', 'wbinvd'],
    ['0f 32', 'rdmsr'], ['0f 30', 'wrmsr'], ['0f 33', 'rdpmc'], ['0f 35', 'sysexit'],
  ],
  io: [
    ['e4 60', 'in'], ['e5 60', 'in'], ['ec', 'in'], ['66 ed', 'in'],
    ['e6 80', 'out'], ['e7 80', 'out'], ['ee', 'out'], ['ef', 'out'],
    ['6c', 'ins'], ['f3 6d', 'ins'], ['6e', 'outs'], ['f3 6f', 'outs'],
  ],
  sensitive: [
    ['9c', 'pushf'], ['9d', 'popf'], ['66 9d', 'popf'], ['cf', 'iret'],
    ['0f 01 00', 'sgdt'], ['0f 01 0d 00 20 00 00', 'sidt'], ['0f 00 c0', 'sldt'], ['0f 00 c8', 'str'], ['0f 01 e0', 'smsw'],
    ['8c c8', 'mov r/m, cs'], ['8c 10', 'mov r/m, ss'], ['0e', 'push cs'], ['16', 'push ss'],
    ['17', 'pop ss'], ['8e d0', 'mov ss, r/m'], ['8e d8', 'mov ds, r/m'], ['8e 20', 'mov fs, r/m'],
    ['0f 02 c1', 'lar'], ['0f 03 06', 'lsl'], ['0f 00 20', 'verr'], ['0f 00 e8', 'verw'],
    ['ea 78 56 34 12 10 00', 'jmp far'], ['9a 78 56 34 12 10 00', 'call far'], ['ff 2d 00 10 00 00', 'jmp far'], ['ff 18', 'call far'],
    ['ca 08 00', 'retf'], ['cb', 'retf'],
    ['cd 80', 'int'], ['cc', 'int3'], ['ce', 'into'], ['0f 34', 'sysenter'],
  ],
  ordinary: [['8c d8', 'mov r/m, ds'], ['8c e0', 'mov r/m, fs'], ['0f 31', 'rdtsc'], ['0f a2', 'cpuid']],
};

describe('classifyInstruction', () => {
  for (const [kind, cases] of Object.entries(CASES)) {
    it.each(cases)(`${kind}: %s is %s`, (hex, name) => {
      const c = classify(hex);
      expect(c).toMatchObject({ kind, name });
      if (kind !== 'ordinary') expect(c.why).toMatch(/SDM Vol\. [23]/);
    });
  }

  it('does not depend on the code size', () => {
    expect(classify('8e d0', 16)).toEqual(classify('8e d0', 32));
    expect(classify('66 9c', 16)).toEqual(classify('9c', 32));
  });

  it('says why the equivalence holes are holes', () => {
    expect(classify('9d').why).toMatch(/leaves IF unchanged when CPL > IOPL/);
    expect(classify('9d').why).toMatch(/IOPL unchanged/);
    expect(classify('9c').why).toMatch(/real IF and IOPL/);
    expect(classify('cf').why).toMatch(/RPL < CPL/);
    expect(classify('0f 01 00').why).toMatch(/GDTR/);
    expect(classify('0f 01 e0').why).toMatch(/CR0/);
    expect(classify('0e').why).toMatch(/RPL is the real CPL/);
    expect(classify('0f 02 c1').why).toMatch(/DPL >= max\(CPL, RPL\)/);
    expect(classify('0f 20 c0').why).toMatch(/#GP\(0\) at CPL > 0/);
    expect(classify('fa').why).toMatch(/CPL > IOPL/);
    expect(classify('ec').why).toMatch(/I\/O permission bitmap/);
  });
});
