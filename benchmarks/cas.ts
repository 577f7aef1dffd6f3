// npm run bench -- --cas-only [--full]   (or: npx tsx --conditions=source benchmarks/cas.ts [--quick])
//
// cas() and catalog(). put of 1 MB and 64 MB objects into cas(file()) and
// cas(log()), against the hashing limit (SHA-256 alone over the same bytes,
// nothing stored) and against a hash-named directory written with
// fs.promises (hash, write a temporary file, rename it to its digest, as
// hashfs-style stores do); the 64 MB put also as a stream of 1 MiB chunks.
// get with its digest checked, against reading and hashing the directory's
// file. catalog list() latency with 100,000 content records in 100 datasets
// over log(): by dataset, by dataset and kind, and a prefix over all of them.
// Targets: put ≥ 80% of the hash-alone rate for 64 MB objects; list by
// dataset p99 ≤ 10 ms at 100,000 records. Every object read back is checked.
import { createHash, randomFillSync } from 'node:crypto';
import { mkdirSync, promises as fsp, rmSync } from 'node:fs';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { fileURLToPath } from 'node:url';
import { cas, catalog } from '@laminate/cas';
import { type Store, file, log } from '@laminate/core';
import { now, runAlone } from './measure.js';

export interface CasRow {
  what: string;
  objectBytes: number;
  objects: number;
  /** MB/s (10^6 bytes a second) over all objects. */
  mbPerS: number;
  /** Rate against hashing the same bytes alone. */
  ofHash?: number;
  verified: boolean;
}

export interface ListRow {
  query: string;
  records: number;
  /** Records a query returned, on average over the 1,000 queries timed. */
  matches: number;
  p50Ms: number;
  p99Ms: number;
}

export interface CasResults {
  rows: CasRow[];
  lists: ListRow[];
  /** Seconds to register the 100,000 records, and to open a second catalog and read them all. */
  registerSeconds: number;
  catchUpMs: number;
}

const MB = 1 << 20;

function objectsOf(size: number, count: number): Buffer[] {
  return Array.from({ length: count }, () => randomFillSync(Buffer.allocUnsafe(size)));
}

const sha = (bytes: Uint8Array) => createHash('sha256').update(bytes).digest('hex');

interface Variant {
  what: string;
  /** One run over every object; `round` counts from 0. */
  run(round: number): Promise<void>;
  seconds: number;
  verified: boolean;
}

/**
 * Runs the variants in turn, round after round, keeping each one's best:
 * interleaved, so that none always runs after the others have filled the
 * page cache with bytes still to be written back.
 */
async function rounds(variants: Variant[], repeat: number): Promise<void> {
  for (let round = 0; round < repeat; round++) {
    for (const variant of variants) {
      const start = now();
      await variant.run(round);
      variant.seconds = Math.min(variant.seconds, now() - start);
    }
  }
}

const variant = (what: string, run: (round: number) => Promise<void>): Variant => ({ what, run, seconds: Infinity, verified: true });

async function putRows(root: string, size: number, count: number, repeat: number): Promise<CasRow[]> {
  const objects = objectsOf(size, count);
  const ids = objects.map(sha);
  const total = size * count;
  const hashDirOf = (round: number) => join(root, `hashdir-${size}-${round}`);
  const stacks: [string, (dir: string) => Store<Uint8Array>][] = [
    ['cas(file())', (dir) => file(dir)],
    ['cas(log())', (dir) => log(dir)],
  ];
  const opened = new Map<string, Store<Uint8Array>>();
  /** A new store of the stack for each round; the last round's stays open for the reads. */
  const fresh = async (label: string, make: (dir: string) => Store<Uint8Array>, round: number) => {
    await opened.get(label)?.close();
    const store = make(join(root, `${label.replace(/\W/g, '')}-${size}-${round}`));
    opened.set(label, store);
    return cas(store);
  };

  const puts: Variant[] = [
    variant('SHA-256 alone (nothing stored)', async () => {
      for (const bytes of objects) sha(bytes);
    }),
    variant('fs.promises.writeFile alone (no hash)', async (round) => {
      const dir = join(root, `plain-${size}-${round}`);
      mkdirSync(dir);
      for (let i = 0; i < count; i++) await fsp.writeFile(join(dir, String(i)), objects[i]);
    }),
    // hashfs-style: the digest, then a temporary file renamed to it.
    variant('hash-named directory (fs.promises)', async (round) => {
      const dir = hashDirOf(round);
      mkdirSync(dir);
      for (const bytes of objects) {
        const id = sha(bytes);
        const tmp = join(dir, `.tmp-${id}`);
        await fsp.writeFile(tmp, bytes);
        await fsp.rename(tmp, join(dir, id));
      }
    }),
    ...stacks.map(([label, make]) =>
      variant(`${label}.put(bytes)`, async (round) => {
        const target = await fresh(label, make, round);
        for (const bytes of objects) await target.put(bytes);
      }),
    ),
  ];
  if (size >= 64 * MB) {
    puts.push(
      variant('cas(file()).put(stream of 1 MiB chunks)', async (round) => {
        const target = await fresh('stream', (dir) => file(dir), round);
        for (const bytes of objects) {
          const chunks = Array.from({ length: Math.ceil(bytes.byteLength / MB) }, (_, i) => bytes.subarray(i * MB, (i + 1) * MB));
          await target.put(Readable.from(chunks));
        }
      }),
    );
  }
  await rounds(puts, repeat);
  for (const put of puts.slice(3)) {
    const label = put.what.startsWith('cas(file()).put(stream') ? 'stream' : put.what.slice(0, put.what.indexOf('.put'));
    put.verified = (await cas(opened.get(label)!).ids()).sort().join() === [...ids].sort().join();
  }

  const gets: Variant[] = [
    ...stacks.map(([label]) => {
      const got = variant(`${label}.get(id), digest checked`, async () => {
        const target = cas(opened.get(label)!);
        for (let i = 0; i < ids.length; i++) if (!Buffer.from(await target.get(ids[i])).equals(objects[i])) got.verified = false;
      });
      return got;
    }),
    variant('hash-named directory: readFile + SHA-256', async () => {
      for (const id of ids) if (sha(await fsp.readFile(join(hashDirOf(0), id))) !== id) throw new Error('cas bench: the hash-named directory read back other bytes');
    }),
  ];
  await rounds(gets, repeat);
  for (const store of opened.values()) await store.close();
  for (let round = 0; round < repeat; round++) {
    rmSync(hashDirOf(round), { recursive: true, force: true });
    rmSync(join(root, `plain-${size}-${round}`), { recursive: true, force: true });
  }

  const hashSeconds = puts[0].seconds;
  return [...puts, ...gets].map((v) => ({ what: v.what, objectBytes: size, objects: count, mbPerS: total / v.seconds / 1e6, ofHash: hashSeconds / v.seconds, verified: v.verified }));
}

function percentile(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor((sorted.length * p) / 100))];
}

async function listRows(root: string, records: number): Promise<Pick<CasResults, 'lists' | 'registerSeconds' | 'catchUpMs'>> {
  const dir = join(root, 'catalog');
  const store = log(dir);
  const cat = catalog(store);
  const datasets: string[] = [];
  for (let d = 0; d < 100; d++) datasets.push(await cat.registerDataset({ menu: { table: `t${d}` }, config: { d } }));
  const jobs = await Promise.all(datasets.map((ds) => cat.newJob(ds)));
  for (const ds of datasets) for (let p = 0; p < 10; p++) await cat.newPartition(ds, `p${p}`);
  const start = now();
  for (let i = 0; i < records; i++) {
    const d = i % 100;
    await cat.registerContent(Buffer.from(`record ${i}`), { kind: i % 10 === 0 ? 'table' : 'file', dataset: datasets[d], job: jobs[d], partition: `p${(i / 100) % 10 | 0}`, name: `part-${String(i).padStart(6, '0')}.bin`, ...(i % 10 === 0 ? { schema: { fields: [{ name: 'x', type: 'Int32', nullable: false }] } } : {}) });
  }
  const registerSeconds = now() - start;
  const again = catalog(log(dir));
  const catchUp = now();
  const all = await again.list();
  const catchUpMs = (now() - catchUp) * 1000;
  if (all.length !== records) throw new Error(`catalog bench: a second catalog lists ${all.length} records, not ${records}`);
  const lists: ListRow[] = [];
  const queries: [string, (i: number) => Parameters<typeof cat.list>[0]][] = [
    ['dataset', (i) => ({ dataset: datasets[i % 100] })],
    ['dataset + kind table', (i) => ({ dataset: datasets[i % 100], kind: 'table' })],
    ['dataset + job + partition', (i) => ({ dataset: datasets[i % 100], job: jobs[i % 100], partition: `p${i % 10}` })],
    ['prefix over all records', (i) => ({ prefix: `part-0${i % 10}` })],
  ];
  for (const [label, query] of queries) {
    const times: number[] = [];
    let matches = 0;
    for (let i = 0; i < 1000; i++) {
      const t = now();
      matches += (await cat.list(query(i))).length;
      times.push((now() - t) * 1000);
    }
    times.sort((a, b) => a - b);
    lists.push({ query: label, records, matches: matches / 1000, p50Ms: percentile(times, 50), p99Ms: percentile(times, 99) });
  }
  await again.close();
  await store.close();
  return { lists, registerSeconds, catchUpMs };
}

export async function casBench(root: string, opts: { quick: boolean; repeat?: number }): Promise<CasResults> {
  const repeat = Math.max(1, opts.repeat ?? (opts.quick ? 1 : 3));
  const rows = [...(await putRows(root, MB, opts.quick ? 64 : 256, repeat)), ...(await putRows(root, 64 * MB, opts.quick ? 3 : 8, repeat))];
  return { rows, ...(await listRows(root, 100_000)) };
}

export function casMarkdown(results: CasResults): string {
  const lines = ['| operation | object | objects | MB/s | of SHA-256 alone | checked |', '|---|---:|---:|---:|---:|---|'];
  for (const r of results.rows) lines.push(`| ${r.what} | ${r.objectBytes / MB} MiB | ${r.objects} | ${r.mbPerS.toFixed(0)} | ${r.ofHash === undefined ? '' : `${(r.ofHash * 100).toFixed(0)}%`} | ${r.verified ? 'yes' : 'NO'} |`);
  lines.push('', `catalog over log(): ${results.lists[0]?.records.toLocaleString('en-US')} records registered in ${results.registerSeconds.toFixed(1)} s; a second catalog catches up on all of them in ${results.catchUpMs.toFixed(0)} ms.`, '');
  lines.push('| list() by | records returned (mean) | p50 ms | p99 ms |', '|---|---:|---:|---:|');
  for (const l of results.lists) lines.push(`| ${l.query} | ${l.matches.toLocaleString('en-US', { maximumFractionDigits: 0 })} | ${l.p50Ms.toFixed(3)} | ${l.p99Ms.toFixed(3)} |`);
  return lines.join('\n');
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  await runAlone('cas', async (root, opts) => casMarkdown(await casBench(root, opts)));
}
