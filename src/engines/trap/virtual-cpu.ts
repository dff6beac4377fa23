// The guest's privileged state as the guest believes it: what a trap-and-emulate VMM keeps in
// software because the real registers belong to the VMM (shadow CR3, real GDT, real TSS).
export interface DescriptorTable {
  base: number;
  limit: number;
}

export class VirtualCpu {
  cr0 = 0;
  cr2 = 0;
  cr3 = 0;
  cr4 = 0;
  gdtr: DescriptorTable = { base: 0, limit: 0 };
  idtr: DescriptorTable = { base: 0, limit: 0x3ff };
  ldtr = 0;
  tr = 0;
  readonly dr = [0, 0, 0, 0, 0, 0, 0xffff0ff0, 0x400];

  /** Guest ring 0 runs on real ring 1, guest ring 3 on ring 3 (SDM rings 1-2 are not used). */
  static guestCpl(realCs: number): number {
    return (realCs & 3) === 1 ? 0 : realCs & 3;
  }

  /** The real selector for a guest selector: guest ring 0 becomes ring 1. */
  static realSelector(guestSelector: number): number {
    return (guestSelector & 3) === 0 && guestSelector > 3 ? guestSelector | 1 : guestSelector;
  }
}
