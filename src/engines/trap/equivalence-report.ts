// Where a deprivileged guest could observe that it is not on real hardware: x86 is not classically
// virtualisable (Popek & Goldberg 1974; Robin & Irvine 2000 list the sensitive, unprivileged
// instructions). Each site is recorded once, with what differs there.
import { hex } from '../../util/hex.js';

export interface DivergenceSite {
  linear: number;
  instruction: string;
  why: string;
}

export class EquivalenceReport {
  private readonly sites = new Map<number, DivergenceSite>();

  record(site: DivergenceSite): void {
    if (!this.sites.has(site.linear)) this.sites.set(site.linear, site);
  }

  get size(): number {
    return this.sites.size;
  }

  lines(symbolAt?: (linear: number) => string | undefined): string[] {
    return [...this.sites.values()]
      .sort((a, b) => a.linear - b.linear)
      .map((s) => {
        const symbol = symbolAt?.(s.linear);
        return `${hex(s.linear)}${symbol ? ` <${symbol}>` : ''}  ${s.instruction}: ${s.why}`;
      });
  }
}
