/**
 * tables(stack): V3IO Frames' table backends on any laminate bytes store.
 * `create`, `write`, `read`, `delete` and `execute` take a backend name and a
 * table name and hand the call to that backend's module; every backend keeps
 * its data in the stack's keys under [backend, table, …] (layout.ts).
 */
import { typeError } from '@laminate/core/layer';
import type { Table } from 'apache-arrow';
import type { Backend, Context, Options } from './backend.js';
import { CsvBackend } from './csv.js';
import { chunked, type FrameInput, toTable } from './frames.js';
import { KvBackend } from './kv.js';
import type { Stack } from './layout.js';
import { StreamBackend } from './stream.js';
import { TsdbBackend } from './tsdb.js';

export const BACKENDS = ['kv', 'tsdb', 'stream', 'csv'] as const;
export type BackendName = (typeof BACKENDS)[number];

export interface TablesOptions {
  /** kv: rows this process writes to a table between checks whether to compact it (default 100 000). */
  compactEvery?: number;
  /** The clock, in epoch ms: `now` in times, stream record times and retention (default Date.now). */
  now?: () => number;
}

export interface ReadOptions {
  /** kv, csv: a condition rows must meet, such as `age > 14 and city == "NY"`; tsdb: a condition on labels. */
  filter?: string;
  /** kv, csv: the columns to return (kv reads only those); tsdb: the metrics. */
  columns?: string[] | string;
  /** tsdb: the time range, inclusive (epoch ms, Date, ISO string or now-1d style). */
  start?: string | number | Date;
  end?: string | number | Date;
  /** tsdb: the window of each aggregate (1h, 5m…). */
  step?: string | number;
  /** tsdb: avg, max, min, sum, count, last (an array or a comma-separated string). */
  aggregators?: string[] | string;
  /** tsdb: the labels to aggregate by; other labels are merged. */
  groupBy?: string[] | string;
  /** stream: 'earliest' (default), 'latest', 'sequence' or 'time'. */
  seek?: 'earliest' | 'latest' | 'sequence' | 'seq' | 'time';
  /** stream: the shard to read (default every shard). */
  shard?: number;
  /** stream: with seek 'sequence', the first sequence number to return. */
  sequence?: number;
  /** With true, read() returns an AsyncIterable of Tables of at most `chunkRows` rows. */
  iterator?: boolean;
  chunkRows?: number;
  [option: string]: unknown;
}

export interface WriteOptions {
  /** kv: the index column; tsdb: the time column (default "time"). */
  index?: string;
  /** tsdb: labels of every written sample. */
  labels?: Record<string, string>;
  /** stream: the partition key of every written record. */
  partitionKey?: string;
  [option: string]: unknown;
}

export class Tables {
  private readonly backends: Record<BackendName, Backend>;

  constructor(
    readonly stack: Stack,
    opts: TablesOptions = {},
  ) {
    const compactEvery = opts.compactEvery ?? 100_000;
    if (!(Number.isInteger(compactEvery) && compactEvery >= 1)) throw typeError('ERR_INVALID_OPTION', `tables() compactEvery must be a whole number of rows, 1 or more; got ${String(opts.compactEvery)}.`);
    const context: Context = { stack, now: opts.now ?? Date.now, compactEvery };
    this.backends = { kv: new KvBackend(context), tsdb: new TsdbBackend(context), stream: new StreamBackend(context), csv: new CsvBackend(context) };
  }

  private backend(name: unknown, table: unknown): Backend {
    if (typeof name !== 'string' || !(BACKENDS as readonly string[]).includes(name)) {
      throw typeError('ERR_INVALID_OPTION', `Unknown backend ${JSON.stringify(name)}; the backends are ${BACKENDS.join(', ')}.`);
    }
    if (typeof table !== 'string' || table.length === 0 || table.length > 200) {
      throw typeError('ERR_INVALID_KEY', `A table name is a non-empty string of at most 200 characters; got ${JSON.stringify(table)}.`);
    }
    return this.backends[name as BackendName];
  }

  /** Creates a table: tsdb needs `{ rate }`; stream takes `{ shards, retentionHours }`; kv and csv need no create. */
  create(backend: BackendName, table: string, attrs: Options = {}): Promise<void> {
    return this.backend(backend, table).create(table, attrs ?? {});
  }

  /** Writes an Arrow Table, a RecordBatch or an array of records. */
  write(backend: BackendName, table: string, data: FrameInput, opts: WriteOptions = {}): Promise<void> {
    const target = this.backend(backend, table);
    return target.write(table, toTable(data, `write(${backend}, "${table}")`), opts ?? {});
  }

  /** Reads one Table, or with `iterator: true` an AsyncIterable of Tables. */
  read(backend: BackendName, table: string, opts: ReadOptions & { iterator: true }): AsyncIterable<Table>;
  read(backend: BackendName, table: string, opts?: ReadOptions & { iterator?: false }): Promise<Table>;
  read(backend: BackendName, table: string, opts?: ReadOptions): Promise<Table> | AsyncIterable<Table>;
  read(backend: BackendName, table: string, opts: ReadOptions = {}): Promise<Table> | AsyncIterable<Table> {
    const target = this.backend(backend, table);
    if (opts?.iterator !== true) return target.read(table, opts ?? {});
    const rows = opts.chunkRows ?? 65_536;
    if (!(Number.isInteger(rows) && rows >= 1)) throw typeError('ERR_INVALID_OPTION', `read() chunkRows must be a whole number of rows, 1 or more; got ${String(opts.chunkRows)}.`);
    return (async function* () {
      yield* chunked(await target.read(table, opts), rows);
    })();
  }

  /** Deletes a table, or part of it: kv and csv `{ filter }`, tsdb `{ start, end }`. */
  delete(backend: BackendName, table: string, opts: Options = {}): Promise<void> {
    return this.backend(backend, table).delete(table, opts ?? {});
  }

  /** kv: 'update', 'infer', 'compact'; stream: 'put', 'trim'; csv: 'infer'. */
  execute(backend: BackendName, table: string, command: string, args: Options = {}): Promise<unknown> {
    return this.backend(backend, table).execute(table, command, args ?? {});
  }
}

/** Frames-style tables on a laminate bytes store (file(), log(), client(), redis(), …). */
export function tables(stack: Stack, opts?: TablesOptions): Tables {
  return new Tables(stack, opts);
}
