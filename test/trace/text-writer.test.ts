import { describe, expect, it } from 'vitest';
import { duration, TextTraceWriter } from '../../src/trace/text-writer.js';
import { EVENTS, insn, Sink, SUMMARY } from './records.js';

describe('text trace writer', () => {
  it('writes one aligned line per instruction and one "--" line per event', () => {
    const sink = new Sink();
    const writer = new TextTraceWriter(sink.write, { withMemory: true });
    // Registers come out in a fixed order whatever order the record lists them in.
    writer.write(insn({ seq: 42, linear: 0x100010, bytes: [0x89, 0xd8], asm: 'mov eax, ebx', symbol: 'kmain+0x10', regs: { eflags: 0x246, eax: 7 } }));
    writer.write(insn({
      seq: 43, linear: 0x100012, bytes: [0xc7, 0x05, 0x00, 0x02, 0x10, 0x00, 0x2a, 0, 0, 0], asm: 'mov dword ptr [0x100200], 0x2a',
      mem: [{ kind: 'write', address: 0x100200, size: 4, value: 42 }],
    }));
    writer.write(insn({
      seq: 44, linear: 0x10001c, bytes: [0xf3, 0x0f, 0x7e, 0x05, 0x00, 0x02, 0x10, 0x00], asm: 'movq xmm0, qword ptr [0x100200]',
      mem: [{ kind: 'read', address: 0x100200, size: 8, value: 0x1122334455667788n }, { kind: 'read', address: 0x100208, size: 1, value: 0x1ff }],
    }));
    writer.write(insn({ seq: 45, linear: 0x7c05, mode: 'real', cs: 0x7c0, eip: 5, bytes: [0xf4], asm: 'hlt' }));
    writer.write(insn({ seq: 100000000, linear: 0x400000, mode: 'paging', cpl: 3, cs: 0x1b, bytes: [0x50], asm: 'push eax', regs: { esp: 0xbffffffc, ss: 0x23 } }));
    for (const event of EVENTS) writer.write(event);
    writer.end(SUMMARY);
    expect(sink.lines).toEqual([
      '#00000042  pm cpl0  0008:00100010 00100010  89 d8                    mov eax, ebx                      kmain+0x10  ; eax=00000007 eflags=00000246',
      '#00000043  pm cpl0  0008:00100012 00100012  c7 05 00 02 10 00 2a ..  mov dword ptr [0x100200], 0x2a    ; [w 00100200 4 = 0000002a]',
      '#00000044  pm cpl0  0008:0010001c 0010001c  f3 0f 7e 05 00 02 10 00  movq xmm0, qword ptr [0x100200]   ; [r 00100200 8 = 1122334455667788] [r 00100208 1 = ff]',
      '#00000045  rm cpl0  07c0:00000005 00007c05  f4                       hlt',
      '#100000000  pg cpl3  001b:00400000 00400000  50                       push eax                          ; esp=bffffffc ss=0023',
      '-- io out port 0x3f8 size 1 value 0x48',
      '-- mmio write address 0xfee000b0 size 4 value 0x0',
      '-- interrupt external vector 0x20',
      '-- interrupt exception vector 0xe error 0x4 cr2 0x00300000',
      '-- cr0 0x00000011 -> 0x80000011 (mode paging)',
      '-- cr3 0x00104000 -> 0x00108000',
      '-- exit timeslice 10.0 ms',
    ]);
  });

  it('leaves memory accesses out without --mem, and end() writes nothing', () => {
    const sink = new Sink();
    const writer = new TextTraceWriter(sink.write, { withMemory: false });
    writer.write(insn({ seq: 0, linear: 0x1000, bytes: [0x8b, 0x03], asm: 'mov eax, dword ptr [ebx]', regs: { eax: 1 }, mem: [{ kind: 'read', address: 0x2000, size: 4, value: 1 }] }));
    const before = sink.text;
    writer.end(SUMMARY);
    expect(sink.text).toBe(before);
    expect(sink.lines).toEqual(['#00000000  pm cpl0  0008:00001000 00001000  8b 03                    mov eax, dword ptr [ebx]          ; eax=00000001']);
  });

  it('formats durations with a unit that keeps them short', () => {
    expect(duration(10_000_000)).toBe('10.0 ms');
    expect(duration(3_200)).toBe('3.2 us');
    expect(duration(850)).toBe('850 ns');
  });
});
