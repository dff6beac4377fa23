// A run expected to end by itself (HLT, an exception, an exit of the engine core) still gets a
// time slice: if it does not end, the test sees a timeslice exit and fails, where a run without
// one would keep its worker (and so the whole suite) inside a native call that never returns.
export const GUARD_SLICE_MICROS = 20_000_000;
