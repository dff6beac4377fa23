/** A benchmark that cannot produce a fair figure says why, in one line. */
export class BenchError extends Error {}
