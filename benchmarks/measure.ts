import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

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
  /**
   * Peak resident memory of the process that ran this row, in bytes: the
   * kernel's high-water mark when the row had its process to itself
   * (`peakRssExact`), else the largest RSS seen after any of its calls.
   */
  peakRss?: number;
  peakRssExact?: boolean;
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
  const peakRss = Math.max(a.peakRss ?? 0, b.peakRss ?? 0) || undefined;
  return { ...a, appendSeconds: Math.min(a.appendSeconds, b.appendSeconds), getSeconds: Math.min(a.getSeconds, b.getSeconds), peakRss };
}

/**
 * Runs one benchmark section on its own (`tsx benchmarks/<section>.ts [--quick]
 * [--no-python]`) in a scratch directory, printing its markdown.
 */
export async function runAlone(name: string, section: (root: string, opts: { quick: boolean; repeat: number; python: boolean }) => Promise<string>): Promise<void> {
  const quick = process.argv.includes('--quick');
  const base = join(tmpdir(), `laminate-bench-${name}`);
  mkdirSync(base, { recursive: true });
  const root = mkdtempSync(join(base, 'run-'));
  try {
    console.log(await section(root, { quick, repeat: quick ? 1 : 3, python: !process.argv.includes('--no-python') }));
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
}

export function now(): number {
  return performance.now() / 1000;
}

/**
 * The measurement every store row makes: `calls` timed appends of `batch(c)`,
 * then one timed get per key, each checked by `wrong` (undefined when right).
 * Fills `m` (an error instead of numbers when anything fails), then closes
 * the store and removes `dir`.
 */
export async function appendThenGet<V>(
  m: Measurement,
  store: { append(batch: Record<string, V>): Promise<unknown>; get(key: string): Promise<V>; close(): Promise<unknown> },
  dir: string,
  run: {
    calls: number;
    batch(c: number): Record<string, V>;
    keys: readonly string[];
    wrong(got: V, k: number): string | undefined;
    afterAppends?(): void;
    /** Called after every append and get, outside the timed part. */
    afterCall?(): void;
  },
): Promise<Measurement> {
  let peak = 0;
  const sample = () => {
    peak = Math.max(peak, process.memoryUsage.rss());
    run.afterCall?.();
  };
  try {
    for (let c = 0; c < run.calls; c++) {
      const batch = run.batch(c);
      const t0 = now();
      await store.append(batch);
      m.appendSeconds += now() - t0;
      sample();
    }
    run.afterAppends?.();
    const wrong: string[] = [];
    for (let k = 0; k < run.keys.length; k++) {
      const t0 = now();
      const got = await store.get(run.keys[k]);
      m.getSeconds += now() - t0;
      sample();
      const why = run.wrong(got, k);
      if (why !== undefined) wrong.push(`${run.keys[k]} (${why})`);
    }
    if (wrong.length > 0) m.error = `${wrong.length} keys read back wrong: ${wrong.slice(0, 3).join(', ')}`;
    else m.verified = true;
  } catch (error) {
    m.error = `failed: ${(error as Error).message}`;
  } finally {
    await store.close();
    rmSync(dir, { recursive: true, force: true });
  }
  m.peakRss = Math.max(m.peakRss ?? 0, peak);
  return m;
}
