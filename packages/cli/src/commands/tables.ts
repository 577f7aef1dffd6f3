/**
 * `laminate read` and `laminate write`: a kv, tsdb, stream or csv table of
 * @laminate/tables on the stack a SPEC describes, to stdout as CSV, JSON
 * lines or an Arrow IPC stream, and from a .csv, .jsonl or .arrow file.
 */
import { readFileSync } from 'node:fs';
import { extname } from 'node:path';
import { isLaminateError, type Store } from '@laminate/core';
import type { Table } from 'apache-arrow';
import { type Command, holdsBytes, withStore } from '../command.js';
import { markUsage, usageError } from '../errors.js';
import type { Io } from '../io.js';
import { Output } from '../io.js';

/** The part of @laminate/tables these commands use. */
interface TablesModule {
  tables(stack: Store<Uint8Array>): {
    read(backend: string, table: string, opts: Record<string, unknown>): Promise<Table>;
    write(backend: string, table: string, data: Table, opts: Record<string, unknown>): Promise<void>;
    create(backend: string, table: string, attrs: Record<string, unknown>): Promise<void>;
  };
  encodeTable(table: Table, format: string): Uint8Array;
  decodeTable(bytes: Uint8Array, format: string, what: string): Table;
  BACKENDS: readonly string[];
}

/** Loads @laminate/tables when a read or write runs, so other commands never load it. */
async function loadTables(): Promise<TablesModule> {
  return (await import('@laminate/tables')) as TablesModule;
}

const FORMATS = ['csv', 'jsonl', 'arrow'];

function checkBackend(mod: TablesModule, backend: string, command: string): void {
  if (!mod.BACKENDS.includes(backend)) throw usageError(`Unknown backend "${backend}"; the backends are ${mod.BACKENDS.join(', ')}.`, command);
}

/** Runs `fn` on the stack; an option or expression the tables refuse is a usage error (exit 2), as the options it came from are. */
async function withStack<T>(spec: string, command: string, io: Io, fn: (stack: Store<Uint8Array>) => Promise<T>): Promise<T> {
  return withStore(spec, command, { io }, async (store) => {
    if (!holdsBytes(store)) throw usageError(`${command} needs a stack that stores bytes (file(), log(), buffer(), client(), a compressor over one); tables encode their own values.`, command);
    try {
      return await fn(store as unknown as Store<Uint8Array>);
    } catch (error) {
      if (isLaminateError(error, 'ERR_INVALID_OPTION')) throw markUsage(error, command);
      throw error;
    }
  });
}

export const read: Command = {
  name: 'read',
  summary: 'read a kv, tsdb, stream or csv table as CSV, JSON lines or Arrow',
  usage: ['read SPEC BACKEND TABLE [--filter F] [--columns A,B] [--start T --end T --step D --aggregators avg,max] [--format csv|jsonl|arrow]'],
  description: [
    'Reads TABLE of BACKEND (kv, tsdb, stream or csv) on the stack SPEC describes and writes it',
    'to stdout: CSV with a header line (the default), one JSON object per line, or an Arrow IPC',
    'stream. The options are those of tables().read():',
    '',
    '- kv, csv: --filter keeps the rows a condition holds for (age > 14 and city == "NY");',
    '  --columns returns only those columns (kv reads only those from storage).',
    '- tsdb: --start and --end (ISO times, epoch ms or now-1d), --step and --aggregators',
    '  (avg, max, min, sum, count, last) for windows, --group-by for labels; --filter on labels.',
    '- stream: --seek earliest|latest|sequence|time with --shard, --sequence, --start.',
  ].join('\n'),
  options: {
    filter: { type: 'string', value: 'EXPR', help: 'kv, csv: a condition rows must meet; tsdb: a condition on labels' },
    columns: { type: 'string', value: 'A,B', help: 'the columns (kv, csv) or metrics (tsdb) to return' },
    start: { type: 'string', value: 'TIME', help: 'tsdb: the first time; stream: with --seek time' },
    end: { type: 'string', value: 'TIME', help: 'tsdb: the last time (default now)' },
    step: { type: 'string', value: 'DURATION', help: 'tsdb: the window of each aggregate (1h, 5m)' },
    aggregators: { type: 'string', value: 'LIST', help: 'tsdb: avg,max,min,sum,count,last' },
    'group-by': { type: 'string', value: 'LABELS', help: 'tsdb: the labels to aggregate by' },
    seek: { type: 'string', value: 'WHERE', help: 'stream: earliest, latest, sequence or time' },
    shard: { type: 'string', value: 'N', help: 'stream: the shard to read' },
    sequence: { type: 'string', value: 'N', help: 'stream: with --seek sequence, the first sequence number' },
    format: { type: 'string', value: 'FORMAT', help: 'csv (default), jsonl or arrow' },
  },
  positionals: { min: 3, max: 3, names: 'SPEC, BACKEND and TABLE' },
  examples: ["laminate read 'file(/data/t)' kv users --filter 'age > 40' --columns name,age", "laminate read 'file(/data/t)' tsdb cpu --start now-1d --step 1h --aggregators avg,max --format jsonl", "laminate read 'file(/data/t)' stream events --seek sequence --sequence 100 --shard 0"],
  async run({ io, values, positionals }) {
    const [spec, backend, table] = positionals;
    const format = (values.format as string | undefined) ?? 'csv';
    if (!FORMATS.includes(format)) throw usageError(`--format must be csv, jsonl or arrow; got "${format}".`, 'read');
    const mod = await loadTables();
    checkBackend(mod, backend, 'read');
    const opts: Record<string, unknown> = {};
    for (const name of ['filter', 'columns', 'start', 'end', 'step', 'aggregators', 'seek'] as const) if (values[name] !== undefined) opts[name] = values[name];
    if (values['group-by'] !== undefined) opts.groupBy = values['group-by'];
    for (const name of ['shard', 'sequence'] as const) {
      if (values[name] === undefined) continue;
      const n = Number(values[name]);
      if (!Number.isInteger(n) || n < 0) throw usageError(`--${name} must be a whole number, 0 or more; got "${values[name]}".`, 'read');
      opts[name] = n;
    }
    const result = await withStack(spec, 'read', io, (stack) => mod.tables(stack).read(backend, table, opts));
    const out = new Output(io.stdout);
    await out.bytes(mod.encodeTable(result, format));
    await out.flush();
    return 0;
  },
};

export const write: Command = {
  name: 'write',
  summary: 'append a .csv, .jsonl or .arrow file to a kv, tsdb, stream or csv table',
  usage: ['write SPEC BACKEND TABLE FILE [--index COLUMN] [--labels k=v,…] [--partition-key K] [--rate R] [--shards N]'],
  description: [
    'Reads FILE (by its extension: .csv with a header line, .jsonl with one object per line, or',
    '.arrow, an Arrow IPC stream or file) and writes its rows to TABLE of BACKEND on the stack',
    'SPEC describes, as tables().write() does. A tsdb table must be created with a rate first:',
    '--rate creates it when it does not exist (and so does --shards for a stream).',
  ].join('\n'),
  options: {
    index: { type: 'string', value: 'COLUMN', help: 'kv: the index column (tsdb: the time column, default "time")' },
    labels: { type: 'string', value: 'k=v,…', help: 'tsdb: labels of every sample' },
    'partition-key': { type: 'string', value: 'KEY', help: 'stream: the partition key of every record' },
    rate: { type: 'string', value: 'RATE', help: 'tsdb: create the table with this sample rate (1/s, 12/m) if it does not exist' },
    shards: { type: 'string', value: 'N', help: 'stream: create the stream with N shards if it does not exist' },
  },
  positionals: { min: 4, max: 4, names: 'SPEC, BACKEND, TABLE and FILE' },
  examples: ["laminate write 'file(/data/t)' kv users users.csv --index name", "laminate write 'file(/data/t)' tsdb cpu samples.jsonl --rate 1/s --labels dc=eu"],
  async run({ io, values, positionals }) {
    const [spec, backend, table, path] = positionals;
    const extension = extname(path).toLowerCase().slice(1);
    const format = extension === 'json' || extension === 'ndjson' ? 'jsonl' : extension === 'ipc' || extension === 'feather' ? 'arrow' : extension;
    if (!FORMATS.includes(format)) throw usageError(`FILE must end in .csv, .jsonl or .arrow; got "${path}".`, 'write');
    const mod = await loadTables();
    checkBackend(mod, backend, 'write');
    const opts: Record<string, unknown> = {};
    if (values.index !== undefined) opts.index = values.index;
    if (values['partition-key'] !== undefined) opts.partitionKey = values['partition-key'];
    if (values.labels !== undefined) {
      const labels: Record<string, string> = {};
      for (const pair of String(values.labels).split(',')) {
        const eq = pair.indexOf('=');
        if (eq <= 0) throw usageError(`--labels takes name=value pairs separated by commas; got "${pair}".`, 'write');
        labels[pair.slice(0, eq).trim()] = pair.slice(eq + 1).trim();
      }
      opts.labels = labels;
    }
    let bytes: Uint8Array;
    try {
      bytes = readFileSync(path);
    } catch (error) {
      throw usageError(`Cannot read ${path}: ${(error as Error).message}`, 'write');
    }
    const data = mod.decodeTable(bytes, format, path);
    await withStack(spec, 'write', io, async (stack) => {
      const t = mod.tables(stack);
      if (values.rate !== undefined) await t.create(backend, table, { rate: values.rate });
      if (values.shards !== undefined) await t.create(backend, table, { shards: Number(values.shards) });
      await t.write(backend, table, data, opts);
    });
    io.stderr.write(`laminate: wrote ${data.numRows} rows to ${backend} table "${table}"\n`);
    return 0;
  },
};
