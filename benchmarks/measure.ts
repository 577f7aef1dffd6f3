// What one measurement is, shared by the laminate worker, the partd peer
// (partd_bench.py prints the same fields as JSON) and the report.

export interface Measurement {
  /** The stack, as a user would write it: `file()`, `partd.File()`, … */
  store: string;
  workload: string;
  values: number;
  bytes: number;
  /** Seconds spent inside append calls (building each call's batch is not counted). */
  appendSeconds: number;
  /** Seconds spent inside get calls, one get per key (checking what came back is not counted). */
  getSeconds: number;
  /** Bytes of the store's files after the appends, where the data is on disk. */
  diskBytes?: number;
  /** True only when every key read back with the expected length and CRC-32. */
  verified: boolean;
  /** Something the reader should know about this row. */
  note?: string;
  /** Why the row has no numbers. */
  error?: string;
}

/** Keeps the faster of two verified runs, phase by phase. */
export function best(a: Measurement | undefined, b: Measurement): Measurement {
  if (!a) return b;
  if (!a.verified) return a;
  if (!b.verified) return b;
  return { ...a, appendSeconds: Math.min(a.appendSeconds, b.appendSeconds), getSeconds: Math.min(a.getSeconds, b.getSeconds) };
}

export function now(): number {
  return performance.now() / 1000;
}
