// The native engine-core boundary as TypeScript sees it: a vCPU without a VMM region has no
// engine core (every exception is an exit), and the trap engine's core handles what it claims
// (CLI and STI at guest ring 0) only once the guest is deprivileged.
import { afterEach, describe, expect, it } from 'vitest';
import { nativeCore, type NativeTrapCore, type NativeVcpu } from '../../src/vmm/native.js';
import { Reg } from '../../src/vmm/registers.js';
import { ExitKind, Field } from '../../src/vmm/exit-record.js';
import { GUARD_SLICE_MICROS } from './run-guard.js';

const CODE = 0x1000;
const GDT = 0x500;
const STACK_TOP = 0x8000;
// (Constants spelled here on purpose: the test checks the native core against the SDM.)
const CR0_PE = 1;
const EFLAGS_IF = 1 << 9;
const CLI_STI_HLT = [0xfa, 0xfb, 0xf4];

let vcpu: NativeVcpu | undefined;
afterEach(() => {
  vcpu?.close();
  vcpu = undefined;
});

function newVcpu(withVmmRegion: boolean): NativeVcpu {
  vcpu = new (nativeCore().Vcpu)(1 << 20, undefined, withVmmRegion);
  return vcpu;
}

function trapCore(v: NativeVcpu): NativeTrapCore {
  if (!v.trap) throw new Error('no trap core');
  return v.trap;
}

// A flat ring-0 GDT (null, code 0x08, data 0x10), CLI; STI; HLT at CODE, and the guest entered at
// guest ring 0 (real ring 1) with paging off.
function deprivilege(v: NativeVcpu, code = CLI_STI_HLT): void {
  const ram = new DataView(v.ram);
  ram.setBigUint64(GDT + 8, 0x00cf9a000000ffffn, true);
  ram.setBigUint64(GDT + 16, 0x00cf92000000ffffn, true);
  new Uint8Array(v.ram).set(code, CODE);
  const trap = trapCore(v);
  trap.configure(CR0_PE, 0, 0);
  expect(trap.loadGdt(GDT, 23)).toBe(true);
  trap.enter(0x08 | 1, CODE, 0x2, 0x10 | 1, STACK_TOP);
}

describe('engine cores', () => {
  it('without a VMM region there is no engine core: no trap methods, and exceptions exit', () => {
    const v = newVcpu(false);
    expect(v.trap).toBeUndefined();
    // (The dirty log compares contents instead: test/native/dirty-log-direct.test.ts.)
    expect(v.takeDirtyLog().length).toBe(v.ram.byteLength / 4096 / 8);
    new Uint8Array(v.ram).set([0x0f, 0x0b], CODE); // ud2
    v.writeRegister(Reg.eip, CODE);
    expect(v.run(GUARD_SLICE_MICROS)).toBe(ExitKind.exception);
    expect(new Uint32Array(v.exitRecord)[Field.vector]).toBe(6);
  });

  it('the trap core reports its counters under their names, all zero before the guest runs', () => {
    const v = newVcpu(true);
    expect(trapCore(v).regionBase).toBe(1 << 22); // 1 MiB of RAM, the region 4 MiB aligned above it
    expect(trapCore(v).counters()).toEqual({
      hiddenFaults: 0, trueFaults: 0, shadowPagesBuilt: 0, shadowPoolResets: 0, pageTableWrites: 0, dirtyLogFaults: 0,
      rootSwitches: 0, rootCacheHits: 0, pagesInvalidated: 0, cliInCore: 0, stiInCore: 0, invlpgInCore: 0,
      crReadsInCore: 0, cr3WritesInCore: 0, reflectedInCore: 0, iretInCore: 0, accessFlagInCore: 0,
      pvIretInCore: 0, pvMmuUpdateInCore: 0, pvTlbFlushInCore: 0, pvNewBaseptrInCore: 0, pvRefusedInCore: 0,
      pvUpdateVaMappingInCore: 0, shadowPrefills: 0, pvFastCalls: 0, gdtUnwatchedRefreshes: 0,
    });
  });

  it('the trap core carries out MOV from CR3 and CR4 and MOV to CR3 with the guest\'s values, and leaves CR0 to TypeScript', () => {
    const v = newVcpu(true);
    deprivilege(v, [
      0x0f, 0x20, 0xd8, //       mov eax, cr3
      0x05, 0x00, 0x30, 0x00, 0x00, // add eax, 0x3000
      0x0f, 0x22, 0xd8, //       mov cr3, eax
      0x0f, 0x20, 0xd9, //       mov ecx, cr3
      0x0f, 0x20, 0xe2, //       mov edx, cr4
      0x0f, 0x20, 0xc3, //       mov ebx, cr0   (TypeScript's: an exit)
    ]);
    const record = new Uint32Array(v.exitRecord);
    expect(v.run(GUARD_SLICE_MICROS)).toBe(ExitKind.exception);
    expect(record[Field.vector]).toBe(13);
    expect(record[Field.eip]).toBe(CODE + 17);
    expect(v.readRegister(Reg.ecx)).toBe(0x3000);
    expect(v.readRegister(Reg.edx)).toBe(0);
    expect(trapCore(v).guestCr3()).toBe(0x3000);
    const counters = trapCore(v).counters();
    expect([counters.crReadsInCore, counters.cr3WritesInCore]).toEqual([3, 1]);
  });

  it('the trap core carries out STAC and CLAC (#UD at ring 1) where CPUID offers SMAP, and leaves them #UD elsewhere', () => {
    const STAC_CLAC_STAC_HLT = [0x0f, 0x01, 0xcb, 0x0f, 0x01, 0xca, 0x0f, 0x01, 0xcb, 0xf4];
    const EFLAGS_AC = 1 << 18;
    const offered = newVcpu(true);
    deprivilege(offered, STAC_CLAC_STAC_HLT);
    trapCore(offered).setSmapOffered(true);
    const record = new Uint32Array(offered.exitRecord);
    expect(offered.run(GUARD_SLICE_MICROS)).toBe(ExitKind.exception);
    expect([record[Field.vector], record[Field.eip]]).toEqual([13, CODE + 9]); // the HLT
    expect(offered.readRegister(Reg.eflags) & EFLAGS_AC).toBe(EFLAGS_AC);
    expect(trapCore(offered).counters().accessFlagInCore).toBe(3);
    offered.close();

    const plain = newVcpu(true);
    deprivilege(plain, STAC_CLAC_STAC_HLT);
    const plainRecord = new Uint32Array(plain.exitRecord);
    expect(plain.run(GUARD_SLICE_MICROS)).toBe(ExitKind.exception);
    expect([plainRecord[Field.vector], plainRecord[Field.eip]]).toEqual([6, CODE]);
    expect(trapCore(plain).counters().accessFlagInCore).toBe(0);
  });

  it('the trap core carries out CLI and STI at guest ring 0 and leaves HLT to TypeScript', () => {
    const v = newVcpu(true);
    deprivilege(v);
    const record = new Uint32Array(v.exitRecord);
    expect(v.run(GUARD_SLICE_MICROS)).toBe(ExitKind.exception);
    expect(record[Field.vector]).toBe(13); // HLT at real ring 1
    expect(record[Field.eip]).toBe(CODE + 2);
    expect(record[Field.cs] & 3).toBe(1);
    expect(v.readRegister(Reg.eflags) & EFLAGS_IF).toBe(EFLAGS_IF);
    const counters = trapCore(v).counters();
    expect([counters.cliInCore, counters.stiInCore]).toEqual([1, 1]);
    // (Paging off: the identity shadow was filled by hidden faults, in the core too.)
    expect(counters.hiddenFaults).toBeGreaterThan(0);
  });

  it('STI with an interrupt waiting is left to TypeScript, which opens the interrupt window', () => {
    const v = newVcpu(true);
    deprivilege(v);
    v.setInterruptPending(true);
    const record = new Uint32Array(v.exitRecord);
    expect(v.run(GUARD_SLICE_MICROS)).toBe(ExitKind.exception);
    expect(record[Field.vector]).toBe(13);
    expect(record[Field.eip]).toBe(CODE + 1); // the STI
    const counters = trapCore(v).counters();
    expect([counters.cliInCore, counters.stiInCore]).toEqual([1, 0]);
  });

  it('the trap core carries out INVLPG at guest ring 0, with any 32-bit addressing and segment override', () => {
    const v = newVcpu(true);
    // mov ax, 0x11 ; mov ds, ax ; mov fs, ax (the flat data segment, at ring 1) ;
    // invlpg [eax] ; invlpg fs:[ebx+ecx*4+0x10] ; invlpg [0x12345678] ; hlt
    const code = [0x66, 0xb8, 0x11, 0x00, 0x8e, 0xd8, 0x8e, 0xe0,
      0x0f, 0x01, 0x38, 0x64, 0x0f, 0x01, 0x7c, 0x8b, 0x10, 0x0f, 0x01, 0x3d, 0x78, 0x56, 0x34, 0x12, 0xf4];
    deprivilege(v, code);
    const record = new Uint32Array(v.exitRecord);
    expect(v.run(GUARD_SLICE_MICROS)).toBe(ExitKind.exception);
    expect(record[Field.vector]).toBe(13); // the HLT, at real ring 1
    expect(record[Field.eip]).toBe(CODE + code.length - 1);
    const counters = trapCore(v).counters();
    expect(counters.invlpgInCore).toBe(3);
    expect(counters.pagesInvalidated).toBe(3);
  });
});
