// Arrow tables: append/get MB/s of arrow() over file() and buffer(dict(), file()),
// next to Python partd.PandasBlocks with DataFrames of the same shape, and
// arrowColumns() reading 1 of the table's columns against all of them.
//
// run.ts calls arrowBench(); on its own:  tsx --conditions=source benchmarks/arrow.ts [--quick] [--no-python]
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { type BaseStore, buffer, dict, file } from '@laminate/core';
import { arrow, arrowColumns } from '@laminate/arrow';
import { Dictionary, Int32, Table, Utf8, makeData, makeVector, vectorFromArray } from 'apache-arrow';
import { diskUsage, settle } from './disk.js';
import { BUFFER_MEMORY } from './laminate.js';
import { type Measurement, appendThenGet, best, now, runAlone } from './measure.js';
import { runPartdMode } from './python.js';

/** The shape: 10 float64 + 2 int32 + 1 dictionary-encoded string column (int32 indices, 16 labels). */
export const ROW_BYTES = 10 * 8 + 2 * 4 + 4;
const LABELS = Array.from({ length: 16 }, (_, i) => `label-${i}`);

export interface ArrowShape {
  keys: number;
  calls: number;
  rows: number;
}

export interface ArrowResults {
  shape: ArrowShape;
  /** arrow() stacks and the partd.PandasBlocks peers. */
  runs: Measurement[];
  /** arrowColumns(file()): seconds for one get of every key, all columns and one column. */
  projection?: { store: string; columns: number; allSeconds: number; oneSeconds: number; bytes: number; error?: string };
  partd?: string;
}

export function arrowShape(quick: boolean): ArrowShape {
  return { keys: 4, calls: quick ? 4 : 16, rows: 50_000 };
}

/** One batch of `rows` rows; `seed` makes the values differ. */
function makeTable(rows: number, seed: number): Table {
  const columns: Record<string, ReturnType<typeof makeVector>> = {};
  let x = seed * 2654435761;
  const next = () => ((x = (x * 1103515245 + 12345) >>> 0) / 2 ** 32);
  for (let c = 0; c < 10; c++) columns[`f${c}`] = makeVector(Float64Array.from({ length: rows }, next));
  for (let c = 0; c < 2; c++) columns[`i${c}`] = makeVector(Int32Array.from({ length: rows }, () => (next() * 1e6) | 0));
  const indices = Int32Array.from({ length: rows }, () => (next() * LABELS.length) | 0);
  columns.label = makeVector(makeData({ type: new Dictionary(new Utf8(), new Int32()), length: rows, nullCount: 0, data: indices, dictionary: vectorFromArray(LABELS, new Utf8()) }));
  return new Table(columns);
}

function sumF0(table: Table): number {
  let sum = 0;
  for (const data of table.getChild('f0')!.data) for (const v of data.values as Float64Array) sum += v;
  return sum;
}

const STACKS: Record<string, (dir: string) => BaseStore<Uint8Array>> = {
  'arrow(file())': (dir) => file(dir),
  'arrow(buffer(dict(), file(), 64 MiB))': (dir) => buffer(dict(), file(dir), { availableMemory: BUFFER_MEMORY }),
};

async function runArrow(label: string, shape: ArrowShape, tables: Table[], dir: string): Promise<Measurement> {
  const rows = shape.keys * shape.calls * shape.rows;
  const m: Measurement = { store: label, workload: 'arrow', values: rows, bytes: rows * ROW_BYTES, appendSeconds: 0, getSeconds: 0, verified: false };
  rmSync(dir, { recursive: true, force: true });
  let expected = 0;
  for (let c = 0; c < shape.calls; c++) expected += sumF0(tables[c % tables.length]);
  return appendThenGet(m, arrow(STACKS[label](dir)), dir, {
    calls: shape.calls,
    batch: (c) => {
      const batch: Record<string, Table> = {};
      for (let k = 0; k < shape.keys; k++) batch[`k${k}`] = tables[c % tables.length];
      return batch;
    },
    // buffer() keeps part of the data in memory: only file() rows have a size on disk.
    afterAppends: () => {
      if (!label.includes('buffer')) m.diskBytes = diskUsage(dir);
    },
    keys: Array.from({ length: shape.keys }, (_, k) => `k${k}`),
    wrong: (value) => {
      const got = value as Table; // get() returns a Table; append() also takes record batches
      return got.numRows !== shape.calls * shape.rows || got.numCols !== 13 || sumF0(got) !== expected ? `${got.numRows} rows` : undefined;
    },
  });
}

async function runProjection(shape: ArrowShape, tables: Table[], dir: string): Promise<NonNullable<ArrowResults['projection']>> {
  const out = { store: 'arrowColumns(file())', columns: 13, allSeconds: 0, oneSeconds: 0, bytes: shape.keys * shape.calls * shape.rows * ROW_BYTES };
  rmSync(dir, { recursive: true, force: true });
  const store = arrowColumns(file(dir));
  try {
    for (let c = 0; c < shape.calls; c++) {
      const batch: Record<string, Table> = {};
      for (let k = 0; k < shape.keys; k++) batch[`k${k}`] = tables[c % tables.length];
      await store.append(batch);
    }
    // One untimed pass first: with --quick the timed gets are few, and the first pays for compiling the read path.
    await store.get('k0');
    await store.get('k0', { columns: ['f3'] });
    // Two loops, not one alternating: a get of every column leaves garbage whose collection would land in the next get.
    const rowsOf: number[] = [];
    for (let k = 0; k < shape.keys; k++) {
      const t0 = now();
      const all = await store.get(`k${k}`);
      out.allSeconds += now() - t0;
      if (all.numCols !== 13) return { ...out, error: `k${k} read back ${all.numCols} columns` };
      rowsOf.push(all.numRows);
    }
    for (let k = 0; k < shape.keys; k++) {
      const t0 = now();
      const one = await store.get(`k${k}`, { columns: ['f3'] });
      out.oneSeconds += now() - t0;
      if (one.numCols !== 1 || one.numRows !== rowsOf[k]) return { ...out, error: `k${k} read back wrong` };
    }
    return out;
  } catch (error) {
    return { ...out, error: `failed: ${(error as Error).message}` };
  } finally {
    await store.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

function runPandas(shape: ArrowShape, root: string, repeat: number): Measurement[] | { error: string } {
  return runPartdMode(['pandas', root, String(shape.keys), String(shape.calls), String(shape.rows), String(repeat)]);
}

export async function arrowBench(root: string, opts: { quick: boolean; repeat: number; python: boolean }): Promise<ArrowResults> {
  const shape = arrowShape(opts.quick);
  const tables = [makeTable(shape.rows, 1), makeTable(shape.rows, 2)];
  const results: ArrowResults = { shape, runs: [] };
  for (const label of Object.keys(STACKS)) {
    let kept: Measurement | undefined;
    for (let r = 0; r < opts.repeat; r++) {
      settle();
      kept = best(kept, await runArrow(label, shape, tables, join(root, 'arrow-store')));
    }
    results.runs.push(kept!);
  }
  for (let r = 0; r < opts.repeat; r++) {
    settle();
    const p = await runProjection(shape, tables, join(root, 'arrow-columns'));
    if (!results.projection || p.error || (!results.projection.error && p.allSeconds + p.oneSeconds < results.projection.allSeconds + results.projection.oneSeconds)) results.projection = p;
  }
  if (opts.python) {
    const peers = runPandas(shape, root, opts.repeat);
    if (Array.isArray(peers)) results.runs.push(...peers);
    else results.partd = peers.error;
  } else results.partd = 'skipped (--no-python)';
  return results;
}

// ---- the report ----

function mbs(bytes: number, seconds: number): string {
  const x = bytes / 1e6 / seconds;
  return x >= 100 ? x.toFixed(0) : x.toFixed(1);
}

/** The markdown section (also printed by run.ts and by this file on its own). */
export function arrowMarkdown(r: ArrowResults): string {
  const { keys, calls, rows } = r.shape;
  const total = keys * calls * rows * ROW_BYTES;
  const peerOf = (store: string) => r.runs.find((m) => m.store.startsWith('partd') && (store.includes('buffer') ? m.store.includes('Buffer') : !m.store.includes('Buffer')));
  const line = (cells: string[]) => `| ${cells.join(' | ')} |`;
  const out = [
    '## Arrow tables',
    '',
    `${keys} keys × ${calls} append calls, one batch of ${(rows / 1000).toFixed(0)} k rows per key per call: 10 float64, 2 int32 and 1 dictionary-encoded string column (16 labels), ${(total / 1e6).toFixed(0)} MB of column data (${ROW_BYTES} bytes a row) in all; then one get per key. MB/s counts that column data. The partd peers append pandas DataFrames of the same shape (a categorical column for the strings) and read them back with get.`,
    '',
    line(['store', 'append MB/s', 'get MB/s', 'append vs partd', 'get vs partd']),
    line([':--', '--:', '--:', '--:', '--:']),
  ];
  for (const m of r.runs) {
    if (!m.verified) {
      out.push(line([m.store, `FAILED: ${m.error}`, '', '', '']));
      continue;
    }
    const peer = m.store.startsWith('partd') ? undefined : peerOf(m.store);
    const vs = (mine: number, theirs: number | undefined) => (peer?.verified && theirs ? `${(theirs / mine).toFixed(2)}×` : '—');
    out.push(line([m.store, mbs(m.bytes, m.appendSeconds), mbs(m.bytes, m.getSeconds), vs(m.appendSeconds, peer?.appendSeconds), vs(m.getSeconds, peer?.getSeconds)]));
  }
  if (r.partd) out.push(line(['partd.PandasBlocks', `not measured: ${r.partd}`, '', '', '']));
  const p = r.projection;
  if (p) {
    out.push('', '### Column projection', '');
    if (p.error) out.push(`${p.store}: FAILED: ${p.error}`);
    else {
      out.push(
        line(['arrowColumns(file()) get', 'seconds (all keys)', 'MB/s of the table', 'vs all columns']),
        line([':--', '--:', '--:', '--:']),
        line([`all ${p.columns} columns`, p.allSeconds.toFixed(3), mbs(p.bytes, p.allSeconds), '1×']),
        line(['1 float64 column ({ columns: [\'f3\'] })', p.oneSeconds.toFixed(3), mbs(p.bytes, p.oneSeconds), `${(p.allSeconds / p.oneSeconds).toFixed(1)}× faster`]),
        '',
        `The float64 column is ${((8 / ROW_BYTES) * 100).toFixed(0)} % of the table's bytes; a get of it reads only its own sub-key.`,
      );
    }
  }
  return out.join('\n');
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  await runAlone('arrow', async (root, opts) => arrowMarkdown(await arrowBench(root, opts)));
}
