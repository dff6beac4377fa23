// The guest's privileged state as the guest believes it: what a trap-and-emulate VMM keeps in
// software because the real registers belong to the VMM (shadow CR3, real GDT, real TSS).
import type { DescriptorTableRegister } from '../../x86/descriptor.js';
import { isNullSelector, selectorRpl, withRpl } from '../../x86/selector.js';

/** Where the guest's CR2 and CR3 live once the native core runs the guest. */
export interface ControlRegisterStore {
  guestCr2(): number;
  setGuestCr2(value: number): void;
  guestCr3(): number;
}

export class VirtualCpu {
  cr0 = 0;
  cr4 = 0;
  /** Until the native core runs the guest; afterwards the core keeps CR2 and CR3 (its MOVs and #PF deliveries change them). */
  private loaded = { cr2: 0, cr3: 0 };
  private core: ControlRegisterStore | undefined;

  get cr2(): number {
    return this.core ? this.core.guestCr2() : this.loaded.cr2;
  }

  set cr2(value: number) {
    if (this.core) this.core.setGuestCr2(value >>> 0);
    else this.loaded.cr2 = value;
  }

  get cr3(): number {
    return this.core ? this.core.guestCr3() : this.loaded.cr3;
  }

  set cr3(value: number) {
    if (this.core) throw new Error("the guest's CR3 is the native core's once it runs the guest: load it through configure()");
    this.loaded.cr3 = value;
  }

  /** From now on CR2 and CR3 are the native core's, the one place they change. */
  keepControlRegistersIn(core: ControlRegisterStore): void {
    core.setGuestCr2(this.loaded.cr2);
    this.core = core;
  }

  /** The guest left protected mode: CR2 and CR3 are the CPU's again, as the core last had them. */
  releaseControlRegisters(): void {
    if (!this.core) return;
    this.loaded = { cr2: this.core.guestCr2(), cr3: this.core.guestCr3() };
    this.core = undefined;
  }
  gdtr: DescriptorTableRegister = { base: 0, limit: 0 };
  idtr: DescriptorTableRegister = { base: 0, limit: 0x3ff };
  ldtr = 0;
  tr = 0;
  /** The guest's EFLAGS.NT (the real flag is the VMM's): its IRET returns to the task TR links to. */
  nestedTask = false;
  readonly dr = [0, 0, 0, 0, 0, 0, 0xffff0ff0, 0x400];

  /** Guest ring 0 runs on real ring 1, guest ring 3 on ring 3 (SDM rings 1-2 are not used). */
  static guestCpl(realCs: number): number {
    const rpl = selectorRpl(realCs);
    return rpl === 1 ? 0 : rpl;
  }

  /** The guest's selector for a real one: ring 1 is the guest's ring 0. */
  static guestSelector(realSelector: number): number {
    return selectorRpl(realSelector) === 1 ? withRpl(realSelector, 0) : realSelector;
  }

  /** The real selector for a guest selector: guest ring 0 becomes ring 1. */
  static realSelector(guestSelector: number): number {
    return selectorRpl(guestSelector) === 0 && !isNullSelector(guestSelector) ? withRpl(guestSelector, 1) : guestSelector;
  }
}
