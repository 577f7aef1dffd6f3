// buffer()'s memory budget against the process's resident memory: 10 KB
// values into buffer(dict(), file(), { availableMemory: 64 MiB }) until
// several times the budget has gone through it, then every key read back and
// checked. RSS is sampled after every call; the process runs alone (worker.ts),
// so its peak is the kernel's high-water mark.
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { buffer, dict, file } from 'laminate';
import { type Measurement, appendThenGet, now } from './measure.js';
import { type Workload, batchOf, expected, keyNames, totalBytes, valueCount, wrongBytes } from './workloads.js';

const MiB = 2 ** 20;
export const BUDGET_BYTES = 64 * MiB;

/**
 * What the process may hold beyond baseline + budget while appending, and why.
 * Spilled values are dropped at once, but each is a buffer of its own whose
 * memory V8 frees only when a garbage collection finds it dead, and V8 starts
 * one for such external memory after about 64 MiB has been allocated since
 * the last: so up to ~64 MiB of spilled, dead values can still be resident.
 * (Run with --expose-gc and a gc() after every call, the same run stays within
 * ~12 MiB of baseline + budget.) The rest is one call's batch and what glibc's
 * allocator keeps after a free. Neither grows with the budget: on a 2-core
 * Linux VM the overhead measured 73, 94 and 83 MiB with budgets of 16, 64 and
 * 256 MiB, so 128 MiB is the allowance the report checks.
 */
export const ALLOWANCE_BYTES = 128 * MiB;

export function memoryWorkload(quick: boolean): Workload {
  return { id: 'memory', title: '1,000 keys × 10 KB through a 64 MiB buffer()', keys: 1000, valueBytes: 10_000, keysPerCall: 100, calls: quick ? 250 : 600 };
}

export interface MemoryResults {
  budget: number;
  allowance: number;
  /** RSS before the store was made: Node, the benchmark's code and its 32 MiB corpus. */
  baseline: number;
  /** The process's high-water mark over the whole run. */
  peak: number;
  /** The largest RSS sampled after an append call, and after a get. */
  peakAppend: number;
  peakGet: number;
  /** The largest key read back, in bytes: a get holds one whole key. */
  largestKey: number;
  /** [seconds since start, RSS bytes, bytes held in memory by buffer()], after each call. */
  samples: { append: [number, number, number][]; get: [number, number, number][] };
  row: Measurement;
}

/** Runs in a process of its own (worker.ts memory …). */
export async function memoryRun(root: string, corpus: Buffer, quick: boolean, budget = BUDGET_BYTES): Promise<MemoryResults> {
  const w = memoryWorkload(quick);
  const want = expected(w, corpus);
  const dir = join(root, 'store-memory');
  rmSync(dir, { recursive: true, force: true });
  const baseline = process.memoryUsage.rss();
  const start = now();
  const store = buffer(dict(), file(dir), { availableMemory: budget });
  const samples: MemoryResults['samples'] = { append: [], get: [] };
  let phase: 'append' | 'get' = 'append';
  const row: Measurement = { store: `buffer(dict(), file(), ${budget / MiB} MiB)`, workload: w.id, values: valueCount(w), bytes: totalBytes(w), appendSeconds: 0, getSeconds: 0, verified: false };
  await appendThenGet(row, store, dir, {
    calls: w.calls,
    batch: (c) => batchOf(w, corpus, c),
    afterCall: () => samples[phase].push([now() - start, process.memoryUsage.rss(), store.memoryUsage]),
    afterAppends: () => {
      phase = 'get';
    },
    keys: keyNames(w),
    wrong: wrongBytes(want),
  });
  const most = (xs: [number, number, number][]) => xs.reduce((m, [, rss]) => Math.max(m, rss), 0);
  // maxRSS is in KiB: the kernel's high-water mark for this process.
  const peak = process.resourceUsage().maxRSS * 1024;
  return {
    budget,
    allowance: ALLOWANCE_BYTES,
    baseline,
    peak,
    peakAppend: most(samples.append),
    peakGet: most(samples.get),
    largestKey: Math.max(...want.lengths),
    samples,
    row: { ...row, peakRss: peak, peakRssExact: true },
  };
}
