// npm run bench -- --tables-only [--full]   (or: npx tsx --conditions=source benchmarks/tables.ts [--full] [--dir PATH])
//
// tables() against DuckDB (@duckdb/node-api, a file database in the same
// directory) on the same data, in the same process:
//  - kv read with a filter and two columns (10 M rows with --full);
//  - tsdb step aggregation, avg and max by 1 h (10 M samples of 100 series);
//  - CSV import: the bytes of a CSV file to an Arrow table through tables'
//    reader (csv-parse with types kept) against csv-parse used directly and
//    DuckDB's read_csv (1 GB with --full).
// The quick mode (the default) runs each at a fiftieth of the size. Times are
// the best of 3 runs after loading; loading is not timed.
// Every result is checked against the other side's (row counts and sums).
// Targets: within 2x of DuckDB on the filter and the aggregation; CSV import
// at least 1x csv-parse used directly.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DuckDBInstance } from '@duckdb/node-api';
import { file } from '@laminate/core';
import { seededRandom } from '@laminate/core/layer';
import { csvTable, tables } from '@laminate/tables';
import { Float64, Table, Utf8, vectorFromArray } from 'apache-arrow';
import { parse } from 'csv-parse/sync';

const SERIES = 100;
const HOUR = 3_600_000;

export interface TablesRow {
  test: string;
  size: string;
  laminateMs: number;
  peer: string;
  peerMs: number;
  /** laminate's time over the peer's: below 1 is faster. */
  ratio: number;
  verified: boolean;
}

async function best(runs: number, fn: () => Promise<unknown> | unknown): Promise<number> {
  let min = Infinity;
  for (let i = 0; i < runs; i++) {
    const start = performance.now();
    await fn();
    min = Math.min(min, performance.now() - start);
  }
  return min;
}

export async function tablesBench(root: string, opts: { quick: boolean }): Promise<TablesRow[]> {
  const scale = opts.quick ? 1 / 50 : 1;
  const runs = 3;
  const KV_ROWS = Math.round(10_000_000 * scale);
  const TS_SAMPLES = Math.round(10_000_000 * scale);
  const CSV_BYTES = Math.round(1e9 * scale);
  const out: TablesRow[] = [];
  const random = seededRandom(7);
  const store = file(join(root, 'laminate'));
  const t = tables(store);
  const duck = await DuckDBInstance.create(join(root, 'duck.db'));
  const db = await duck.connect();
  try {
    // kv: id, a (uniform), b, c (one of 10 categories), written in batches.
    await db.run('CREATE TABLE kv (id VARCHAR, a DOUBLE, b DOUBLE, c VARCHAR)');
    const appender = await db.createAppender('kv');
    const BATCH = 100_000;
    for (let at = 0; at < KV_ROWS; at += BATCH) {
      const n = Math.min(BATCH, KV_ROWS - at);
      const id = Array.from({ length: n }, (_, i) => `k${at + i}`);
      const a = Float64Array.from({ length: n }, () => random());
      const b = Float64Array.from({ length: n }, () => random() * 100);
      const c = Array.from({ length: n }, () => `c${Math.floor(random() * 10)}`);
      await t.write('kv', 'rows', new Table({ id: vectorFromArray(id, new Utf8()), a: vectorFromArray(a), b: vectorFromArray(b), c: vectorFromArray(c, new Utf8()) }), { index: 'id' });
      for (let i = 0; i < n; i++) {
        appender.appendVarchar(id[i]);
        appender.appendDouble(a[i]);
        appender.appendDouble(b[i]);
        appender.appendVarchar(c[i]);
        appender.endRow();
      }
    }
    appender.closeSync();
    let ours: Table | undefined;
    let theirs: { count: number; sum: number } = { count: 0, sum: 0 };
    const laminateKv = await best(runs, async () => (ours = await t.read('kv', 'rows', { filter: 'a > 0.9 and c == "c3"', columns: ['id', 'b'] })));
    const duckKv = await best(runs, async () => {
      const reader = await db.runAndReadAll("SELECT id, b FROM kv WHERE a > 0.9 AND c = 'c3'");
      const columns = reader.getColumns();
      theirs = { count: columns[0].length, sum: (columns[1] as number[]).reduce((x, y) => x + y, 0) };
    });
    const oursSum = (ours!.getChild('b')!.toArray() as Float64Array).reduce((x, y) => x + y, 0);
    out.push({ test: 'kv read, filter + 2 columns', size: `${KV_ROWS.toLocaleString('en')} rows`, laminateMs: laminateKv, peer: 'DuckDB', peerMs: duckKv, ratio: laminateKv / duckKv, verified: ours!.numRows === theirs.count && Math.abs(oursSum - theirs.sum) < 1e-6 * Math.max(1, theirs.sum) });

    // tsdb: SERIES series, samples spread over 10 days, written in time-shuffled batches.
    const start = Date.UTC(2026, 0, 1);
    await t.create('tsdb', 'cpu', { rate: '1/s' });
    await db.run('CREATE TABLE ts (host VARCHAR, time DOUBLE, v DOUBLE)');
    const tsAppender = await db.createAppender('ts');
    const perSeries = Math.floor(TS_SAMPLES / SERIES);
    for (let s = 0; s < SERIES; s++) {
      const time = Float64Array.from({ length: perSeries }, () => start + Math.floor(random() * 240 * HOUR));
      const v = Float64Array.from({ length: perSeries }, () => random() * 100);
      const host = `h${s}`;
      await t.write('tsdb', 'cpu', new Table({ time: vectorFromArray(time), v: vectorFromArray(v) }), { labels: { host } });
      for (let i = 0; i < perSeries; i++) {
        tsAppender.appendVarchar(host);
        tsAppender.appendDouble(time[i]);
        tsAppender.appendDouble(v[i]);
        tsAppender.endRow();
      }
    }
    tsAppender.closeSync();
    let agg: Table | undefined;
    let duckAgg: { rows: number; sum: number } = { rows: 0, sum: 0 };
    const end = start + 240 * HOUR;
    const laminateTs = await best(runs, async () => (agg = await t.read('tsdb', 'cpu', { start, end, step: '1h', aggregators: ['avg', 'max'] })));
    const duckTs = await best(runs, async () => {
      const reader = await db.runAndReadAll(`SELECT host, floor((time - ${start}) / ${HOUR}) AS w, avg(v) AS avg, max(v) AS max FROM ts WHERE time >= ${start} AND time <= ${end} GROUP BY host, w`);
      const columns = reader.getColumns();
      duckAgg = { rows: columns[0].length, sum: (columns[3] as number[]).reduce((x, y) => x + y, 0) };
    });
    const aggSum = (agg!.getChild('max')!.toArray() as Float64Array).reduce((x, y) => x + y, 0);
    out.push({ test: 'tsdb avg+max by 1 h', size: `${(perSeries * SERIES).toLocaleString('en')} samples, ${SERIES} series`, laminateMs: laminateTs, peer: 'DuckDB', peerMs: duckTs, ratio: laminateTs / duckTs, verified: agg!.numRows === duckAgg.rows && Math.abs(aggSum - duckAgg.sum) < 1e-6 * duckAgg.sum });

    // CSV import: numbers, strings, booleans; once with some quoted fields (names with commas), once with none.
    for (const quotes of [true, false]) {
      const lines = ['id,name,score,flag'];
      let bytes = 0;
      for (let i = 0; bytes < CSV_BYTES; i++) {
        const line = `${i},${quotes && i % 7 === 0 ? `"name, ${i}"` : `name${i}`},${(random() * 1000).toFixed(3)},${i % 2 === 0}`;
        lines.push(line);
        bytes += line.length + 1;
      }
      const csvPath = join(root, 'import.csv');
      const csv = Buffer.from(`${lines.join('\n')}\n`);
      writeFileSync(csvPath, csv);
      let imported: Table | undefined;
      let direct: string[][] = [];
      const laminateCsv = await best(runs, () => (imported = csvTable(csv, 'import.csv')));
      const csvParse = await best(runs, () => (direct = parse(csv) as string[][]));
      let duckRows = 0;
      const duckCsv = await best(runs, async () => {
        const reader = await db.runAndReadAll(`SELECT * FROM read_csv('${csvPath}', header = true)`);
        duckRows = reader.getColumns()[0].length;
      });
      const test = `CSV import to a table (${quotes ? 'some quoted fields' : 'no quoted field'})`;
      const size = `${(csv.byteLength / 1e6).toFixed(0)} MB`;
      const ok = imported!.numRows === direct.length - 1 && imported!.getChild('score')!.type instanceof Float64;
      out.push({ test, size, laminateMs: laminateCsv, peer: 'csv-parse direct', peerMs: csvParse, ratio: laminateCsv / csvParse, verified: ok });
      out.push({ test, size, laminateMs: laminateCsv, peer: 'DuckDB read_csv', peerMs: duckCsv, ratio: laminateCsv / duckCsv, verified: ok && duckRows === imported!.numRows });
    }
  } finally {
    db.closeSync();
    duck.closeSync();
    await store.close();
  }
  return out;
}

export function tablesMarkdown(rows: readonly TablesRow[]): string {
  const lines = ['| test | size | laminate ms | peer | peer ms | laminate / peer | verified |', '|---|---|---:|---|---:|---:|---|'];
  for (const r of rows) lines.push(`| ${r.test} | ${r.size} | ${r.laminateMs.toFixed(1)} | ${r.peer} | ${r.peerMs.toFixed(1)} | ${r.ratio.toFixed(2)} | ${r.verified ? 'yes' : 'NO'} |`);
  return lines.join('\n');
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const dirArg = process.argv.indexOf('--dir');
  const root = dirArg > 0 ? process.argv[dirArg + 1] : mkdtempSync(join(tmpdir(), 'laminate-bench-tables-'));
  try {
    const rows = await tablesBench(root, { quick: !process.argv.includes('--full') });
    console.log(tablesMarkdown(rows));
    if (rows.some((r) => !r.verified)) process.exitCode = 1;
  } finally {
    if (dirArg < 0) rmSync(root, { recursive: true, force: true });
  }
}
