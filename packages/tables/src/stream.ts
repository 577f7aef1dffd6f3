/**
 * The stream backend: records appended to shards. A record is a row of
 * `sequence` (per shard, increasing), `time` (epoch ms when stored),
 * `partition`, `clientInfo` and `data` (a string). Each shard is a
 * rewritable piece (layout.ts) of Arrow tables through arrow(), so records
 * past `retentionHours` can be trimmed away.
 *
 * Sequence numbers come from a small counter key per shard holding the next
 * free number. A write reserves its numbers (rewrites the counter) before it
 * appends the records: a crash in between leaves a gap in the numbers, never
 * two records with one number; a counter lost to a crash is rebuilt from the
 * shard's largest sequence.
 *
 * Reads seek within what is stored (`earliest`, `latest`, a `sequence`, a
 * `time`); waiting for records not yet written is left to a store's follow()
 * once it is there.
 */
import { arrow } from '@laminate/arrow';
import { LaminateError, typeError } from '@laminate/core/layer';
import { type Table, Utf8, vectorFromArray } from 'apache-arrow';
import { type Backend, type Context, nameList, notFound, type Options, optionalString, unknownCommand } from './backend.js';
import { floats, jsValue, tableOf, takeRows, valuesOf } from './frames.js';
import { Generations, deleteAttrs, readAttrs, writeAttrs } from './layout.js';
import { parseTime } from './time.js';

interface StreamAttrs {
  shards: number;
  retentionHours: number;
}

export interface StreamRecord {
  data: string;
  partition?: string | null;
  clientInfo?: string | null;
}

const SEEKS = ['earliest', 'latest', 'sequence', 'time'];
const RECORD_COLUMNS = ['shard', 'sequence', 'time', 'partition', 'clientInfo', 'data'];

export class StreamBackend implements Backend {
  /** Where records without a partition key go next (round robin, per process). */
  private nextShard = 0;

  constructor(private readonly context: Context) {}

  private base(table: string): string[] {
    return ['stream', table];
  }

  private shard(table: string, shard: number): Generations {
    return new Generations(this.context.stack, arrow(this.context.stack), [...this.base(table), 'shard', String(shard)]);
  }

  private counterKey(table: string, shard: number): string[] {
    return [...this.base(table), 'shard', String(shard), '.next'];
  }

  private async attrs(table: string): Promise<StreamAttrs> {
    const attrs = await readAttrs<StreamAttrs>(this.context.stack, this.base(table));
    if (attrs === undefined) throw notFound('stream', table, `Create it first: create('stream', '${table}', { shards: 1 }).`);
    return attrs;
  }

  async create(table: string, attrs: Options): Promise<void> {
    const shards = attrs.shards === undefined ? 1 : Number(attrs.shards);
    const retentionHours = attrs.retentionHours ?? attrs.retention_hours;
    const hours = retentionHours === undefined ? 24 : Number(retentionHours);
    if (!Number.isInteger(shards) || shards < 1 || shards > 4096) throw typeError('ERR_INVALID_OPTION', `create('stream') attrs.shards must be a whole number from 1 to 4096; got ${String(attrs.shards)}.`);
    if (!(hours > 0) || !Number.isFinite(hours)) throw typeError('ERR_INVALID_OPTION', `create('stream') attrs.retentionHours must be a number of hours above zero; got ${String(retentionHours)}.`);
    await this.context.stack.withLock(async () => {
      const known = await readAttrs<StreamAttrs>(this.context.stack, this.base(table));
      if (known !== undefined) {
        if (known.shards === shards && known.retentionHours === hours) return;
        throw typeError('ERR_INVALID_OPTION', `stream "${table}" exists with ${known.shards} shards and ${known.retentionHours} hours of retention; delete it first to create it otherwise.`);
      }
      await writeAttrs(this.context.stack, this.base(table), { shards, retentionHours: hours });
    });
  }

  /**
   * Writes one record per row. A `data` column (strings) is the record's data;
   * without one, each row is stored as its JSON. A `partition` column, or the
   * `partitionKey` option for the whole write, picks each record's shard.
   */
  async write(table: string, data: Table, opts: Options): Promise<void> {
    const partitionKey = optionalString(opts.partitionKey ?? opts.partition, 'write(stream) partitionKey');
    const records: StreamRecord[] = [];
    const dataColumn = data.getChild('data');
    const partitions = data.getChild('partition');
    const infos = data.getChild('clientInfo');
    const names = data.schema.fields.map((f) => f.name);
    const rows = dataColumn === null ? rowObjects(data, names) : undefined;
    for (let i = 0; i < data.numRows; i++) {
      const value = dataColumn === null ? JSON.stringify(rows![i]) : jsValue(dataColumn.get(i));
      if (typeof value !== 'string') throw typeError('ERR_VALUE_TYPE', `write(stream, "${table}"): the data column holds ${value === null ? 'null' : typeof value} at row ${i}; records' data are strings.`);
      const partition = partitionKey ?? (partitions === null ? null : (jsValue(partitions.get(i)) as string | null));
      records.push({ data: value, partition: partition === null ? null : String(partition), clientInfo: infos === null ? null : ((jsValue(infos.get(i)) as string | null) ?? null) });
    }
    await this.put(table, records);
  }

  /** Appends records, each to its shard; returns where each went. */
  async put(table: string, records: readonly StreamRecord[]): Promise<{ shard: number; sequence: number }[]> {
    if (records.length === 0) return [];
    return this.context.stack.withLock(async () => {
      const attrs = await this.attrs(table);
      const byShard = new Map<number, number[]>();
      const placed = records.map((record, i) => {
        const shard = record.partition === null || record.partition === undefined ? this.nextShard++ % attrs.shards : hash(record.partition) % attrs.shards;
        let list = byShard.get(shard);
        if (!list) byShard.set(shard, (list = []));
        list.push(i);
        return { shard, sequence: 0 };
      });
      const now = this.context.now();
      for (const [shard, list] of byShard) {
        const piece = this.shard(table, shard);
        await piece.ensure();
        const first = await this.reserve(table, shard, list.length);
        list.forEach((i, k) => (placed[i].sequence = first + k));
        await piece.append(
          tableOf([
            ['sequence', floats(Float64Array.from(list, (_, k) => first + k))],
            ['time', floats(new Float64Array(list.length).fill(now))],
            ['partition', vectorFromArray(list.map((i) => records[i].partition ?? null), new Utf8())],
            ['clientInfo', vectorFromArray(list.map((i) => records[i].clientInfo ?? null), new Utf8())],
            ['data', vectorFromArray(list.map((i) => records[i].data), new Utf8())],
          ]),
        );
      }
      return placed;
    });
  }

  /** Takes `n` sequence numbers of a shard and returns the first. */
  private async reserve(table: string, shard: number, n: number): Promise<number> {
    const key = this.counterKey(table, shard);
    const text = Buffer.from(await this.context.stack.get(key)).toString('utf8');
    let next = /^\d+\n$/.test(text) ? Number(text.trim()) : undefined;
    if (next === undefined) {
      const stored = await this.shard(table, shard).read(['sequence']);
      const sequences = stored.numRows === 0 ? new Float64Array(0) : (stored.getChild('sequence')!.toArray() as Float64Array);
      next = sequences.reduce((a, b) => Math.max(a, b + 1), 0);
    }
    await this.context.stack.delete([key]);
    await this.context.stack.append([[key, Buffer.from(`${next + n}\n`)]]);
    return next;
  }

  async read(table: string, opts: Options): Promise<Table> {
    const seek = optionalString(opts.seek, 'read(stream) seek') ?? 'earliest';
    const mode = seek === 'seq' ? 'sequence' : seek;
    if (!SEEKS.includes(mode)) throw typeError('ERR_INVALID_OPTION', `read(stream) seek must be one of ${SEEKS.join(', ')}; got ${JSON.stringify(seek)}.`);
    const sequence = mode === 'sequence' ? Number(opts.sequence) : undefined;
    if (mode === 'sequence' && !(Number.isInteger(sequence) && sequence! >= 0)) throw typeError('ERR_INVALID_OPTION', `read(stream) with seek 'sequence' needs sequence, a whole number 0 or more; got ${String(opts.sequence)}.`);
    const now = this.context.now();
    if (mode === 'time' && opts.start === undefined) throw typeError('ERR_INVALID_OPTION', "read(stream) with seek 'time' needs start, such as 'now-1h'.");
    const from = mode === 'time' ? parseTime(opts.start, 'read(stream) start', now) : -Infinity;
    const columns = nameList(opts.columns, 'read(stream) columns');
    const unknown = (columns ?? []).filter((c) => !RECORD_COLUMNS.includes(c));
    if (unknown.length > 0) throw new LaminateError('ERR_SCHEMA', `read(stream): there is no column ${unknown.map((c) => `"${c}"`).join(', ')}; a stream's columns are ${RECORD_COLUMNS.map((c) => `"${c}"`).join(', ')}.`);
    return this.context.stack.withLock(async () => {
      const attrs = await this.attrs(table);
      const shards = opts.shard === undefined ? Array.from({ length: attrs.shards }, (_, i) => i) : [shardNumber(opts.shard, attrs.shards)];
      const oldest = now - attrs.retentionHours * 3_600_000;
      const parts: { table: Table; rows: number[]; shard: number }[] = [];
      for (const shard of shards) {
        const stored = await this.shard(table, shard).read();
        if (stored.numRows === 0) continue;
        const seq = stored.getChild('sequence')!.toArray() as Float64Array;
        const time = stored.getChild('time')!.toArray() as Float64Array;
        let rows: number[] = [];
        for (let i = 0; i < seq.length; i++) {
          if (time[i] < oldest) continue;
          if (mode === 'sequence' && seq[i] < sequence!) continue;
          if (mode === 'time' && time[i] < from) continue;
          rows.push(i);
        }
        if (mode === 'latest') rows = rows.length === 0 ? [] : [rows[rows.length - 1]];
        parts.push({ table: stored, rows, shard });
      }
      const joined = joinShards(parts);
      return columns === undefined ? joined : joined.select(columns);
    });
  }

  async delete(table: string): Promise<void> {
    await this.context.stack.withLock(async () => {
      const attrs = await readAttrs<StreamAttrs>(this.context.stack, this.base(table));
      if (attrs === undefined) return;
      for (let shard = 0; shard < attrs.shards; shard++) {
        await this.shard(table, shard).remove();
        await this.context.stack.delete([this.counterKey(table, shard)]);
      }
      await deleteAttrs(this.context.stack, this.base(table));
    });
  }

  async execute(table: string, command: string, args: Options): Promise<unknown> {
    switch (command) {
      case 'put': {
        const data = args.data;
        if (typeof data !== 'string') throw typeError('ERR_INVALID_OPTION', "execute(stream, 'put') needs args.data, the record's data as a string.");
        const partition = optionalString(args.partition, "execute(stream, 'put') args.partition");
        const clientInfo = optionalString(args.clientInfo ?? args.clientinfo, "execute(stream, 'put') args.clientInfo");
        const [placed] = await this.put(table, [{ data, partition, clientInfo }]);
        return placed;
      }
      case 'trim':
        return this.trim(table);
      default:
        throw unknownCommand('stream', command, ['put', 'trim']);
    }
  }

  /** Rewrites each shard without the records past retention; returns how many were dropped. */
  async trim(table: string): Promise<{ dropped: number }> {
    return this.context.stack.withLock(async () => {
      const attrs = await this.attrs(table);
      const oldest = this.context.now() - attrs.retentionHours * 3_600_000;
      let dropped = 0;
      for (let shard = 0; shard < attrs.shards; shard++) {
        const piece = this.shard(table, shard);
        const stored = await piece.read();
        if (stored.numRows === 0) continue;
        const time = stored.getChild('time')!.toArray() as Float64Array;
        const keep: number[] = [];
        for (let i = 0; i < time.length; i++) if (time[i] >= oldest) keep.push(i);
        if (keep.length === time.length) continue;
        dropped += time.length - keep.length;
        await piece.replace(takeRows(stored, keep));
      }
      return { dropped };
    });
  }
}

function shardNumber(value: unknown, shards: number): number {
  const shard = Number(value);
  if (!Number.isInteger(shard) || shard < 0 || shard >= shards) throw typeError('ERR_INVALID_OPTION', `read(stream) shard must be a whole number from 0 to ${shards - 1}; got ${String(value)}.`);
  return shard;
}

/** FNV-1a over the key's UTF-16 code units: the same partition key always picks the same shard. */
function hash(key: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < key.length; i++) {
    h ^= key.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return h >>> 0;
}

function rowObjects(table: Table, names: readonly string[]): Record<string, unknown>[] {
  const columns = names.map((name) => valuesOf(table.getChild(name)!));
  return Array.from({ length: table.numRows }, (_, i) => Object.fromEntries(names.map((name, k) => [name, columns[k][i]])));
}

/** The chosen records of every shard, shard by shard, with a `shard` column first. */
function joinShards(parts: readonly { table: Table; rows: number[]; shard: number }[]): Table {
  const columns = ['sequence', 'time', 'partition', 'clientInfo', 'data'];
  const shard: number[] = [];
  const values = columns.map(() => [] as unknown[]);
  for (const part of parts) {
    const picked = takeRows(part.table.select(columns), part.rows);
    const read = columns.map((c) => valuesOf(picked.getChild(c)!));
    for (let i = 0; i < part.rows.length; i++) {
      shard.push(part.shard);
      read.forEach((column, k) => values[k].push(column[i]));
    }
  }
  return tableOf([
    ['shard', floats(Float64Array.from(shard))],
    ['sequence', floats(Float64Array.from(values[0] as number[]))],
    ['time', floats(Float64Array.from(values[1] as number[]))],
    ['partition', vectorFromArray(values[2] as (string | null)[], new Utf8())],
    ['clientInfo', vectorFromArray(values[3] as (string | null)[], new Utf8())],
    ['data', vectorFromArray(values[4] as string[], new Utf8())],
  ]);
}
