/**
 * EpisodePool: typed episodes with metadata, queries and uniform random
 * sampling, over any laminate store stack.
 *
 * Layout (all under the tuple keys ['pool', …] of the stack's bytes store):
 *
 *   ['pool', 'segment', name]   episodes, each one frame: exactly what arrow()
 *                               would append for it (an Arrow IPC stream),
 *                               through the stack's compression layers. A
 *                               pool instance appends to segments of its own
 *                               and starts a new one past `segmentBytes`.
 *   ['pool', 'index', gen]      the index: msgpack record frames (what
 *                               msgpack(…, { records: true }) writes over the
 *                               same compression layers) of `add`, `remove`
 *                               and `next` records, in commit order.
 *   ['pool', 'generation']      one byte per compaction: its length names the
 *                               index key in use.
 *   iset ['pool', 'schema']     the schema (set once, kept forever).
 *
 * Every change runs under the stack's lock (the directory lock of file(),
 * the server's lock through client()): it first reads the index frames other
 * processes appended since, then writes the episodes, makes them durable,
 * and only then appends their index records. An index record therefore never
 * names data that is not there, whatever moment a writer is killed at.
 */
import { ArrowStore } from '@laminate/arrow';
import { type BaseStore, type EncodeStore, LaminateError, buffer, dict, file, keyId, keyParts, msgpack, readRangeIds, splitFrames, typeError, zstd } from '@laminate/core';
import type { Table } from 'apache-arrow';
import { decodeUp, encodeDown, fromStream, inspectStack, type Stack, toStream } from './encoding.js';
import { distinctIndices, generator, seedOf } from './random.js';
import { PoolSchema, type PoolSchemaInput, type PoolSchemaJSON, normalizeSchema, readSchema, schemaChanges } from './schema.js';
import { type Entry, fieldOf, sampleTable } from './table.js';

export interface EpisodePoolOptions {
  /** The columns and metadata fields; needed to create a pool, checked against the stored one when reopening. */
  schema?: PoolSchemaInput;
  /** EpisodePool.open: fsync episodes and index records before store() resolves (survives power loss, not only a crash). */
  fsync?: boolean;
  /** EpisodePool.open: the memory of the buffer() in the default stack. Default 64 MiB. */
  availableMemory?: number;
  /** Start a new segment key once the current one holds this many bytes. Default 64 MiB. */
  segmentBytes?: number;
}

/** One episode's metadata, as find() returns it. */
export interface EpisodeMeta {
  id: number;
  vehicle: string;
  driver: string;
  start: Date;
  /** Number of timesteps. */
  steps: number;
  /** The declared metadata fields. */
  [field: string]: unknown;
}

/** A range of values: from (inclusive) to (exclusive); either end may be left open. */
export interface Range {
  from?: number | Date;
  to?: number | Date;
}

/**
 * Which episodes: every field given must match. A value matches by equality,
 * an array by membership, a { from, to } range by from ≤ value < to (numbers
 * and times). `id` selects by episode id.
 */
export type Query = {
  id?: number | readonly number[];
  vehicle?: string | readonly string[];
  driver?: string | readonly string[];
  start?: number | Date | readonly (number | Date)[] | Range;
} & Record<string, unknown>;

export interface SampleOptions {
  /** The same seed, pool contents and query give the same sample. */
  seed?: number;
}

interface Pending {
  bytes: Uint8Array;
  steps: number;
  meta: ReturnType<PoolSchema['checkMeta']>;
  resolve(id: number): void;
  reject(error: unknown): void;
}

interface SegmentStats {
  live: number;
  dead: number;
  deadBytes: number;
}

type IndexRecord =
  | ({ op: 'add' } & Omit<Entry, never>)
  | { op: 'remove'; ids: number[] }
  | { op: 'next'; id: number };

const SCHEMA_KEY = ['pool', 'schema'];
const GENERATION = keyId(['pool', 'generation']);
const indexKey = (generation: number) => keyId(['pool', 'index', String(generation)]);
const segmentKeys = new Map<string, string>();
const segmentKey = (name: string) => {
  let id = segmentKeys.get(name);
  if (id === undefined) {
    if (segmentKeys.size > 10_000) segmentKeys.clear();
    segmentKeys.set(name, (id = keyId(['pool', 'segment', name])));
  }
  return id;
};

/** Episodes read per locked section by iterate() and compact(). */
const READ_BATCH_BYTES = 8 << 20;

/** Consecutive runs of entries of up to READ_BATCH_BYTES (one larger entry alone), read with one readFrames call each. */
function* readBatches(entries: readonly Entry[]): Generator<{ chunk: Entry[]; bytes: number }> {
  for (let i = 0; i < entries.length; ) {
    const chunk: Entry[] = [];
    let bytes = 0;
    while (i < entries.length && (chunk.length === 0 || bytes + entries[i].length <= READ_BATCH_BYTES)) {
      bytes += entries[i].length;
      chunk.push(entries[i++]);
    }
    yield { chunk, bytes };
  }
}

export class EpisodePool {
  private readonly stack: Stack;
  private readonly index: EncodeStore<IndexRecord[]>;
  private readonly segmentBytes: number;
  private readonly ready: Promise<void>;
  private schemaInfo?: PoolSchema;
  private closed = false;
  private closing?: Promise<void>;

  // The index in memory.
  private readonly entries = new Map<number, Entry>();
  /** Live entries in id order: what sample() draws from without a query. */
  private live: Entry[] = [];
  private byStart: Entry[] = [];
  private readonly byValue = new Map<string, Map<unknown, Set<Entry>>>();
  private readonly segments = new Map<string, SegmentStats>();
  private nextId = 0;
  private generation = 0;
  /** Bytes of the index key read so far. */
  private consumed = 0;

  // This instance's own segment.
  private readonly writer = `${process.pid.toString(36)}-${Date.now().toString(36)}-${Math.random().toString(36).slice(2, 8)}`;
  private segmentCount = 0;
  private segment?: string;
  private segmentSize = 0;

  private pending: Pending[] = [];
  private committing?: Promise<void>;

  /** A pool over `store`: arrow(…) over bytes layers, or a bytes stack (arrow is implied). The pool owns the store and closes it. */
  constructor(
    private readonly base: BaseStore<unknown>,
    private readonly opts: EpisodePoolOptions = {},
  ) {
    this.stack = inspectStack(base);
    this.index = msgpack<IndexRecord>(this.stack.inner, { records: true });
    this.segmentBytes = opts.segmentBytes ?? 64 << 20;
    if (!(this.segmentBytes > 0)) throw typeError('ERR_INVALID_OPTION', 'EpisodePool: segmentBytes must be a positive number of bytes.');
    if (opts.fsync && !stackFsyncs(base)) {
      throw typeError('ERR_INVALID_OPTION', 'EpisodePool: { fsync: true } needs a stack that fsyncs: build it with file(dir, { fsync: true }), or use EpisodePool.open(dir, { fsync: true }).');
    }
    this.ready = this.init();
    this.ready.catch(() => undefined);
  }

  /** A pool in `dir` over arrow(zstd(buffer(dict(), file(dir)))); creates it when `opts.schema` is given. */
  static async open(dir: string, opts: EpisodePoolOptions = {}): Promise<EpisodePool> {
    if (typeof dir !== 'string') throw typeError('ERR_INVALID_OPTION', 'EpisodePool.open(dir, opts) takes the pool\'s directory.');
    const stack = new ArrowStore(zstd(buffer(dict(), file(dir, opts.fsync ? { fsync: true } : {}), { availableMemory: opts.availableMemory ?? 64 << 20 })));
    const pool = new EpisodePool(stack, opts);
    try {
      await pool.ready;
    } catch (error) {
      await stack.close().catch(() => undefined);
      throw error;
    }
    return pool;
  }

  /** The pool's schema (as stored). */
  async schema(): Promise<PoolSchemaJSON> {
    await this.opened();
    return this.schemaInfo!.json;
  }

  /** How many episodes the pool holds (as of the last operation of this instance). */
  get size(): number {
    return this.live.length;
  }

  private async init(): Promise<void> {
    const given = this.opts.schema === undefined ? undefined : normalizeSchema(this.opts.schema);
    const schemaId = keyId(SCHEMA_KEY);
    if (given) await this.stack.bottom.isetId(schemaId, encodeDown(this.stack, this.index.codec.encode([given as never])));
    const storedBytes = await this.stack.bottom.igetId(schemaId);
    if (storedBytes === undefined) {
      throw new LaminateError('ERR_SCHEMA', 'This pool has no schema yet: pass { schema: { columns, metadata } } to create it.');
    }
    const stored = readSchema((this.index.codec.decode(decodeUp(this.stack, storedBytes, 'schema')) as unknown[])[0]);
    if (given) {
      const changes = schemaChanges(stored, given);
      if (changes.length > 0) throw new LaminateError('ERR_SCHEMA', `The pool was created with another schema: ${changes.join('; ')}. Open it without a schema to use the stored one, or use another directory.`);
    }
    this.schemaInfo = new PoolSchema(stored);
    await this.locked(() => this.refresh());
  }

  private async opened(): Promise<PoolSchema> {
    if (this.closed || this.closing) throw new LaminateError('ERR_CLOSED', 'This EpisodePool is closed; open it again to keep using it.');
    await this.ready;
    return this.schemaInfo!;
  }

  private locked<T>(fn: () => Promise<T>): Promise<T> {
    return this.stack.bottom.withLock(fn);
  }

  private async flush(): Promise<void> {
    for (const b of this.stack.buffers) await b.flush();
  }

  // ------------------------------------------------------------ the index

  /** Reads what other processes added to the index since the last look (call under the lock). */
  private async refresh(): Promise<void> {
    const [generation, tail] = await readRangeIds(this.stack.bottom, [
      { id: GENERATION, offset: 0, length: Infinity },
      { id: indexKey(this.generation), offset: this.consumed, length: Infinity },
    ]);
    if (generation.byteLength !== this.generation || this.consumed < 0) return this.reload(generation.byteLength);
    this.applyBytes(tail);
  }

  private async reload(generation: number): Promise<void> {
    this.entries.clear();
    this.live = [];
    this.byStart = [];
    this.byValue.clear();
    this.segments.clear();
    this.nextId = 0;
    this.generation = generation;
    this.consumed = 0;
    const [bytes] = await readRangeIds(this.stack.bottom, [{ id: indexKey(generation), offset: 0, length: Infinity }]);
    this.applyBytes(bytes);
  }

  /** Applies the whole frames of `bytes` (the index from `consumed` on); a torn last frame is cut off. */
  private applyBytes(bytes: Uint8Array): void {
    const id = indexKey(this.generation);
    const { payloads, rest } = splitFrames(bytes, id, false);
    for (const payload of payloads) {
      const records = this.index.codec.decode(decodeUp(this.stack, payload, 'index', true));
      this.apply(records);
    }
    this.consumed += rest;
    if (rest < bytes.byteLength) this.tornIndex = true;
  }

  /** Set when the index ends in a partial frame, left by a writer killed mid-append; cut off before the next append. */
  private tornIndex = false;

  private async repairIndex(): Promise<void> {
    const id = indexKey(this.generation);
    const [whole] = await readRangeIds(this.stack.bottom, [{ id, offset: 0, length: Infinity }]);
    const kept = Buffer.from(whole.subarray(0, this.consumed));
    await this.stack.bottom.deleteIds([id]);
    if (kept.byteLength > 0) await this.stack.bottom.appendIds([id], [kept]);
    await this.flush();
    this.tornIndex = false;
  }

  private apply(records: IndexRecord[]): void {
    const removed: Entry[] = [];
    for (const record of records) {
      if (record.op === 'add') this.add(record);
      else if (record.op === 'remove') {
        for (const id of record.ids) {
          const entry = this.entries.get(id);
          if (entry) removed.push(entry);
        }
      } else if (record.op === 'next') this.nextId = Math.max(this.nextId, record.id);
    }
    if (removed.length > 0) this.forget(removed);
  }

  private add(record: Entry): void {
    if (this.entries.has(record.id)) return;
    const entry: Entry = { id: record.id, segment: record.segment, offset: record.offset, length: record.length, steps: record.steps, vehicle: record.vehicle, driver: record.driver, start: record.start, fields: record.fields ?? {} };
    this.entries.set(entry.id, entry);
    this.nextId = Math.max(this.nextId, entry.id + 1);
    if (this.live.length === 0 || this.live[this.live.length - 1].id < entry.id) this.live.push(entry);
    else this.live.splice(lowerBound(this.live, (e) => e.id < entry.id), 0, entry);
    const at = lowerBound(this.byStart, (e) => e.start < entry.start || (e.start === entry.start && e.id < entry.id));
    if (at === this.byStart.length) this.byStart.push(entry);
    else this.byStart.splice(at, 0, entry);
    for (const field of this.schemaInfo!.metadata) {
      if (field.name === 'start') continue;
      let values = this.byValue.get(field.name);
      if (!values) this.byValue.set(field.name, (values = new Map()));
      const value = fieldOf(entry, field.name);
      let set = values.get(value);
      if (!set) values.set(value, (set = new Set()));
      set.add(entry);
    }
    const stats = this.segmentStats(entry.segment);
    stats.live++;
  }

  private segmentStats(name: string): SegmentStats {
    let stats = this.segments.get(name);
    if (!stats) this.segments.set(name, (stats = { live: 0, dead: 0, deadBytes: 0 }));
    return stats;
  }

  private forget(removed: Entry[]): void {
    const gone = new Set(removed);
    for (const entry of removed) {
      this.entries.delete(entry.id);
      for (const values of this.byValue.values()) {
        for (const [value, set] of values) {
          if (set.delete(entry) && set.size === 0) values.delete(value);
        }
      }
      const stats = this.segmentStats(entry.segment);
      stats.live--;
      stats.dead++;
      stats.deadBytes += entry.length;
    }
    this.live = this.live.filter((e) => !gone.has(e));
    this.byStart = this.byStart.filter((e) => !gone.has(e));
  }

  /** Appends index records after the data they name is durable (call under the lock). */
  private async appendIndex(records: IndexRecord[]): Promise<void> {
    if (this.tornIndex) await this.repairIndex();
    const bytes = encodeDown(this.stack, this.index.codec.encode(records));
    try {
      await this.stack.bottom.appendIds([indexKey(this.generation)], [bytes]);
      await this.flush();
    } catch (error) {
      // Whether the records reached the index is unknown: read it again next time.
      this.consumed = -1;
      throw error;
    }
    this.consumed += bytes.byteLength;
    this.apply(records);
  }

  // ------------------------------------------------------------ store

  /**
   * Stores one episode: an apache-arrow Table (or RecordBatch) with the
   * schema's columns, or an object of column → array. Resolves with its id
   * once the episode and its index record are written through the stack
   * (fsynced too with { fsync: true }). Concurrent calls are committed
   * together. ERR_SCHEMA names any mismatch; nothing is stored then.
   */
  async store(episode: unknown, meta: Record<string, unknown>): Promise<number> {
    const schema = await this.opened();
    const { batches, meta: checked } = schema.check(episode, meta);
    let steps = 0;
    for (const batch of batches) steps += batch.numRows;
    if (steps === 0) throw typeError('ERR_VALUE_TYPE', 'store(): the episode has no steps; an episode needs at least one row. Nothing was stored.');
    const bytes = encodeDown(this.stack, toStream(batches, schema.arrow!));
    return new Promise<number>((resolve, reject) => {
      this.pending.push({ bytes, steps, meta: checked, resolve, reject });
      this.committing ??= this.drain();
    });
  }

  private async drain(): Promise<void> {
    // Let the calls made in the same turn of the event loop join this commit.
    await new Promise((resolve) => setImmediate(resolve));
    while (this.pending.length > 0) {
      const batch = this.pending.splice(0, 4096);
      try {
        const ids = await this.commit(batch);
        batch.forEach((p, i) => p.resolve(ids[i]));
      } catch (error) {
        for (const p of batch) p.reject(error);
      }
    }
    this.committing = undefined;
  }

  private commit(batch: Pending[]): Promise<number[]> {
    return this.locked(async () => {
      await this.refresh();
      let total = 0;
      for (const p of batch) total += p.bytes.byteLength;
      const current = this.segment === undefined ? undefined : this.segments.get(this.segment);
      // A new segment when none is open, when the open one is full, or when
      // others removed every episode of it (and so its key).
      if (this.segment === undefined || (this.segmentSize > 0 && (current === undefined || current.live === 0)) || (this.segmentSize > 0 && this.segmentSize + total > this.segmentBytes)) {
        this.segment = `${this.writer}-${this.segmentCount++}`;
        this.segmentSize = 0;
      }
      const segment = this.segment;
      const data = Buffer.allocUnsafe(total);
      const records: IndexRecord[] = [];
      let at = 0;
      for (const p of batch) {
        data.set(p.bytes, at);
        records.push({ op: 'add', id: this.nextId + records.length, segment, offset: this.segmentSize + at, length: p.bytes.byteLength, steps: p.steps, vehicle: p.meta.vehicle, driver: p.meta.driver, start: p.meta.start, fields: p.meta.fields });
        at += p.bytes.byteLength;
      }
      try {
        await this.stack.bottom.appendIds([segmentKey(segment)], [data]);
        await this.flush();
      } catch (error) {
        // Some of the data may be in the segment: leave it to compact() and start another.
        this.segment = undefined;
        throw error;
      }
      this.segmentSize += total;
      await this.appendIndex(records);
      return records.map((r) => (r as Entry).id);
    });
  }

  // ------------------------------------------------------------ queries

  /** The entries matching `query`, in id order (call with the index fresh). */
  private match(query: Query | undefined): Entry[] {
    if (query === undefined || query === null) return this.live;
    if (typeof query !== 'object' || Array.isArray(query)) throw typeError('ERR_INVALID_OPTION', 'A query is an object of field → value, [values] or { from, to }, such as { vehicle: "car-7", start: { from: new Date("2024-01-01") } }.');
    const schema = this.schemaInfo!;
    const tests: ((e: Entry) => boolean)[] = [];
    let candidates: Iterable<Entry> = this.live;
    let candidateCount = this.live.length;
    let ordered = true;
    const narrow = (entries: Iterable<Entry>, count: number, inIdOrder: boolean) => {
      if (count < candidateCount) {
        candidates = entries;
        candidateCount = count;
        ordered = inIdOrder;
      }
    };
    for (const [name, condition] of Object.entries(query)) {
      if (condition === undefined) continue;
      const field = name === 'id' ? { name: 'id', type: 'int32' as const } : schema.metadata.find((m) => m.name === name);
      if (!field) throw typeError('ERR_INVALID_OPTION', `The query names "${name}", which is not a metadata field of this pool; its fields are id, ${schema.metadata.map((m) => m.name).join(', ')}.`);
      const time = field.type === 'timestamp';
      const norm = (v: unknown) => (v instanceof Date ? v.getTime() : v);
      if (Array.isArray(condition)) {
        const values = new Set(condition.map(norm));
        tests.push((e) => values.has(fieldOf(e, name)));
        if (name === 'id') {
          const found = [...values].map((v) => this.entries.get(v as number)).filter((e): e is Entry => e !== undefined);
          narrow(found.sort((a, b) => a.id - b.id), found.length, true);
        } else if (!time) {
          const sets = [...values].map((v) => this.byValue.get(name)?.get(v)).filter((s): s is Set<Entry> => s !== undefined);
          const count = sets.reduce((n, s) => n + s.size, 0);
          if (count < candidateCount) narrow(sets.flatMap((s) => [...s]), count, sets.length <= 1);
        }
      } else if (condition !== null && typeof condition === 'object' && !(condition instanceof Date)) {
        const { from, to, ...other } = condition as Range;
        if (Object.keys(other).length > 0 || (from === undefined && to === undefined)) throw typeError('ERR_INVALID_OPTION', `The range for "${name}" takes { from, to } (from included, to excluded); got keys ${Object.keys(condition).join(', ')}.`);
        if (field.type !== 'timestamp' && field.type !== 'float64' && field.type !== 'int32') throw typeError('ERR_INVALID_OPTION', `"${name}" is ${field.type}: a range applies to numbers and times only.`);
        const lo = from === undefined ? -Infinity : (norm(from) as number);
        const hi = to === undefined ? Infinity : (norm(to) as number);
        if (typeof lo !== 'number' || typeof hi !== 'number' || Number.isNaN(lo) || Number.isNaN(hi)) throw typeError('ERR_INVALID_OPTION', `The range for "${name}" takes numbers or Dates.`);
        tests.push((e) => {
          const v = fieldOf(e, name) as number;
          return v >= lo && v < hi;
        });
        if (name === 'start') {
          const a = lowerBound(this.byStart, (e) => e.start < lo);
          const b = lowerBound(this.byStart, (e) => e.start < hi);
          narrow(this.byStart.slice(a, Math.max(a, b)), Math.max(0, b - a), false);
        }
      } else {
        const value = norm(condition);
        tests.push((e) => fieldOf(e, name) === value);
        if (name === 'id') {
          const e = this.entries.get(value as number);
          narrow(e ? [e] : [], e ? 1 : 0, true);
        } else if (!time) {
          const set = this.byValue.get(name)?.get(value);
          narrow(set ?? [], set?.size ?? 0, true);
        }
      }
    }
    const out: Entry[] = [];
    for (const e of candidates) if (tests.every((t) => t(e))) out.push(e);
    if (!ordered) out.sort((a, b) => a.id - b.id);
    return out;
  }

  private metaOf(e: Entry): EpisodeMeta {
    return { id: e.id, vehicle: e.vehicle, driver: e.driver, start: new Date(e.start), steps: e.steps, ...e.fields };
  }

  /** The ids and metadata of the matching episodes, in id order. */
  async find(query?: Query): Promise<EpisodeMeta[]> {
    await this.opened();
    return this.locked(async () => {
      await this.refresh();
      return this.match(query).map((e) => this.metaOf(e));
    });
  }

  /** How many episodes match. */
  async count(query?: Query): Promise<number> {
    await this.opened();
    return this.locked(async () => {
      await this.refresh();
      return this.match(query).length;
    });
  }

  /** Reads the frames of `entries` (call under the lock); an empty result means the episode's data is gone. */
  private async readFrames(entries: Entry[]): Promise<Uint8Array[]> {
    const frames = await readRangeIds(
      this.stack.bottom,
      entries.map((e) => ({ id: segmentKey(e.segment), offset: e.offset, length: e.length })),
    );
    return frames;
  }

  private streamOf(entry: Entry, frame: Uint8Array): Uint8Array {
    if (frame.byteLength !== entry.length) {
      throw new LaminateError('ERR_CORRUPT_FRAME', `Episode ${entry.id} should be ${entry.length} bytes at byte ${entry.offset} of segment ${entry.segment}, but ${frame.byteLength} are there: the pool's files were changed outside it. remove({ id: ${entry.id} }) drops it from the index.`);
    }
    return decodeUp(this.stack, frame, `episode ${entry.id}`);
  }

  /**
   * n distinct episodes drawn uniformly at random from those matching
   * `query`, as one Arrow Table: an `episode` and a `step` column, the
   * metadata columns, then the timestep columns, one row per step, episodes
   * in the order drawn. When fewer than n match, all of them are returned
   * (in random order); none match: a table with no rows.
   */
  async sample(n: number, query?: Query, opts: SampleOptions = {}): Promise<Table> {
    const schema = await this.opened();
    if (!Number.isInteger(n) || n < 0) throw typeError('ERR_INVALID_OPTION', `sample(n): n must be a whole number of episodes, 0 or more; got ${String(n)}.`);
    const random = generator(seedOf(opts.seed));
    const { picks, frames } = await this.locked(async () => {
      await this.refresh();
      const matching = this.match(query);
      const picks = distinctIndices(matching.length, Math.min(n, matching.length), random).map((i) => matching[i]);
      return { picks, frames: await this.readFrames(picks) };
    });
    const streams = picks.map((e, i) => this.streamOf(e, frames[i]));
    return sampleTable(schema, picks, streams);
  }

  /** One episode's steps and metadata, or undefined when the pool does not hold it. */
  async get(id: number): Promise<{ meta: EpisodeMeta; table: Table } | undefined> {
    await this.opened();
    const found = await this.locked(async () => {
      await this.refresh();
      const entry = this.entries.get(id);
      return entry ? { entry, frame: (await this.readFrames([entry]))[0] } : undefined;
    });
    if (!found) return undefined;
    return { meta: this.metaOf(found.entry), table: fromStream(this.streamOf(found.entry, found.frame), `episode ${id}`) };
  }

  /**
   * The matching episodes one by one, in id order, each as its metadata and
   * a Table of its steps. Reads a few MiB of episodes at a time, so memory
   * stays bounded however many match. Episodes removed meanwhile are skipped
   * once their data is gone.
   */
  async *iterate(query?: Query): AsyncIterable<{ meta: EpisodeMeta; table: Table }> {
    await this.opened();
    const matching = await this.locked(async () => {
      await this.refresh();
      return this.match(query).slice();
    });
    for (const { chunk } of readBatches(matching)) {
      if (this.closed || this.closing) throw new LaminateError('ERR_CLOSED', 'The EpisodePool was closed while iterating.');
      const frames = await this.locked(() => this.readFrames(chunk));
      for (let j = 0; j < chunk.length; j++) {
        if (frames[j].byteLength === 0) continue;
        yield { meta: this.metaOf(chunk[j]), table: fromStream(this.streamOf(chunk[j], frames[j]), `episode ${chunk[j].id}`) };
      }
    }
  }

  // ------------------------------------------------------------ removal

  /**
   * Removes the matching episodes from the index and returns how many. A
   * segment left without episodes is deleted at once; the space of episodes
   * in segments that keep others is reclaimed by compact().
   */
  async remove(query: Query): Promise<number> {
    await this.opened();
    if (query === undefined || query === null || typeof query !== 'object') throw typeError('ERR_INVALID_OPTION', 'remove(query) needs a query; remove({}) removes every episode.');
    return this.locked(async () => {
      await this.refresh();
      const matching = this.match(query);
      if (matching.length === 0) return 0;
      const touched = new Set(matching.map((e) => e.segment));
      await this.appendIndex([{ op: 'remove', ids: matching.map((e) => e.id) }]);
      const empty = [...touched].filter((s) => (this.segments.get(s)?.live ?? 0) === 0);
      if (empty.length > 0) {
        await this.stack.bottom.deleteIds(empty.map(segmentKey));
        for (const s of empty) this.segments.delete(s);
      }
      return matching.length;
    });
  }

  /**
   * Rewrites the segments that hold removed episodes, keeping only the live
   * ones, and the index without removed entries; deletes segments no index
   * entry names (left by writers killed mid-store). Returns the bytes of
   * episode data reclaimed. A crash at any point leaves the old or the new
   * layout whole.
   */
  async compact(): Promise<{ segments: number; bytes: number }> {
    await this.opened();
    return this.locked(async () => {
      await this.refresh();
      const rewrite = [...this.segments].filter(([, s]) => s.dead > 0 && s.live > 0).map(([name]) => name);
      const rewriteSet = new Set(rewrite);
      let reclaimed = 0;
      for (const name of rewrite) reclaimed += this.segments.get(name)!.deadBytes;
      // Copy the live episodes of those segments to new segments of this writer.
      const moved = new Map<number, { segment: string; offset: number }>();
      const toMove = this.live.filter((e) => rewriteSet.has(e.segment));
      let segment = `${this.writer}-${this.segmentCount++}`;
      let size = 0;
      for (const { chunk, bytes } of readBatches(toMove)) {
        if (size > 0 && size + bytes > this.segmentBytes) {
          segment = `${this.writer}-${this.segmentCount++}`;
          size = 0;
        }
        const frames = await this.readFrames(chunk);
        chunk.forEach((e, j) => {
          if (frames[j].byteLength !== e.length) this.streamOf(e, frames[j]);
          moved.set(e.id, { segment, offset: size });
          size += e.length;
        });
        await this.stack.bottom.appendIds([segmentKey(segment)], [Buffer.concat(frames)]);
      }
      await this.flush();
      // The new index, under the next generation; it takes effect when the generation key grows.
      const next = this.generation + 1;
      const records: IndexRecord[] = [{ op: 'next', id: this.nextId }];
      for (const e of this.live) records.push({ op: 'add', ...e, ...moved.get(e.id) });
      await this.stack.bottom.deleteIds([indexKey(next)]);
      const frames: Uint8Array[] = [];
      for (let i = 0; i < records.length; i += 10_000) frames.push(encodeDown(this.stack, this.index.codec.encode(records.slice(i, i + 10_000))));
      await this.stack.bottom.appendIds([indexKey(next)], [Buffer.concat(frames)]);
      await this.flush();
      await this.stack.bottom.appendIds([GENERATION], [Buffer.from([next & 0xff])]);
      await this.flush();
      // From here the old index and segments are garbage; delete them, and any segment no entry names.
      await this.reload(next);
      const named = new Set(this.live.map((e) => e.segment));
      const stale: string[] = [];
      for (const id of await this.stack.bottom.listIds()) {
        const key = keyParts(id);
        if (key.length === 3 && key[0] === 'pool' && key[1] === 'segment' && !named.has(key[2])) stale.push(id);
        if (key.length === 3 && key[0] === 'pool' && key[1] === 'index' && key[2] !== String(next)) stale.push(id);
      }
      await this.stack.bottom.deleteIds(stale);
      if (this.segment !== undefined && !named.has(this.segment)) this.segment = undefined;
      return { segments: rewrite.length, bytes: reclaimed };
    });
  }

  // ------------------------------------------------------------ closing

  /** Waits for pending stores, then closes the store under the pool. */
  close(): Promise<void> {
    this.closing ??= (async () => {
      await this.ready.catch(() => undefined);
      while (this.committing) await this.committing;
      await this.base.close();
      this.closed = true;
    })();
    return this.closing;
  }

  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }

  /** The column names with `role` (as declared in the schema). */
  async columns(role?: string): Promise<string[]> {
    const schema = await this.opened();
    return role === undefined ? schema.columns.map((c) => c.name) : schema.columnsWith(role);
  }
}

/** The first index i with !before(list[i]), for a list sorted so that `before` holds on a prefix. */
function lowerBound<T>(list: readonly T[], before: (x: T) => boolean): number {
  let lo = 0;
  let hi = list.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (before(list[mid])) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

/** Whether the stack's file() stores fsync (or its bottom is not a file() at all: a client's server decides). */
function stackFsyncs(store: BaseStore<unknown>): boolean {
  const walk = (spec: Record<string, unknown>): boolean => {
    if (spec.type === 'file') return spec.fsync === true;
    return Object.values(spec).every((v) => (v !== null && typeof v === 'object' ? walk(v as Record<string, unknown>) : true));
  };
  return walk(store.describe() as Record<string, unknown>);
}

