import { typeError } from './errors.js';
import { wholeFramesEnd } from './frames.js';
import { type Key, type KeyId, keyFromId, keyId } from './keys.js';
import type { Consumer } from './retention.js';
import { BaseStore, BytesStore, type OpOptions, type Store, type StoreSpec, type Supports } from './store.js';

/**
 * The base of every layer that wraps a bytes store (the encoders, the
 * compressors, typedArrays, arrowColumns): it takes any Store as `inner`,
 * forwards the lock, drop and close to it, describes itself as
 * `{ type, ...options, inner }`, and owns repair(). A layer supplies its
 * operations, its `options()` for describe(), and, where its units are not
 * plain frames, where the last whole unit before a torn tail ends (`wholeEnd`).
 */
export abstract class WrapperStore<V> extends BaseStore<V> {
  readonly inner: BaseStore<Uint8Array>;

  constructor(
    /** The layer's name: describe()'s type, and the name in messages. */
    readonly layer: string,
    inner: Store<Uint8Array>,
  ) {
    super();
    this.inner = adopt(layer, inner);
  }

  /** A wrapper keeps what its inner store keeps. */
  override get supports(): Supports {
    return this.inner.supports;
  }

  /** The options describe() records beside the type, so that open() rebuilds the same layer. */
  protected options(): Record<string, unknown> {
    return {};
  }

  describe(): StoreSpec {
    return { type: this.layer, ...this.options(), inner: this.inner.describe() };
  }

  override withLock<T>(fn: () => Promise<T>): Promise<T> {
    this.assertOpen();
    return this.inner.withLock(fn);
  }

  protected dropAll(): Promise<void> {
    return this.inner.drop();
  }

  /** A wrapper's stream is its inner store's: sealed where the inner store's bytes end (follow.ts). */
  override sealId(id: KeyId): Promise<void> {
    return this.inner.sealId(id);
  }

  override sealedId(id: KeyId): Promise<number | undefined> {
    return this.inner.sealedId(id);
  }

  // Retention (retention.ts): positions are those of the bytes store at the bottom, so its consumers and its start are the wrapper's.
  override commitId(id: KeyId, consumer: string, position: number): Promise<void> {
    return this.inner.commitId(id, consumer, position);
  }

  override consumersId(id: KeyId): Promise<Consumer[]> {
    return this.inner.consumersId(id);
  }

  override forgetId(id: KeyId, consumer: string): Promise<void> {
    return this.inner.forgetId(id, consumer);
  }

  override trimId(id: KeyId, position?: number): Promise<void> {
    return this.inner.trimId(id, position);
  }

  override startId(id: KeyId): Promise<number> {
    return this.inner.startId(id);
  }

  override commitAndTrimId(id: KeyId, consumer: string, position: number): Promise<void> {
    return this.inner.commitAndTrimId(id, consumer, position);
  }

  protected closeStore(): Promise<void> {
    return this.inner.close();
  }

  /**
   * Cuts `key` back to its last whole value, as after a writer died
   * mid-append, under the inner store's lock. Returns how many bytes were cut
   * (0 when the key was whole). Only a torn tail is cut: damage elsewhere is
   * an ERR_CORRUPT_FRAME and nothing changes. Under stacked layers (msgpack
   * over lz4) the bytes a writer can tear are the lowest layer's, so that one
   * repairs.
   */
  async repair(key: Key): Promise<number> {
    this.assertOpen();
    if (this.inner instanceof WrapperStore) return this.inner.repair(key);
    const id = keyId(key);
    return this.inner.withLock(async () => {
      const [bytes] = await this.inner.getIds([id]);
      return cutBack(this.inner, id, bytes, await this.wholeEnd(id, bytes));
    });
  }

  /**
   * Where repair() may cut `id`'s stored bytes: the end of the last whole
   * unit before a torn tail (the bytes' length when there is none). Throws
   * ERR_CORRUPT_FRAME for damage that is not a torn tail. By default the units
   * are frames, not decoded.
   */
  protected wholeEnd(id: KeyId, bytes: Uint8Array): number | Promise<number> {
    return wholeFramesEnd(bytes, id, { layer: `${this.layer}()` });
  }
}

/**
 * Replaces `id`'s bytes in `store` with their first `end` bytes; returns how
 * many were cut. The caller holds the store's lock.
 */
export async function cutBack(store: BaseStore<Uint8Array>, id: KeyId, bytes: Uint8Array, end: number): Promise<number> {
  if (end === bytes.byteLength) return 0;
  const kept = Buffer.from(bytes.subarray(0, end));
  await store.deleteIds([id]);
  if (kept.byteLength > 0) await store.appendIds([id], [kept]);
  return bytes.byteLength - end;
}

/** A laminate store as it is; any other object with the Store methods, behind an adapter. */
function adopt(layer: string, inner: Store<Uint8Array>): BaseStore<Uint8Array> {
  if (inner instanceof BaseStore) return inner;
  const methods = ['append', 'getMany', 'iter', 'iset', 'iget', 'delete', 'keys', 'drop', 'withLock', 'describe', 'close'] as const;
  const missing = inner === null || typeof inner !== 'object' ? methods : methods.filter((m) => typeof (inner as unknown as Record<string, unknown>)[m] !== 'function');
  if (missing.length > 0) {
    throw typeError('ERR_INVALID_OPTION', `${layer}() wraps a store of bytes, such as file() or buffer(dict(), file()), or your own object with the Store methods${missing.length < methods.length ? ` (this one lacks ${missing.join(', ')})` : ''}.`);
  }
  return new ForeignStore(inner);
}

/**
 * A Store written outside laminate, seen as a laminate bytes store: the
 * layers above talk to it through its public methods, with the keys given
 * back their public form.
 */
class ForeignStore extends BytesStore {
  protected readonly layer: string;

  constructor(private readonly store: Store<Uint8Array>) {
    super();
    this.layer = String(store.describe()?.type ?? 'store');
  }

  /** What the store says of itself, if it has a `supports` manifest; nothing otherwise. */
  override get supports(): Supports {
    const own = (this.store as { supports?: Partial<Supports> }).supports;
    return { reopen: own?.reopen === true, iterChunks: own?.iterChunks === true };
  }

  appendIds(ids: readonly KeyId[], values: readonly Uint8Array[], opts?: OpOptions): Promise<void> {
    return this.store.append(ids.map((id, i) => [keyFromId(id), values[i]] as const), opts);
  }

  getIds(ids: readonly KeyId[], opts?: OpOptions): Promise<Uint8Array[]> {
    return this.store.getMany(ids.map(keyFromId), opts);
  }

  override iterId(id: KeyId): AsyncIterable<Uint8Array> {
    return this.store.iter(keyFromId(id));
  }

  deleteIds(ids: readonly KeyId[]): Promise<void> {
    return this.store.delete(ids.map(keyFromId));
  }

  async listIds(): Promise<KeyId[]> {
    return (await this.store.keys()).map(keyId);
  }

  isetId(id: KeyId, value: Uint8Array): Promise<void> {
    return this.store.iset(keyFromId(id), value);
  }

  async igetId(id: KeyId): Promise<Uint8Array | undefined> {
    const value = await this.store.iget(keyFromId(id));
    return value.byteLength === 0 ? undefined : value;
  }

  override withLock<T>(fn: () => Promise<T>): Promise<T> {
    this.assertOpen();
    return this.store.withLock(fn);
  }

  protected dropAll(): Promise<void> {
    return this.store.drop();
  }

  protected closeStore(): Promise<void> {
    return this.store.close();
  }

  describe(): StoreSpec {
    return this.store.describe();
  }
}
