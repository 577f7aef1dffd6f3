import { isLaminateError, typeError } from './errors.js';
import { HEADER, frame, lengthAt } from './framing.js';
import { type FollowRequest, type Followed, followFrames } from './follow.js';
import { type FrameReader, readFrames, streamFrames, wholeFramesEnd } from './frames.js';
import { type KeyId, showKey } from './keys.js';
import { type BaseStore, type OpOptions, type Store, type Supports, readRangeIds } from './store.js';
import { badTrim } from './retention.js';
import { WrapperStore } from './wrapper.js';

/** How an encoding layer turns its values into bytes and back (partd's Encode). */
export interface Codec<V> {
  /** The layer's name in describe() and in messages. */
  readonly name: string;
  encode(value: V): Uint8Array;
  decode(payload: Uint8Array): V;
  /** Joins the decoded values of one key into what `get` returns. */
  join(values: V[]): V;
  /** What `get` returns for a missing key. */
  empty(): V;
  /** Throws ERR_VALUE_TYPE unless the layer stores `value`. */
  check(value: unknown, id: KeyId): asserts value is V;
  /** Options describe() records so that open() rebuilds the same codec. */
  readonly spec?: Record<string, unknown>;
}

/**
 * An encoding or compression layer: each appended value becomes one frame in
 * the bytes store below; `get` decodes the frames and joins them.
 */
export class EncodeStore<V> extends WrapperStore<V> {
  /** How this layer reads its frames, for readFrames() and repair(). */
  protected readonly reader: FrameReader<V>;

  constructor(
    readonly codec: Codec<V>,
    inner: Store<Uint8Array>,
  ) {
    super(codec.name, inner);
    // Below another layer of this kind (msgpack over lz4), the bytes read are decoded values: no writer tears those.
    this.reader = { layer: `${codec.name}()`, decode: (payload) => codec.decode(payload), tearable: !(this.inner instanceof WrapperStore) };
  }

  /** Each value is a frame of its own, so iter() yields them one by one over any store. */
  override get supports(): Supports {
    return { reopen: this.inner.supports.reopen, iterChunks: true };
  }

  protected override options(): Record<string, unknown> {
    return { ...this.codec.spec };
  }

  empty(): V {
    return this.codec.empty();
  }

  protected checkValue(value: unknown, id: KeyId): asserts value is V {
    this.codec.check(value, id);
  }

  appendIds(ids: readonly KeyId[], values: readonly V[], opts?: OpOptions): Promise<void> {
    const frames = values.map((value, i) => frame(this.encodeOne(value, ids[i])));
    return this.inner.appendIds(ids, frames, { ...opts, transfer: true }); // fresh frames: the store below may keep them
  }

  /**
   * A value the codec's check let through can still fail to encode (msgpack:
   * a symbol, a cycle, an integer past 64 bits). The codec's raw error named
   * no key and was no LaminateError; make it the ERR_VALUE_TYPE of the
   * contract. Every value is encoded before anything is written, so nothing
   * from the call is stored.
   */
  private encodeOne(value: V, id: KeyId): Uint8Array {
    try {
      return this.codec.encode(value);
    } catch (error) {
      if (isLaminateError(error)) throw error;
      throw typeError('ERR_VALUE_TYPE', `${this.codec.name}() cannot encode the value for key ${showKey(id)} (${(error as Error)?.message ?? error}). Nothing from this call was stored.`, { key: showKey(id), cause: error });
    }
  }

  async getIds(ids: readonly KeyId[], opts?: OpOptions): Promise<V[]> {
    const stored = await this.inner.getIds(ids, opts);
    return stored.map((bytes, i) => this.decodeAll(bytes, ids[i]));
  }

  private decodeAll(bytes: Uint8Array, id: KeyId): V {
    if (bytes.byteLength === 0) return this.codec.empty();
    const values = readFrames(bytes, id, this.reader);
    return values.length === 1 ? values[0] : this.codec.join(values);
  }

  /** One decoded value per appended value, reading the key in pieces. */
  override iterId(id: KeyId): AsyncIterable<V> {
    return streamFrames(this.inner.iterId(id), id, this.reader);
  }

  /** Followed values are decoded frame by frame as the inner store's bytes land (follow.ts). */
  override followId(id: KeyId, request: FollowRequest): AsyncIterable<Followed<V>> {
    return followFrames(this.inner.followId(id, request), id, this.reader, request, !(this.inner instanceof WrapperStore));
  }

  /**
   * A trim to a given position must fall where a frame ends, or the key would
   * start inside one; the layer that frames the bytes store checks it (over
   * another of these layers, the lowest). Positions committed by followers
   * fall there already.
   */
  override async trimId(id: KeyId, position?: number): Promise<void> {
    if (position !== undefined && !(this.inner instanceof WrapperStore) && !(await endsFrame(this.inner, id, position))) {
      throw badTrim(id, position, `it is not where one of the ${this.layer}() values stored there ends; trim to a position a follower gave`);
    }
    return this.inner.trimId(id, position);
  }

  /** repair() cuts only a torn tail after frames that decode (frames.ts). */
  protected override wholeEnd(id: KeyId, bytes: Uint8Array): number {
    return wholeFramesEnd(bytes, id, this.reader);
  }

  deleteIds(ids: readonly KeyId[]): Promise<void> {
    return this.inner.deleteIds(ids);
  }

  listIds(): Promise<KeyId[]> {
    return this.inner.listIds();
  }

  isetId(id: KeyId, value: V): Promise<void> {
    return this.inner.isetId(id, frame(this.encodeOne(value, id)));
  }

  async igetId(id: KeyId): Promise<V | undefined> {
    const bytes = await this.inner.igetId(id);
    return bytes === undefined ? undefined : this.decodeAll(bytes, id);
  }
}

/** A layer from your own codec: `encode({ encode, decode, join }, inner)`. */
export function encode<V>(codec: Partial<Codec<V>> & Pick<Codec<V>, 'encode' | 'decode' | 'join'>, inner: Store<Uint8Array>): EncodeStore<V> {
  return new EncodeStore<V>(
    {
      name: 'encode',
      empty: () => codec.join([]),
      check: () => undefined,
      ...codec,
    },
    inner,
  );
}

/** True when a frame of `id`'s stored bytes ends at `position` (or the key starts there), walking the frame headers from its start. */
async function endsFrame(store: BaseStore<Uint8Array>, id: KeyId, position: number): Promise<boolean> {
  const start = await store.startId(id);
  // At or before the start, the trim changes nothing: there is nothing to check.
  if (position <= start) return true;
  let at = start;
  while (at < position) {
    const [header] = await readRangeIds(store, [{ id, offset: at - start, length: HEADER }]);
    if (header.byteLength < HEADER) return false;
    at += HEADER + lengthAt(header, 0);
  }
  return at === position;
}
