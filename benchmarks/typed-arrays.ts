// Typed arrays: append/get MB/s of typedArrays() over file() and
// buffer(dict(), file()), with Float64Array and Int32Array values, next to
// Python partd.Numpy over partd.File and partd.Buffer doing the same work on
// the same numbers in the same run.
//
// run.ts calls typedBench(); on its own:  tsx --conditions=source benchmarks/typed-arrays.ts [--quick] [--no-python]
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { crc32 } from 'node:zlib';
import { buffer, dict, file } from '@laminate/core';
import { type TypedArrayStore, typedArrays } from '@laminate/codecs';
import { seededRandom } from '@laminate/core/layer';
import { diskUsage, settle } from './disk.js';
import { BUFFER_MEMORY } from './laminate.js';
import { type Measurement, appendThenGet, best, runAlone } from './measure.js';
import { runPartdMode } from './python.js';

/** The element types measured: the numpy name (partd_bench.py's too) → the array type. */
const DTYPES = { float64: Float64Array, int32: Int32Array } as const;
type DtypeName = keyof typeof DTYPES;
type Values = Float64Array | Int32Array;

/** Arrays in the pool each append call draws from; 7 is prime to 64, so every key gets every array in turn. */
const POOL = 7;

export interface TypedShape {
  keys: number;
  calls: number;
  /** Elements per appended array. */
  elements: number;
}

export interface TypedResults {
  shape: TypedShape;
  /** typedArrays() stacks and the partd.Numpy peers, one row per stack and dtype (workload = dtype). */
  runs: Measurement[];
  partd?: string;
}

export function typedShape(quick: boolean): TypedShape {
  return { keys: 64, calls: quick ? 8 : 32, elements: 16_384 };
}


/**
 * POOL arrays of `elements` values, one stretch after another of the same
 * series: float64 is a price-like random walk (steps of a few cents), int32
 * ids that mostly grow with small steps back (events arriving out of order).
 */
function makePool(name: DtypeName, elements: number): Values[] {
  const rnd = seededRandom(name === 'float64' ? 64 : 32);
  const all = new DTYPES[name](POOL * elements);
  if (name === 'float64') {
    let x = 100;
    for (let i = 0; i < all.length; i++) all[i] = x = Math.round((x + (rnd() - 0.5) * 0.2) * 100) / 100;
  } else {
    let id = 1_000_000;
    for (let i = 0; i < all.length; i++) all[i] = id += rnd() < 0.9 ? Math.floor(rnd() * 8) : -Math.floor(rnd() * 100);
  }
  return Array.from({ length: POOL }, (_, p) => all.subarray(p * elements, (p + 1) * elements));
}

/** The array append call `c` gives key `k`; partd_bench.py's numpy mode uses the same formula. */
function poolIndex(shape: TypedShape, c: number, k: number): number {
  return (c * shape.keys + k) % POOL;
}

function bytesOf(a: Values): Uint8Array {
  return new Uint8Array(a.buffer, a.byteOffset, a.byteLength);
}

/** Per key: the element count and the CRC-32 of the bytes of every array appended to it, in order. */
function expected(shape: TypedShape, pool: Values[]): { lengths: number[]; crcs: number[] } {
  const lengths: number[] = [];
  const crcs: number[] = [];
  for (let k = 0; k < shape.keys; k++) {
    let crc = 0;
    for (let c = 0; c < shape.calls; c++) crc = crc32(bytesOf(pool[poolIndex(shape, c, k)]), crc);
    lengths.push(shape.calls * shape.elements);
    crcs.push(crc);
  }
  return { lengths, crcs };
}

const STACKS: Record<string, (dir: string) => TypedArrayStore> = {
  'typedArrays(file())': (dir) => typedArrays(file(dir)),
  'typedArrays(file()), getView': (dir) => viewing(typedArrays(file(dir))),
  'typedArrays(buffer(dict(), file(), 64 MiB))': (dir) => typedArrays(buffer(dict(), file(dir), { availableMemory: BUFFER_MEMORY })),
  'typedArrays(buffer(dict(), file(), 64 MiB)), getView': (dir) => viewing(typedArrays(buffer(dict(), file(dir), { availableMemory: BUFFER_MEMORY }))),
};

/** `store` whose get is getView(): each array made over the inner store's reused memory, checked before the next get. */
function viewing(store: TypedArrayStore): TypedArrayStore {
  store.get = (key) => store.getView(key);
  return store;
}

async function runTyped(label: string, name: DtypeName, shape: TypedShape, pool: Values[], want: { lengths: number[]; crcs: number[] }, dir: string): Promise<Measurement> {
  const values = shape.keys * shape.calls * shape.elements;
  const m: Measurement = { store: label, workload: name, values, bytes: values * DTYPES[name].BYTES_PER_ELEMENT, appendSeconds: 0, getSeconds: 0, verified: false };
  rmSync(dir, { recursive: true, force: true });
  return appendThenGet(m, STACKS[label](dir), dir, {
    calls: shape.calls,
    batch: (c) => {
      const batch: Record<string, Values> = {};
      for (let k = 0; k < shape.keys; k++) batch[`k${k}`] = pool[poolIndex(shape, c, k)];
      return batch;
    },
    // buffer() keeps part of the data in memory: only file() rows have a size on disk.
    afterAppends: () => {
      if (!label.includes('buffer')) m.diskBytes = diskUsage(dir);
    },
    keys: Array.from({ length: shape.keys }, (_, k) => `k${k}`),
    wrong: (got, k) =>
      got instanceof DTYPES[name] && got.length === want.lengths[k] && crc32(bytesOf(got)) === want.crcs[k]
        ? undefined
        : `${(got as { constructor: { name: string } }).constructor.name} of ${(got as { length: number }).length}, expected ${want.lengths[k]}`,
  });
}

function runNumpy(configPath: string, root: string, repeat: number): Measurement[] | { error: string } {
  return runPartdMode(['numpy', root, configPath, String(repeat)]);
}

export async function typedBench(root: string, opts: { quick: boolean; repeat: number; python: boolean }): Promise<TypedResults> {
  const shape = typedShape(opts.quick);
  const results: TypedResults = { shape, runs: [] };
  const dir = mkdtempSync(join(root, 'typed-'));
  try {
    const pools = Object.fromEntries((Object.keys(DTYPES) as DtypeName[]).map((name) => [name, makePool(name, shape.elements)])) as Record<DtypeName, Values[]>;
    const want = Object.fromEntries((Object.keys(DTYPES) as DtypeName[]).map((name) => [name, expected(shape, pools[name])])) as Record<DtypeName, ReturnType<typeof expected>>;
    // The Python peer reads the very same arrays and checks against the very same figures.
    for (const name of Object.keys(DTYPES) as DtypeName[]) writeFileSync(join(dir, `${name}.bin`), new Uint8Array(pools[name][0].buffer));
    const configPath = join(dir, 'config.json');
    writeFileSync(configPath, JSON.stringify({ ...shape, pool: POOL, memory: BUFFER_MEMORY, dtypes: Object.keys(DTYPES), expected: want }));

    // One small untimed pass through each stack first, so that the timed runs (a single one with --quick) do not pay for compiling the append and get paths.
    const warm: TypedShape = { keys: shape.keys, calls: 2, elements: 1024 };
    for (const label of Object.keys(STACKS)) {
      for (const name of Object.keys(DTYPES) as DtypeName[]) {
        const pool = makePool(name, warm.elements);
        await runTyped(label, name, warm, pool, expected(warm, pool), join(dir, 'store'));
      }
    }
    for (const label of Object.keys(STACKS)) {
      for (const name of Object.keys(DTYPES) as DtypeName[]) {
        let kept: Measurement | undefined;
        for (let r = 0; r < opts.repeat; r++) {
          settle();
          kept = best(kept, await runTyped(label, name, shape, pools[name], want[name], join(dir, 'store')));
        }
        results.runs.push(kept!);
      }
    }
    if (opts.python) {
      const peers = runNumpy(configPath, dir, opts.repeat);
      if (Array.isArray(peers)) results.runs.push(...peers);
      else results.partd = peers.error;
    } else results.partd = 'skipped (--no-python)';
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  return results;
}

// ---- the report ----

function mbs(bytes: number, seconds: number): string {
  const x = bytes / 1e6 / seconds;
  return x >= 100 ? x.toFixed(0) : x.toFixed(1);
}

function peerOf(r: TypedResults, m: Measurement): Measurement | undefined {
  const buffered = m.store.includes('buffer');
  return r.runs.find((p) => p.store.startsWith('partd') && p.workload === m.workload && p.store.includes('Buffer') === buffered);
}

/** The target: typedArrays ≥ partd.Numpy on append and on get, for each stack and dtype. */
export function typedVerdicts(r: TypedResults): { target: string; measured: string; status: string }[] {
  return r.runs
    .filter((m) => !m.store.startsWith('partd'))
    .map((m) => {
      const peer = peerOf(r, m);
      const target = `${m.store} ≥ ${peer?.store ?? 'partd.Numpy'} on append and get (${m.workload})`;
      if (!m.verified) return { target, measured: `FAILED: ${m.error}`, status: 'not measured' };
      if (!peer?.verified) return { target, measured: `partd.Numpy: ${peer?.error ?? r.partd ?? 'not measured'}`, status: 'not measured' };
      const append = peer.appendSeconds / m.appendSeconds;
      const get = peer.getSeconds / m.getSeconds;
      const measured = `append ${mbs(m.bytes, m.appendSeconds)} vs ${mbs(peer.bytes, peer.appendSeconds)} MB/s (${append.toFixed(2)}×), get ${mbs(m.bytes, m.getSeconds)} vs ${mbs(peer.bytes, peer.getSeconds)} MB/s (${get.toFixed(2)}×)`;
      const status = append >= 1 && get >= 1 ? 'met' : append < 1 && get < 1 ? 'NOT met (append, get)' : append < 1 ? 'NOT met (append)' : 'NOT met (get)';
      return { target, measured, status };
    });
}

/** The markdown section (also printed by run.ts and by this file on its own). */
export function typedMarkdown(r: TypedResults): string {
  const { keys, calls, elements } = r.shape;
  const line = (cells: string[]) => `| ${cells.join(' | ')} |`;
  const out = [
    '## Typed arrays',
    '',
    `${keys} keys × ${calls} append calls, one array of ${(elements / 1024).toFixed(0)} k elements per key per call, then one get per key; ${(keys * calls * elements * 8 / 1e6).toFixed(0)} MB as float64 (a price-like random walk), ${(keys * calls * elements * 4 / 1e6).toFixed(0)} MB as int32 (ids that mostly grow). MB/s counts the array bytes. Every get is checked: the array type, its length and the CRC-32 of its bytes. The partd peers append numpy arrays of the very same numbers with partd.Numpy and read them back with get. "vs partd" is typedArrays' speed over partd.Numpy's on the same stack and dtype (above 1× is faster).`,
    '',
    line(['store', 'dtype', 'append MB/s', 'get MB/s', 'append vs partd', 'get vs partd']),
    line([':--', ':--', '--:', '--:', '--:', '--:']),
  ];
  const notes: string[] = [];
  for (const m of r.runs) {
    if (!m.verified) {
      out.push(line([m.store, m.workload, `FAILED: ${m.error}`, '', '', '']));
      continue;
    }
    const peer = m.store.startsWith('partd') ? undefined : peerOf(r, m);
    const vs = (mine: number, theirs: number | undefined) => (peer?.verified && theirs ? `${(theirs / mine).toFixed(2)}×` : '—');
    out.push(line([m.store, m.workload, mbs(m.bytes, m.appendSeconds), mbs(m.bytes, m.getSeconds), vs(m.appendSeconds, peer?.appendSeconds), vs(m.getSeconds, peer?.getSeconds)]));
    if (m.note) notes.push(`Note on ${m.store} (${m.workload}): ${m.note}.`);
  }
  if (r.partd) out.push(line(['partd.Numpy', '', `not measured: ${r.partd}`, '', '', '']));
  if (notes.length > 0) out.push('', ...notes);
  out.push('', 'Target: typedArrays ≥ partd Numpy on append and get.', '', ...typedVerdicts(r).map((v) => `- ${v.target}: ${v.measured} — **${v.status}**`));
  return out.join('\n');
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  await runAlone('typed', async (root, opts) => typedMarkdown(await typedBench(root, opts)));
}
