import { LaminateError, typeError } from './errors.js';
import { type ChangeWatch, type FollowRequest, type Followed, type Follower, changed, checkFollowOptions, followBytes, notFollowable, pollingWatch, sealInMemory, sealedInMemory, throwIfAborted } from './follow.js';
import { type Key, type KeyId, keyId, showKey } from './keys.js';
import { type KeyListing, type KeysOptions, listKeys } from './key-listing.js';
import { Mutex } from './mutex.js';
import { type Consumer, type ConsumerFollowOptions, ConsumerFollower, checkConsumer, checkPosition, notRetained, trimmedError } from './retention.js';

export type { Key, KeyId } from './keys.js';

/** Options every operation accepts; layers read the ones they know. */
export interface OpOptions {
  /** arrowColumns: the columns to read. */
  columns?: readonly string[];
  /**
   * append: the values' buffers are handed to the store, which may keep them
   * by reference instead of copying; the caller must not change them after
   * the call. Layers pass it down with the bytes they built themselves (an
   * encoder's frames, a spill). Without it, bytes layers copy what they keep.
   */
  transfer?: boolean;
  [option: string]: unknown;
}

/** A JSON description of a store stack: `open(spec)` rebuilds it. */
export interface StoreSpec {
  type: string;
  [field: string]: unknown;
}

export type AppendData<V> = Record<string, V> | Iterable<readonly [Key, V]>;

/** Part of one key's bytes, for readRanges: `length` bytes from `offset` (Infinity: to the end). */
export interface ByteRange {
  key: Key;
  offset: number;
  length: number;
}

/** A ByteRange with its key normalized, as layers pass it to each other. */
export interface IdRange {
  id: KeyId;
  offset: number;
  length: number;
}

export interface Store<V> {
  append(data: AppendData<V>, opts?: OpOptions): Promise<void>;
  get(key: Key, opts?: OpOptions): Promise<V>;
  getMany(keys: readonly Key[], opts?: OpOptions): Promise<V[]>;
  iter(key: Key): AsyncIterable<V>;
  iset(key: Key, value: V): Promise<void>;
  iget(key: Key): Promise<V>;
  delete(keys: readonly Key[]): Promise<void>;
  pop(key: Key): Promise<V>;
  keys(opts?: KeysOptions): Promise<Key[]>;
  drop(): Promise<void>;
  withLock<T>(fn: () => Promise<T>): Promise<T>;
  describe(): StoreSpec;
  close(): Promise<void>;
  [Symbol.asyncDispose](): Promise<void>;
}

/**
 * What a store promises beyond the contract, read by the conformance suite
 * (as abstract-level's `supports` manifest). A layer that says nothing
 * promises nothing.
 */
export interface Supports {
  /** Reopening the store's describe() finds the data (false where it lives in this process's memory). */
  readonly reopen: boolean;
  /** iter() yields the values one by one as appended (false where only their concatenation is kept, as in file()). */
  readonly iterChunks: boolean;
}

/**
 * The base of every laminate layer. The public methods turn keys into KeyIds,
 * validate a whole call before anything is written, and check that the store
 * is open; a layer implements the `*Ids` methods, which layers also call on
 * each other so that keys are normalized once per stack, not once per layer.
 */
export abstract class BaseStore<V> implements Store<V> {
  /** Serializes this store's operations; file() backs it with the directory lock. */
  protected lock: Mutex = new Mutex();
  /**
   * True when every non-empty value `getIds` returns is memory of its own that
   * nothing else holds, so a layer above may hand it out without a copy
   * (file(): each get is a fresh read). False where a get may return memory
   * the store keeps, as dict() does.
   */
  readonly freshGets: boolean = false;
  protected closed = false;
  private closing?: Promise<void>;

  /** What this store promises beyond the contract; each layer says what it keeps. */
  get supports(): Supports {
    return { reopen: false, iterChunks: false };
  }

  /** What `get` returns for a key that was never written. */
  abstract empty(): V;
  /** Throws ERR_VALUE_TYPE (a TypeError) unless `value` is something this layer stores. */
  protected abstract checkValue(value: unknown, id: KeyId): asserts value is V;

  abstract appendIds(ids: readonly KeyId[], values: readonly V[], opts?: OpOptions): Promise<void>;
  abstract getIds(ids: readonly KeyId[], opts?: OpOptions): Promise<V[]>;
  abstract deleteIds(ids: readonly KeyId[]): Promise<void>;
  abstract listIds(): Promise<KeyId[]>;
  abstract isetId(id: KeyId, value: V): Promise<void>;
  /** The value set for `id`, or undefined when none was. */
  abstract igetId(id: KeyId): Promise<V | undefined>;
  protected abstract dropAll(): Promise<void>;
  protected abstract closeStore(): Promise<void>;
  abstract describe(): StoreSpec;

  /**
   * The values appended to `key` as they land, until it is sealed (follow.ts):
   * `for await (const value of store.follow(key))`, or `follower.entries()`
   * for each value with the position to resume after it.
   */
  follow(key: Key, opts?: ConsumerFollowOptions): Follower<V> {
    this.assertOpen();
    const id = keyId(key);
    const request = checkFollowOptions(opts);
    const { consumer, trim = false } = opts ?? {};
    if (consumer !== undefined) checkConsumer(consumer, 'follow()');
    if (typeof trim !== 'boolean' || (trim && consumer === undefined)) throw typeError('ERR_INVALID_OPTION', "follow(): trim is true or false, and needs a consumer: follow(key, { consumer: 'name', trim: true }).");
    const fromStart = opts?.from === undefined || opts.from === 'start';
    return new ConsumerFollower(this, id, (req) => this.followId(id, req), request, { fromStart, consumer, trim, assertOpen: () => this.assertOpen() });
  }

  // Retention (retention.ts): durable consumer positions per key, and trimming a key from the front.

  /** Records that `consumer` has taken `key`'s values up to `position`; a lower position than the one committed changes nothing. */
  async commit(key: Key, consumer: string, position: number): Promise<void> {
    this.assertOpen();
    const id = keyId(key);
    checkConsumer(consumer, 'commit()');
    checkPosition(position, 'commit()');
    await this.commitId(id, consumer, position);
  }

  /** The consumers registered on `key`, each with its committed position. */
  async consumers(key: Key): Promise<Consumer[]> {
    this.assertOpen();
    return this.consumersId(keyId(key));
  }

  /** Removes a consumer of `key`: it no longer holds retention back. */
  async forget(key: Key, consumer: string): Promise<void> {
    this.assertOpen();
    const id = keyId(key);
    checkConsumer(consumer, 'forget()');
    await this.forgetId(id, consumer);
  }

  /**
   * Drops `key`'s bytes before `position` (by default the lowest position its
   * registered consumers committed; nothing when none is registered).
   * Positions stay as they were: the key starts at `position` from then on.
   */
  async trim(key: Key, position?: number): Promise<void> {
    this.assertOpen();
    const id = keyId(key);
    if (position !== undefined) checkPosition(position, 'trim()');
    await this.trimId(id, position);
    changed();
  }

  /** Where `key` starts: 0, or the position it was last trimmed to. */
  async startOf(key: Key): Promise<number> {
    this.assertOpen();
    return this.startId(keyId(key));
  }

  /** commit() after the checks; layers that keep consumer positions override it. */
  commitId(_id: KeyId, _consumer: string, _position: number): Promise<void> {
    return Promise.reject(notRetained(this.describe().type, 'keep consumer positions'));
  }

  /** consumers() after the checks, sorted by name. */
  consumersId(_id: KeyId): Promise<Consumer[]> {
    return Promise.reject(notRetained(this.describe().type, 'keep consumer positions'));
  }

  /** forget() after the checks; forgetting a consumer that is not registered changes nothing. */
  forgetId(_id: KeyId, _consumer: string): Promise<void> {
    return Promise.reject(notRetained(this.describe().type, 'keep consumer positions'));
  }

  /**
   * trim() after the checks: `position` absent means the lowest committed
   * position (nothing without consumers); past the key's length, or past a
   * registered consumer's position, is ERR_INVALID_OPTION (retention.ts
   * trimTarget()). Layers that trim override it.
   */
  trimId(_id: KeyId, _position?: number): Promise<void> {
    return Promise.reject(notRetained(this.describe().type, 'trim a key'));
  }

  /** The absolute position of `id`'s first stored byte: 0 in a layer that cannot trim. */
  startId(_id: KeyId): Promise<number> {
    return Promise.resolve(0);
  }

  /**
   * A commit, then a trim to the lowest committed position: what a follower
   * with `trim: true` does on each commit. A layer that can do both in one
   * step (file(): one take of the directory lock) overrides it.
   */
  async commitAndTrimId(id: KeyId, consumer: string, position: number): Promise<void> {
    await this.commitId(id, consumer, position);
    await this.trimId(id);
  }

  /** Marks the end of `key`'s stream: followers finish once they have read what it holds now. */
  async seal(key: Key): Promise<void> {
    this.assertOpen();
    await this.sealId(keyId(key));
    changed();
  }

  /**
   * Appends each value `source` yields to `key` (a Node Readable is an
   * AsyncIterable: `store.appendStream(key, readable)`), one append per
   * value, taking the next only once the last is stored: a fast source waits
   * for the store (backpressure) instead of filling memory. Resolves with how
   * many values were appended; the signal stops it between values
   * (ERR_ABORTED), and a value the layer does not store is its ERR_VALUE_TYPE,
   * the values before it staying appended.
   */
  async appendStream(key: Key, source: AsyncIterable<V> | Iterable<V>, opts: { signal?: AbortSignal } = {}): Promise<number> {
    this.assertOpen();
    keyId(key);
    let appended = 0;
    for await (const value of source) {
      throwIfAborted(opts.signal);
      await this.append([[key, value]]);
      appended++;
    }
    return appended;
  }

  /** follow() after the checks; layers that can be followed override it. */
  followId(_id: KeyId, _request: FollowRequest): AsyncIterable<Followed<V>> {
    throw notFollowable(this.describe().type, 'follow a key');
  }

  /** seal() after the checks; layers that can be followed override it. */
  sealId(_id: KeyId): Promise<void> {
    return Promise.reject(notFollowable(this.describe().type, 'seal a key'));
  }

  /** Where `id` was sealed, in its stored bytes; undefined while it is not. */
  sealedId(_id: KeyId): Promise<number | undefined> {
    return Promise.resolve(undefined);
  }

  /** The chunks under `id` one by one; layers that keep chunk boundaries override this. */
  async *iterId(id: KeyId): AsyncIterable<V> {
    const [value] = await this.getIds([id]);
    if (!this.isEmpty(value)) yield value;
  }

  /** get + delete under the store's lock. */
  popId(id: KeyId): Promise<V> {
    return this.withLock(async () => {
      const [value] = await this.getIds([id]);
      await this.deleteIds([id]);
      return value;
    });
  }

  protected isEmpty(value: V): boolean {
    return (value as { length?: number }).length === 0;
  }

  async append(data: AppendData<V>, opts?: OpOptions): Promise<void> {
    this.assertOpen();
    const ids: KeyId[] = [];
    const values: V[] = [];
    if (isIterable(data)) {
      for (const [key, value] of checkedPairs(data)) {
        const id = keyId(key);
        this.checkValue(value, id);
        ids.push(id);
        values.push(value);
      }
    } else {
      // A plain object: its own keys, without the pair arrays Object.entries would make
      // (for…in with hasOwn walked a 100-key object, which V8 keeps as a dictionary, far slower).
      for (const key of Object.keys(data)) {
        const value = data[key];
        const id = keyId(key);
        this.checkValue(value, id);
        ids.push(id);
        values.push(value);
      }
    }
    if (ids.length > 0) await this.appendIds(ids, values, opts);
    changed(); // followers in this process look again (follow.ts)
  }

  async get(key: Key, opts?: OpOptions): Promise<V> {
    this.assertOpen();
    return (await this.getIds([keyId(key)], opts))[0];
  }

  async getMany(keys: readonly Key[], opts?: OpOptions): Promise<V[]> {
    this.assertOpen();
    return this.getIds(idsOf(keys), opts);
  }

  async *iter(key: Key): AsyncIterable<V> {
    this.assertOpen();
    yield* this.iterId(keyId(key));
  }

  async iset(key: Key, value: V): Promise<void> {
    this.assertOpen();
    const id = keyId(key);
    this.checkValue(value, id);
    await this.isetId(id, value);
  }

  async iget(key: Key): Promise<V> {
    this.assertOpen();
    return (await this.igetId(keyId(key))) ?? this.empty();
  }

  async delete(keys: readonly Key[]): Promise<void> {
    this.assertOpen();
    await this.deleteIds(idsOf(keys));
  }

  async pop(key: Key): Promise<V> {
    this.assertOpen();
    return this.popId(keyId(key));
  }

  /** The keys (key-listing.ts): `await store.keys()`, or `for await (const key of store.keys({ prefix }))`. */
  keys(opts?: KeysOptions): KeyListing {
    // A closed store rejects, as every other call does, rather than throwing.
    return listKeys(async () => (this.assertOpen(), this.listIds()), opts);
  }

  async drop(): Promise<void> {
    this.assertOpen();
    await this.withLock(() => this.dropAll());
  }

  withLock<T>(fn: () => Promise<T>): Promise<T> {
    this.assertOpen();
    return this.lock.run(fn);
  }

  /** Closes the store; closing twice is harmless. */
  close(): Promise<void> {
    this.closing ??= (async () => {
      await this.closeStore();
      this.closed = true;
      changed(); // followers of this store (follow.ts) wake and end with ERR_CLOSED
    })();
    return this.closing;
  }

  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }

  /** Throws ERR_CLOSED once close() has begun; public so that a follower (follow.ts) can check between reads. */
  assertOpen(): void {
    if (this.closed || this.closing) {
      throw new LaminateError('ERR_CLOSED', `This ${this.describe().type}() store is closed; open a new one to keep using the data.`);
    }
  }
}

function idsOf(keys: readonly Key[]): KeyId[] {
  if (!Array.isArray(keys)) throw typeError('ERR_INVALID_KEY', 'Expected an array of keys; wrap a single key as [key].');
  return keys.map(keyId);
}

function isIterable<V>(data: AppendData<V>): data is Iterable<readonly [Key, V]> {
  if (data === null || typeof data !== 'object') {
    throw typeError('ERR_VALUE_TYPE', 'append() takes an object of key → value or an iterable of [key, value] pairs.');
  }
  return typeof (data as Iterable<unknown>)[Symbol.iterator] === 'function';
}

function* checkedPairs<V>(pairs: Iterable<readonly [Key, V]>): Iterable<readonly [Key, V]> {
  for (const pair of pairs) {
    if (!Array.isArray(pair) || pair.length !== 2) {
      throw typeError('ERR_VALUE_TYPE', 'append() got an iterable whose items are not [key, value] pairs.');
    }
    yield pair as readonly [Key, V];
  }
}

/** The ERR_VALUE_TYPE error for a value a layer does not store. */
export function wrongValue(layer: string, expected: string, value: unknown, id: KeyId): LaminateError {
  const got = value === null ? 'null' : Array.isArray(value) ? 'an array' : typeof value === 'object' ? (value.constructor?.name ?? 'an object') : typeof value;
  return typeError('ERR_VALUE_TYPE', `${layer}() stores ${expected}, but the value for key ${showKey(id)} is ${got}. Nothing from this call was stored.`, { key: showKey(id) });
}

/** Bytes layers take any Uint8Array (a Buffer is one). */
export function checkBytes(layer: string, value: unknown, id: KeyId): asserts value is Uint8Array {
  if (!(value instanceof Uint8Array)) throw wrongValue(layer, 'Uint8Array values (a Buffer is one)', value, id);
}

/** Joins byte chunks without copying when there is only one. */
export function concatBytes(chunks: readonly Uint8Array[]): Uint8Array {
  if (chunks.length === 1) return chunks[0];
  if (chunks.length === 0) return EMPTY_BYTES;
  return Buffer.concat(chunks);
}

export const EMPTY_BYTES: Uint8Array = Buffer.alloc(0);

/** A bytes → bytes layer: the empty value and the value check every write policy shares. */
export abstract class BytesStore extends BaseStore<Uint8Array> {
  protected abstract readonly layer: string;
  empty(): Uint8Array {
    return Buffer.alloc(0);
  }
  protected checkValue(value: unknown, id: KeyId): asserts value is Uint8Array {
    checkBytes(this.layer, value, id);
  }

  /**
   * Part of each key's bytes: `length` bytes from `offset`, fewer where the
   * key ends (none past its end, or for a missing key). file() reads only
   * those bytes, and so does buffer() for a key it holds no bytes of in
   * memory; other stores read the key whole and slice it.
   */
  async readRanges(ranges: readonly ByteRange[]): Promise<Uint8Array[]> {
    this.assertOpen();
    if (!Array.isArray(ranges)) throw typeError('ERR_INVALID_OPTION', 'readRanges() takes an array of { key, offset, length }.');
    return this.readRangeIds(ranges.map((range) => ({ id: keyId(range?.key), offset: rangeNumber(range?.offset, 'offset'), length: rangeNumber(range?.length, 'length') })));
  }

  /** readRanges after the checks; layers that can read part of a key override it. */
  readRangeIds(ranges: readonly IdRange[]): Promise<Uint8Array[]> {
    return sliceWhole(this, ranges);
  }

  /**
   * How many bytes `getIds(ids)` would return for each key (0 for a missing
   * one), where the store can tell without reading them and without waiting
   * for its lock; undefined where it cannot. serve() uses it to refuse a
   * reply too large to send before the bytes are read. The sizes are a
   * snapshot: an append that lands before the read makes the key longer.
   * dict() and buffer() (over a slow store that can tell) know; by default a
   * store cannot tell.
   */
  sizeIds(_ids: readonly KeyId[]): Promise<number[] | undefined> {
    return Promise.resolve(undefined);
  }

  // The hooks of follow() and seal() (follow.ts). By default a bytes store is
  // read by ranges from the position on, told of changes made in this process
  // and polled for others, and keeps its seals in this process's memory.

  override followId(id: KeyId, request: FollowRequest): AsyncIterable<Followed<Uint8Array>> {
    return followBytes(this, id, request);
  }

  /**
   * Up to `max` bytes of `id` from the position `offset`: none when nothing is
   * stored there yet; ERR_TRIMMED before the key's start. Positions count the
   * trimmed bytes too (retention.ts), so the read starts `start` bytes sooner
   * in what the key holds.
   */
  async readFollowedId(id: KeyId, offset: number, max: number): Promise<Uint8Array> {
    const start = await this.startId(id);
    if (offset < start) throw trimmedError(id, start, offset);
    return (await this.readRangeIds([{ id, offset: offset - start, length: max }]))[0];
  }

  /** How a follower of `id` learns that it may have grown. */
  watchId(_id: KeyId, pollMs?: number): ChangeWatch {
    return pollingWatch(pollMs);
  }

  /** The position just past `id`'s last byte now: its start (0 unless trimmed) plus the bytes it holds. */
  async lengthId(id: KeyId): Promise<number> {
    const start = await this.startId(id);
    return start + ((await this.sizeIds([id]))?.[0] ?? (await this.getIds([id]))[0].byteLength);
  }

  /** Seals `id` at its length now, under the store's lock so that no append is half counted. */
  override sealId(id: KeyId): Promise<void> {
    return this.withLock(async () => this.sealAtId(id, (await this.startId(id)) + (await this.getIds([id]))[0].byteLength));
  }

  /**
   * Records that `id`'s stream ends at `length` bytes; the first seal stays.
   * By default in this process's memory, which is right only where the data
   * lives there too: a store that other processes reach must keep its seals
   * where they see them, or refuse.
   */
  async sealAtId(id: KeyId, length: number): Promise<void> {
    if (this.supports.reopen) throw notFollowable(this.describe().type, 'seal a key where other processes see it');
    sealInMemory(this, id, length);
  }

  override sealedId(id: KeyId): Promise<number | undefined> {
    return Promise.resolve(sealedInMemory(this, id));
  }
}

function rangeNumber(value: unknown, name: string): number {
  if (typeof value !== 'number' || !(value >= 0) || (!Number.isInteger(value) && value !== Infinity)) {
    throw typeError('ERR_INVALID_OPTION', `readRanges(): ${name} must be a whole number of bytes, 0 or more${name === 'length' ? ' (Infinity: to the end of the key)' : ''}; got ${String(value)}.`);
  }
  return value;
}

/** Ranges read by getting each key whole once and slicing it. */
async function sliceWhole(store: BaseStore<Uint8Array>, ranges: readonly IdRange[]): Promise<Uint8Array[]> {
  const ids = [...new Set(ranges.map((range) => range.id))];
  const values = await store.getIds(ids);
  const byId = new Map(ids.map((id, i) => [id, values[i]]));
  return ranges.map(({ id, offset, length }) => byId.get(id)!.subarray(offset, offset + length));
}

/** Byte ranges from any bytes store: its own readRangeIds where it has one, slices of whole keys otherwise. */
export function readRangeIds(store: BaseStore<Uint8Array>, ranges: readonly IdRange[]): Promise<Uint8Array[]> {
  return store instanceof BytesStore ? store.readRangeIds(ranges) : sliceWhole(store, ranges);
}
