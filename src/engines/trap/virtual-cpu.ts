// The guest's privileged state as the guest believes it: what a trap-and-emulate VMM keeps in
// software because the real registers belong to the VMM (shadow CR3, real GDT, real TSS).
import type { DescriptorTableRegister } from '../../x86/descriptor.js';
import { isNullSelector, selectorRpl, withRpl } from '../../x86/selector.js';

export class VirtualCpu {
  cr0 = 0;
  cr2 = 0;
  cr4 = 0;
  /** Until the native core runs the guest: afterwards the core keeps CR3 (it carries out MOV to CR3). */
  private loadedCr3 = 0;
  private cr3Reader: (() => number) | undefined;

  get cr3(): number {
    return this.cr3Reader ? this.cr3Reader() : this.loadedCr3;
  }

  set cr3(value: number) {
    if (this.cr3Reader) throw new Error('the guest CR3 is the native core\'s once it runs the guest: load it through configure()');
    this.loadedCr3 = value;
  }

  /** From now on CR3 is read from the native core, the one place it changes. */
  readCr3From(reader: () => number): void {
    this.cr3Reader = reader;
  }
  gdtr: DescriptorTableRegister = { base: 0, limit: 0 };
  idtr: DescriptorTableRegister = { base: 0, limit: 0x3ff };
  ldtr = 0;
  tr = 0;
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
