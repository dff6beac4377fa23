// The result set of `vmm bench compare`: what one invocation measured, written as JSON and
// read back by `--from` to re-render the reports without re-running. One object per run;
// every report (Markdown, JSON, HTML) is a pure function of it.

/** Bumped when a field changes meaning; `--from` refuses other versions. */
export const COMPARE_SCHEMA = 'vmm-bench-compare/1';

/** A column of the comparison: an engine of `vmm`, or `qemu` (qemu-system-i386, TCG) as an outside reference. */
export type Column = string;

/** The reference column the ratios are taken against. */
export const RATIO_REFERENCE: Column = 'direct';

export interface CompareResults {
  schema: typeof COMPARE_SCHEMA;
  /** ISO 8601, when the run started. */
  date: string;
  /** The command as the user typed it. */
  command: string;
  machine: {
    cpu: string;
    cores: number;
    /** The host TSC rate the guests' cycle counts are converted with. */
    tscHz: number;
    /** os.loadavg() when the run started and when it ended. */
    loadBefore: [number, number, number];
    loadAfter: [number, number, number];
  };
  versions: {
    vmm: string;
    node: string;
    unicorn: string;
    /** First line of `qemu-system-i386 --version`; absent when QEMU is not installed. */
    qemu?: string;
  };
  /** Repetitions per cell (every cell has this many samples unless it failed). */
  repetitions: number;
  /** Columns in display order; `direct` first. */
  columns: Column[];
  benchmarks: BenchmarkResult[];
}

export type BenchmarkKind = 'nano' | 'macro';

export interface BenchmarkResult {
  /** Short name as in the paper's figure: syscall, in, out, cli-sti, popf, call-ret, pgfault, divzero, ptemod, cr3, timer; boot, forkwait, compute, pagefault. */
  name: string;
  kind: BenchmarkKind;
  /** nano: nanoseconds per operation; macro: seconds per workload. */
  unit: 'ns' | 's';
  /** One line: what one operation (or the workload) is. */
  description: string;
  /** One cell per column of CompareResults.columns. */
  cells: Record<Column, Cell>;
}

export type Cell = MeasuredCell | UnmeasuredCell;

export interface MeasuredCell {
  status: 'ok';
  /** Median of samples, in the benchmark's unit. */
  median: number;
  min: number;
  max: number;
  /** One value per repetition, in run order. */
  samples: number[];
  /** VMM exits per operation (nano) or per workload (macro), from the summary line; absent for qemu. */
  exitsPerOp?: number;
  /** Calls from the translation cache into the VMM per operation (bt only). */
  vmmCallsPerOp?: number;
  /** median / the RATIO_REFERENCE column's median; absent when the reference has no number. */
  ratio?: number;
}

export interface UnmeasuredCell {
  /**
   * unfaithful: the engine runs the operation, but not as the hardware would (trap on POPF:
   *   the guest's own check saw IF unchanged), so a number would compare different work;
   * not-applicable: the column cannot run it (qemu on a nanobenchmark: no exit counters, and
   *   its guests would be timed with a different clock);
   * failed: the run did not complete (reason says how).
   */
  status: 'unfaithful' | 'not-applicable' | 'failed';
  reason: string;
}
