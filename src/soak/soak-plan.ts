// Which guest runs under which engine, in what order: the runs shared out by the guests' weights,
// every guest under every engine at least once, and the kinds interleaved so that different
// guests (and the same guest under different engines) run side by side.

export interface PlannedRun {
  /** 1-based position in the soak. */
  index: number;
  guest: string;
  engine: string;
}

export interface PlanGuest {
  name: string;
  weight: number;
  /** A paravirtual kernel: it runs under the paravirtual engines only, and they run nothing else. */
  paravirtual?: boolean;
}

/** Whether `guest` runs under `engine`; `paravirtualEngine` says which engines run only paravirtual kernels. */
export function runsUnder(guest: PlanGuest, engine: string, paravirtualEngine: (engine: string) => boolean): boolean {
  return (guest.paravirtual === true) === paravirtualEngine(engine);
}

/** Runs per (guest, engine) cell, in cell order (guests outer, engines inner). */
export function runsPerCell(guests: readonly PlanGuest[], engines: readonly string[], total: number, paravirtualEngine: (engine: string) => boolean = () => false): number[] {
  // A cell whose guest cannot run under its engine gets no runs.
  const weights = guests.flatMap((guest) => engines.map((engine) => (runsUnder(guest, engine, paravirtualEngine) ? guest.weight : 0)));
  const live = weights.filter((weight) => weight > 0).length;
  // Fewer runs than cells: one run each for the first cells, which cover every engine first.
  if (total <= live) {
    let given = 0;
    return weights.map((weight) => (weight > 0 && given < total ? (given++, 1) : 0));
  }
  const sum = weights.reduce((a, b) => a + b, 0);
  const quota = weights.map((weight) => (total * weight) / sum);
  const counts = quota.map((q, i) => (weights[i] === 0 ? 0 : Math.max(1, Math.floor(q))));
  // Largest remainder: the cells furthest below their share get the runs left over; when the
  // minimum of one pushed the sum over, the cells furthest above theirs give runs back.
  let assigned = counts.reduce((a, b) => a + b, 0);
  while (assigned < total) {
    const i = argmax(quota.map((q, j) => (weights[j] === 0 ? -Infinity : q - counts[j])));
    counts[i]++;
    assigned++;
  }
  while (assigned > total) {
    const i = argmax(quota.map((q, j) => (counts[j] > 1 ? counts[j] - q : -Infinity)));
    counts[i]--;
    assigned--;
  }
  return counts;
}

function argmax(values: readonly number[]): number {
  let best = 0;
  for (let i = 1; i < values.length; i++) if (values[i] > values[best]) best = i;
  return best;
}

/**
 * The runs in order: each cell's k-th of n runs sits at (k + 1/2) / n of the way through the
 * soak, so a cell's runs are spread out evenly and rare ones (Linux) do not all come at the end.
 */
export function planRuns(guests: readonly PlanGuest[], engines: readonly string[], total: number, paravirtualEngine: (engine: string) => boolean = () => false): PlannedRun[] {
  const counts = runsPerCell(guests, engines, total, paravirtualEngine);
  const slots: { at: number; cell: number; guest: string; engine: string }[] = [];
  guests.forEach((guest, g) =>
    engines.forEach((engine, e) => {
      const cell = g * engines.length + e;
      for (let k = 0; k < counts[cell]; k++) slots.push({ at: (k + 0.5) / counts[cell], cell, guest: guest.name, engine });
    }),
  );
  slots.sort((a, b) => a.at - b.at || a.cell - b.cell);
  return slots.map((slot, i) => ({ index: i + 1, guest: slot.guest, engine: slot.engine }));
}
