/**
 * EpisodePool: typed episodes with metadata, queries and uniform random
 * sampling, over any laminate store stack. This class is the pool's API and
 * its lifecycle (opening the stack and its schema, closing); each mechanism
 * is a module of its own: layout.ts (keys and records), index-replay.ts (the
 * index in memory), writer.ts (group commit), query.ts, readers.ts and
 * compaction.ts.
 */
import { ArrowStore } from '@laminate/arrow';
import { type BaseStore, LaminateError, buffer, dict, file, zstd } from '@laminate/core';
import { typeError } from '@laminate/core/layer';
import type { Table } from 'apache-arrow';
import { compact, remove } from './compaction.js';
import { decodeUp, encodeDown, inspectStack, type Stack } from './encoding.js';
import { PoolIndex } from './index-replay.js';
import { SCHEMA_KEY, recordCodec } from './layout.js';
import { type EpisodeMeta, type Query, match, metaOf } from './query.js';
import { type SampleOptions, getEpisode, iterate, sample } from './readers.js';
import { PoolSchema, type PoolSchemaInput, type PoolSchemaJSON, normalizeSchema, readSchema, schemaChanges } from './schema.js';
import { Writer } from './writer.js';

export interface EpisodePoolOptions {
  /** The columns, metadata fields and time field; needed to create a pool, checked against the stored one when reopening. */
  schema?: PoolSchemaInput;
  /** EpisodePool.open: fsync episodes and index records before store() resolves (survives power loss, not only a crash). */
  fsync?: boolean;
  /** EpisodePool.open: the memory of the buffer() in the default stack. Default 64 MiB. */
  availableMemory?: number;
  /** Start a new segment key once the current one holds this many bytes. Default 64 MiB. */
  segmentBytes?: number;
}

export class EpisodePool {
  private readonly stack: Stack;
  private readonly segmentBytes: number;
  private readonly ready: Promise<void>;
  /** Set once the schema is read. */
  private parts?: { index: PoolIndex; writer: Writer };
  private closed = false;
  private closing?: Promise<void>;

  /** A pool over `store`: arrow(…) over bytes layers, or a bytes stack (arrow is implied). The pool owns the store and closes it. */
  constructor(
    private readonly base: BaseStore<unknown>,
    private readonly opts: EpisodePoolOptions = {},
  ) {
    this.stack = inspectStack(base);
    this.segmentBytes = opts.segmentBytes ?? 64 << 20;
    if (!(this.segmentBytes > 0)) throw typeError('ERR_INVALID_OPTION', 'EpisodePool: segmentBytes must be a positive number of bytes.');
    if (opts.fsync && !stackFsyncs(base)) {
      throw typeError('ERR_INVALID_OPTION', 'EpisodePool: { fsync: true } needs a stack that fsyncs: build it with file(dir, { fsync: true }), or use EpisodePool.open(dir, { fsync: true }).');
    }
    this.ready = this.init();
    // Reported by the first call (or by open()), not as an unhandled rejection.
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

  /** Stores the schema if given (the first one stays), reads the stored one back and the index with it. */
  private async init(): Promise<void> {
    const codec = recordCodec(this.stack);
    const given = this.opts.schema === undefined ? undefined : normalizeSchema(this.opts.schema);
    if (given) await this.stack.bottom.isetId(SCHEMA_KEY, encodeDown(this.stack, codec.encode([given as never])));
    const storedBytes = await this.stack.bottom.igetId(SCHEMA_KEY);
    if (storedBytes === undefined) {
      throw new LaminateError('ERR_SCHEMA', 'This pool has no schema yet: pass { schema: { columns, metadata, time } } to create it.');
    }
    const stored = readSchema((codec.decode(decodeUp(this.stack, storedBytes, 'schema')) as unknown[])[0]);
    if (given) {
      const changes = schemaChanges(stored, given);
      if (changes.length > 0) throw new LaminateError('ERR_SCHEMA', `The pool was created with another schema: ${changes.join('; ')}. Open it without a schema to use the stored one, or use another directory.`);
    }
    const index = new PoolIndex(this.stack, new PoolSchema(stored), codec);
    await index.locked(async () => undefined); // reads the index as it stands
    this.parts = { index, writer: new Writer(index, this.segmentBytes) };
  }

  private async opened(): Promise<{ index: PoolIndex; writer: Writer }> {
    if (this.closed || this.closing) throw new LaminateError('ERR_CLOSED', 'This EpisodePool is closed; open it again to keep using it.');
    await this.ready;
    return this.parts!;
  }

  /** The pool's schema (as stored). */
  async schema(): Promise<PoolSchemaJSON> {
    return (await this.opened()).index.schema.json;
  }

  /** The column names with `role` (as declared in the schema). */
  async columns(role?: string): Promise<string[]> {
    const { schema } = (await this.opened()).index;
    return role === undefined ? schema.columns.map((c) => c.name) : schema.columnsWith(role);
  }

  /** How many episodes the pool holds (as of the last operation of this instance). */
  get size(): number {
    return this.parts?.index.live.length ?? 0;
  }

  /**
   * Stores one episode: an apache-arrow Table (or RecordBatch) with the
   * schema's columns, or an object of column → array, with its metadata (the
   * declared fields). Resolves with its id once the episode and its index
   * record are written through the stack (fsynced too with { fsync: true }).
   * Concurrent calls are committed together. ERR_SCHEMA names any mismatch;
   * nothing is stored then.
   */
  async store(episode: unknown, meta: Record<string, unknown>): Promise<number> {
    return (await this.opened()).writer.store(episode, meta);
  }

  /** The ids and metadata of the matching episodes, in id order. */
  async find(query?: Query): Promise<EpisodeMeta[]> {
    const { index } = await this.opened();
    return index.locked(async () => match(index, query).map((e) => metaOf(index.schema, e)));
  }

  /** How many episodes match. */
  async count(query?: Query): Promise<number> {
    const { index } = await this.opened();
    return index.locked(async () => match(index, query).length);
  }

  /**
   * n distinct episodes drawn uniformly at random from those matching
   * `query`, as one Arrow Table: an `episode` and a `step` column, the
   * metadata columns, then the timestep columns, one row per step, episodes
   * in the order drawn. When fewer than n match, all of them are returned
   * (in random order); none match: a table with no rows.
   */
  async sample(n: number, query?: Query, opts: SampleOptions = {}): Promise<Table> {
    return sample((await this.opened()).index, n, query, opts);
  }

  /** One episode's steps and metadata, or undefined when the pool does not hold it. */
  async get(id: number): Promise<{ meta: EpisodeMeta; table: Table } | undefined> {
    return getEpisode((await this.opened()).index, id);
  }

  /**
   * The matching episodes one by one, in id order, each as its metadata and
   * a Table of its steps. Reads a few MiB of episodes at a time, so memory
   * stays bounded however many match. Episodes removed meanwhile are skipped
   * once their data is gone.
   */
  async *iterate(query?: Query): AsyncIterable<{ meta: EpisodeMeta; table: Table }> {
    const { index } = await this.opened();
    yield* iterate(index, query, () => this.closed || this.closing !== undefined);
  }

  /**
   * Removes the matching episodes from the index and returns how many. A
   * segment left without episodes is deleted at once; the space of episodes
   * in segments that keep others is reclaimed by compact().
   */
  async remove(query: Query): Promise<number> {
    return remove((await this.opened()).index, query);
  }

  /**
   * Rewrites the segments that hold removed episodes, keeping only the live
   * ones, and the index without removed entries; deletes segments no index
   * entry names (left by writers killed mid-store). Returns the bytes of
   * episode data reclaimed. A crash at any point leaves the old or the new
   * layout whole.
   */
  async compact(): Promise<{ segments: number; bytes: number }> {
    const { index, writer } = await this.opened();
    return compact(index, writer);
  }

  /** Waits for pending stores, then closes the store under the pool. */
  close(): Promise<void> {
    this.closing ??= (async () => {
      await this.ready.catch(() => undefined);
      await this.parts?.writer.idle();
      await this.base.close();
      this.closed = true;
    })();
    return this.closing;
  }

  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }
}

/** Whether the stack's file() stores fsync (or its bottom is not a file() at all: a client's server decides). */
function stackFsyncs(store: BaseStore<unknown>): boolean {
  const walk = (spec: Record<string, unknown>): boolean => {
    if (spec.type === 'file') return spec.fsync === true;
    return Object.values(spec).every((v) => (v !== null && typeof v === 'object' ? walk(v as Record<string, unknown>) : true));
  };
  return walk(store.describe() as Record<string, unknown>);
}
