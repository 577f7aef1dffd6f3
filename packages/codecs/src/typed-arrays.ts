/**
 * typedArrays(inner): numeric arrays per key with numpy-style dtypes, laid out
 * as Python partd's Numpy layer lays them out, so either side reads what the
 * other wrote:
 *
 * - `<key>.dtype` (for a tuple key, its last part + ".dtype") holds the numpy
 *   dtype string, `<i4`, `<f8`, `|u1`, `<M8[ns]`, `|O`, as raw ASCII bytes,
 *   written once, when the key is first appended to.
 * - `<key>` holds the raw bytes of every appended array, back to back, without
 *   frames; an object array (`|O`, a plain JS array here) is one frame per
 *   append holding a MessagePack array of its items.
 */
import { type Key, type Store, LaminateError, type OpOptions, type StoreSpec, type Supports } from '@laminate/core';
import { WrapperStore, typeError, frame, keyFromId, keyId, keyParts, registerLayer, splitFrames, readFrames, wholeFramesEnd, wrongValue, showKey, type FrameReader, type KeyId, type FollowRequest, type Followed, followFrames } from '@laminate/core/layer';
import { type Options, Packr, Unpackr } from 'msgpackr';

// ---------------------------------------------------------------- values

export type NumericArray = Int8Array | Uint8Array | Int16Array | Uint16Array | Int32Array | Uint32Array | Float32Array | Float64Array | BigInt64Array | BigUint64Array;

/** numpy's datetime64 units; a unit may carry a multiplier, as in `10s`. */
export type DatetimeUnit = 'Y' | 'M' | 'W' | 'D' | 'h' | 'm' | 's' | 'ms' | 'us' | 'ns' | 'ps' | 'fs' | 'as' | `${number}${'Y' | 'M' | 'W' | 'D' | 'h' | 'm' | 's' | 'ms' | 'us' | 'ns' | 'ps' | 'fs' | 'as'}`;

const UNIT = /^(\d*)(Y|M|W|D|h|m|s|ms|us|ns|ps|fs|as)$/;
/** Milliseconds per unit, for the units of fixed length. */
const MS_PER: Record<string, number> = { W: 7 * 864e5, D: 864e5, h: 36e5, m: 6e4, s: 1e3, ms: 1, us: 1e-3, ns: 1e-6, ps: 1e-9, fs: 1e-12, as: 1e-15 };

/**
 * numpy datetime64 values: int64 counts of `unit` since 1970-01-01T00:00Z
 * (numpy's NaT is the smallest int64, `Datetime64Array.NaT`). Stored with the
 * dtype `<M8[unit]`, as numpy stores `datetime64[unit]`.
 */
export class Datetime64Array {
  static readonly NaT = -(2n ** 63n);
  readonly values: BigInt64Array;
  readonly unit: DatetimeUnit;

  constructor(values: BigInt64Array | readonly bigint[], unit: DatetimeUnit) {
    if (typeof unit !== 'string' || !UNIT.test(unit)) {
      throw typeError('ERR_DTYPE', `Datetime64Array: "${unit}" is not a numpy datetime64 unit (Y, M, W, D, h, m, s, ms, us, ns, ps, fs, as, optionally with a multiplier such as 10s).`);
    }
    this.values = values instanceof BigInt64Array ? values : BigInt64Array.from(values);
    this.unit = unit;
  }

  get length(): number {
    return this.values.length;
  }

  /** Dates as counts of `unit` (rounded down; null becomes NaT). Units finer than ms keep the Date's milliseconds. */
  static fromDates(dates: readonly (Date | null)[], unit: DatetimeUnit = 'ms'): Datetime64Array {
    const [, times, base] = UNIT.exec(new Datetime64Array([], unit).unit)!;
    const step = Number(times || 1);
    const values = new BigInt64Array(dates.length);
    dates.forEach((date, i) => {
      if (date === null) return void (values[i] = Datetime64Array.NaT);
      const ms = date.getTime();
      if (base === 'Y' || base === 'M') {
        const months = (date.getUTCFullYear() - 1970) * 12 + date.getUTCMonth();
        values[i] = BigInt(Math.floor((base === 'Y' ? Math.floor(months / 12) : months) / step));
      } else if (MS_PER[base] >= 1) values[i] = BigInt(Math.floor(ms / (MS_PER[base] * step)));
      else values[i] = (BigInt(ms) * BigInt(Math.round(1 / MS_PER[base]))) / BigInt(step);
    });
    return new Datetime64Array(values, unit);
  }

  /** The values as Dates (null for NaT); units finer than ms are cut to whole milliseconds. */
  toDates(): (Date | null)[] {
    const [, times, base] = UNIT.exec(this.unit)!;
    const step = BigInt(times || 1);
    return Array.from(this.values, (raw) => {
      if (raw === Datetime64Array.NaT) return null;
      const v = raw * step;
      if (base === 'Y') return new Date(Date.UTC(1970 + Number(v), 0, 1));
      if (base === 'M') return new Date(Date.UTC(1970, Number(v), 1));
      if (MS_PER[base] >= 1) return new Date(Number(v) * MS_PER[base]);
      const per = BigInt(Math.round(1 / MS_PER[base]));
      const ms = v / per - (v % per < 0n ? 1n : 0n); // floor, also before 1970
      return new Date(Number(ms));
    });
  }
}

/** What typedArrays() stores: a TypedArray, datetime64 values, or a plain array of JS values (numpy's object arrays). */
export type TypedValue = NumericArray | Datetime64Array | unknown[];

// ---------------------------------------------------------------- dtypes

type Ctor = { new (length: number): NumericArray; new (buffer: ArrayBuffer, offset?: number, length?: number): NumericArray; BYTES_PER_ELEMENT: number };

/** numpy kind + item size (without byte order) → the TypedArray that holds it. */
const CTORS: Record<string, Ctor> = {
  i1: Int8Array,
  u1: Uint8Array,
  i2: Int16Array,
  u2: Uint16Array,
  i4: Int32Array,
  u4: Uint32Array,
  f4: Float32Array,
  f8: Float64Array,
  i8: BigInt64Array,
  u8: BigUint64Array,
} as unknown as Record<string, Ctor>;

/** The numpy kind + size of a TypedArray (a Buffer is a Uint8Array), or undefined for other values. */
function codeOf(value: unknown): string | undefined {
  if (!ArrayBuffer.isView(value)) return undefined;
  for (const code in CTORS) if (value instanceof CTORS[code]) return code;
  return undefined;
}

/** A parsed dtype: `code` is kind + size without byte order (`i4`, `M8[ns]`, `O`); `big` for `>` data. */
export interface Dtype {
  text: string;
  code: string;
  big: boolean;
  size: number;
  ctor?: Ctor;
  unit?: DatetimeUnit;
}

const LITTLE = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;
const NATIVE = LITTLE ? '<' : '>';

function dtypeOf(value: TypedValue): Dtype {
  if (Array.isArray(value)) return { text: '|O', code: 'O', big: false, size: 0 };
  if (value instanceof Datetime64Array) return { text: `${NATIVE}M8[${value.unit}]`, code: `M8[${value.unit}]`, big: !LITTLE, size: 8, unit: value.unit };
  const code = codeOf(value)!;
  return { text: `${code.endsWith('1') ? '|' : NATIVE}${code}`, code, big: !LITTLE && !code.endsWith('1'), size: Number(code[1]), ctor: CTORS[code] };
}

/** Parses a dtype string as numpy writes it (`<i4`, `>f8`, `|u1`, `<M8[ns]`, `|O`). */
export function parseDtype(text: string, id?: KeyId): Dtype {
  const m = /^([<>|=]?)([iufMO])(\d*)(?:\[([0-9A-Za-z]+)\])?$/.exec(text);
  const order = m?.[1] === '>' ? true : m?.[1] === '<' ? false : !LITTLE;
  if (m && m[2] === 'O' && !m[3] && !m[4]) return { text, code: 'O', big: false, size: 0 };
  if (m && m[2] === 'M' && m[3] === '8' && m[4] && UNIT.test(m[4])) {
    return { text, code: `M8[${m[4]}]`, big: order, size: 8, unit: m[4] as DatetimeUnit, ctor: BigInt64Array as unknown as Ctor };
  }
  const code = m && !m[4] ? `${m[2]}${m[3]}` : '';
  const ctor = CTORS[code];
  if (!ctor) {
    const where = id === undefined ? '' : ` (key ${showKey(id)})`;
    throw new LaminateError('ERR_DTYPE', `typedArrays() cannot read the numpy dtype "${text}"${where}: it reads int8–int64, uint8–uint64, float32, float64, datetime64[unit] and object arrays. Convert the data in numpy (for example arr.astype("<f8")) before storing it.`, id === undefined ? {} : { key: showKey(id) });
  }
  return { text, code, big: order && ctor.BYTES_PER_ELEMENT > 1, size: ctor.BYTES_PER_ELEMENT, ctor };
}

// ---------------------------------------------------------------- keys

const SUFFIX = '.dtype';

/** partd's `suffix(key, '.dtype')`: the last part of the key gets ".dtype". */
function sidecarOf(id: KeyId): KeyId {
  const parts = keyParts(id);
  parts[parts.length - 1] += SUFFIX;
  return keyId(parts.length === 1 ? parts[0] : parts);
}

/** The key a sidecar belongs to, or undefined for a key that is no sidecar. */
function ownerOf(id: KeyId): KeyId | undefined {
  const parts = keyParts(id);
  const last = parts[parts.length - 1];
  if (!last.endsWith(SUFFIX)) return undefined;
  parts[parts.length - 1] = last.slice(0, -SUFFIX.length);
  return keyId(parts.length === 1 ? parts[0] : parts);
}

function checkUserKey(id: KeyId): void {
  if (ownerOf(id) !== undefined) {
    throw new LaminateError('ERR_INVALID_KEY', `Invalid key ${showKey(id)}: typedArrays() keeps each key's dtype under the key + "${SUFFIX}" (as partd does), so a key whose last part ends in "${SUFFIX}" would collide with one. Choose another name.`, { key: showKey(id) });
  }
}

// ---------------------------------------------------------------- bytes

// Plain MessagePack, as Python's msgpack writes and reads it (msgpackr's records off).
const MSGPACK = { useRecords: false, encodeUndefinedAsNil: true, int64AsType: 'auto' } as unknown as Options;
const packr = new Packr(MSGPACK);
const unpackr = new Unpackr(MSGPACK);

function bytesOf(view: ArrayBufferView): Uint8Array {
  return new Uint8Array(view.buffer, view.byteOffset, view.byteLength);
}

/** Reverses each `size`-byte item of `bytes` (little ↔ big endian). */
function swapInPlace(bytes: Buffer, size: number): Buffer {
  if (size === 2) bytes.swap16();
  else if (size === 4) bytes.swap32();
  else if (size === 8) bytes.swap64();
  return bytes;
}

/** The bytes partd's Numpy layer writes for one array of the key's dtype. */
function encodeValue(value: TypedValue, dtype: Dtype, id: KeyId): Uint8Array {
  if (Array.isArray(value)) {
    // msgpackr would write a non-byte typed array inside the list element by element into a byte range: hand it the bytes.
    const items = value.some((x) => ArrayBuffer.isView(x) && !(x instanceof Uint8Array)) ? value.map((x) => (ArrayBuffer.isView(x) ? bytesOf(x) : x)) : value;
    try {
      return frame(packr.pack(items));
    } catch {
      throw wrongValue('typedArrays', 'plain arrays only when MessagePack can encode every item (numbers, strings, booleans, null, bytes, plain objects and arrays of these)', value, id);
    }
  }
  const bytes = bytesOf(value instanceof Datetime64Array ? value.values : value);
  return dtype.big !== !LITTLE && dtype.size > 1 ? swapInPlace(Buffer.from(bytes), dtype.size) : bytes;
}

/**
 * How object arrays (`|O`) read: a frame per append, each a MessagePack array.
 * Decoding checks each frame, so a damaged one is told from a torn tail.
 */
const objectFrames: FrameReader<unknown[]> = {
  layer: 'typedArrays() object array',
  decode(payload) {
    let items: unknown;
    try {
      items = unpackr.unpack(payload);
    } catch (error) {
      throw new Error(`not MessagePack (${(error as Error).message}); partd writes object arrays as MessagePack, or as pickle when MessagePack fails, and pickle is not readable here`);
    }
    if (!Array.isArray(items)) throw new Error('a MessagePack value that is not an array');
    return items;
  },
};

/**
 * What an array may be made over: `fresh` bytes are memory nothing else
 * holds (see BaseStore.freshGets), when they fill a buffer of their own;
 * a `view` (getView()) is memory the caller was told is reused, at any
 * offset the array type allows. Otherwise the bytes are copied.
 */
type Over = 'fresh' | 'view' | undefined;

function decodeValue(bytes: Uint8Array, dtype: Dtype, id: KeyId, over?: Over): TypedValue {
  if (dtype.code === 'O') {
    const out: unknown[] = [];
    for (const items of readFrames(bytes, id, objectFrames)) for (const item of items) out.push(item);
    return out;
  }
  const whole = bytes.byteLength - (bytes.byteLength % dtype.size);
  if (whole !== bytes.byteLength) {
    throw new LaminateError('ERR_CORRUPT_FRAME', `Key ${showKey(id)} holds ${bytes.byteLength} bytes, not a whole number of ${dtype.size}-byte ${dtype.text} items: a writer probably died mid-append at byte ${whole}. Call repair(${showKey(id)}) to cut the key back to its last whole item.`, { key: showKey(id), offset: whole, repairable: true });
  }
  const swap = dtype.big !== !LITTLE && dtype.size > 1;
  // Fresh bytes must fill a buffer of their own that no one else holds (small
  // reads share Node's pool, and are copied below).
  const overBytes = over === 'fresh' ? bytes.byteOffset === 0 && bytes.byteLength === bytes.buffer.byteLength : over === 'view' && bytes.byteOffset % dtype.size === 0;
  if (overBytes && !swap) {
    const view = new dtype.ctor!(bytes.buffer as ArrayBuffer, bytes.byteOffset, whole / dtype.size);
    return dtype.unit ? new Datetime64Array(view as BigInt64Array, dtype.unit) : view;
  }
  // A copy the caller owns (the bytes below may be the store's own memory), into
  // memory of its own that is not zero-filled first: get is one memcpy.
  const copy = Buffer.allocUnsafeSlow(whole);
  copy.set(bytes);
  if (swap) swapInPlace(copy, dtype.size);
  const out = new dtype.ctor!(copy.buffer as ArrayBuffer, 0, whole / dtype.size);
  return dtype.unit ? new Datetime64Array(out as BigInt64Array, dtype.unit) : out;
}

function emptyOf(dtype: Dtype): TypedValue {
  if (dtype.code === 'O') return [];
  const out = new dtype.ctor!(0);
  return dtype.unit ? new Datetime64Array(out as BigInt64Array, dtype.unit) : out;
}

function dtypeMismatch(id: KeyId, stored: string, got: string): LaminateError {
  return new LaminateError('ERR_DTYPE', `Key ${showKey(id)} holds ${stored} values; this call appends ${got}. A key keeps the dtype of its first append: convert the array, or use another key. Nothing from this call was stored.`, { key: showKey(id) });
}

// ---------------------------------------------------------------- the layer

/** An inner store that reads a key into memory it reuses (file(), log(), buffer()). */
interface ReadsViews {
  getView(key: Key): Promise<Uint8Array>;
}

function readsViews(store: Store<Uint8Array>): store is Store<Uint8Array> & ReadsViews {
  return typeof (store as Partial<ReadsViews>).getView === 'function';
}

export class TypedArrayStore extends WrapperStore<TypedValue> {
  constructor(inner: Store<Uint8Array>) {
    super('typedArrays', inner);
  }

  /** A key never written: an empty Float64Array (numpy's default dtype, float64). */
  empty(): TypedValue {
    return new Float64Array(0);
  }

  protected checkValue(value: unknown, id: KeyId): asserts value is TypedValue {
    checkUserKey(id);
    if (Array.isArray(value) || value instanceof Datetime64Array || codeOf(value) !== undefined) return;
    throw wrongValue('typedArrays', 'Int8/Uint8/Int16/Uint16/Int32/Uint32/Float32/Float64/BigInt64/BigUint64 arrays, Datetime64Array values and plain arrays (numpy object arrays)', value, id);
  }

  /**
   * Checks every value's dtype against its key's (read from the sidecars in
   * one call, under the inner store's lock), then writes the new sidecars and
   * the data in one append to the inner store. A mismatch anywhere stores
   * nothing.
   */
  appendIds(ids: readonly KeyId[], values: readonly TypedValue[], opts?: OpOptions): Promise<void> {
    ids.forEach(checkUserKey);
    return this.inner.withLock(async () => {
      const distinct = [...new Set(ids)];
      const sidecars = distinct.map(sidecarOf);
      const stored = await this.inner.getIds(sidecars);
      const dtypes = new Map<KeyId, Dtype>();
      const fresh: KeyId[] = [];
      distinct.forEach((id, i) => {
        if (stored[i].byteLength > 0) dtypes.set(id, parseDtype(Buffer.from(stored[i]).toString('latin1'), id));
      });
      const outIds: KeyId[] = [];
      const outBytes: Uint8Array[] = [];
      const encoded: Uint8Array[] = [];
      for (let i = 0; i < ids.length; i++) {
        const got = dtypeOf(values[i]);
        let dtype = dtypes.get(ids[i]);
        if (dtype === undefined) {
          dtypes.set(ids[i], (dtype = got));
          fresh.push(ids[i]);
          outIds.push(sidecarOf(ids[i]));
          outBytes.push(Buffer.from(got.text, 'latin1'));
        } else if (dtype.code !== got.code) {
          throw dtypeMismatch(ids[i], dtype.text, got.text);
        }
        encoded.push(encodeValue(values[i], dtype, ids[i]));
      }
      for (let i = 0; i < ids.length; i++) {
        if (encoded[i].byteLength === 0) continue;
        outIds.push(ids[i]);
        outBytes.push(encoded[i]);
      }
      if (outIds.length > 0) await this.inner.appendIds(outIds, outBytes, opts);
    });
  }

  async getIds(ids: readonly KeyId[], opts?: OpOptions): Promise<TypedValue[]> {
    ids.forEach(checkUserKey);
    const stored = await this.inner.getIds([...ids, ...ids.map(sidecarOf)], opts);
    return ids.map((id, i) => {
      const bytes = stored[i];
      const sidecar = stored[ids.length + i];
      if (sidecar.byteLength === 0) {
        if (bytes.byteLength === 0) return this.empty();
        throw new LaminateError('ERR_DTYPE', `Key ${showKey(id)} holds ${bytes.byteLength} bytes but no dtype (its ${showKey(sidecarOf(id))} is missing), so they cannot be read as an array. It was not written by typedArrays() or partd.Numpy.`, { key: showKey(id) });
      }
      const dtype = parseDtype(Buffer.from(sidecar).toString('latin1'), id);
      return bytes.byteLength === 0 ? emptyOf(dtype) : decodeValue(bytes, dtype, id, this.inner.freshGets ? 'fresh' : undefined);
    });
  }

  /**
   * `key`'s array made over memory the inner store reuses (its getView():
   * file(), log(), buffer()), with no copy and no fresh memory: valid until
   * the next getView() on that store, which overwrites it. Copy
   * (`array.slice()`) what must outlive that. Object arrays, byte-swapped
   * dtypes and bytes at an offset the array type cannot start at are copied,
   * as get() copies them; over a store without getView() this is get().
   */
  async getView(key: Key): Promise<TypedValue> {
    this.assertOpen();
    const id = keyId(key);
    checkUserKey(id);
    const inner = this.inner;
    if (!readsViews(inner)) return (await this.getIds([id]))[0];
    // The dtype first: a key's dtype is written before its data and never changes while the key holds data.
    const [sidecar] = await inner.getIds([sidecarOf(id)]);
    const bytes = await inner.getView(keyFromId(id));
    if (sidecar.byteLength === 0) return bytes.byteLength === 0 ? this.empty() : (await this.getIds([id]))[0];
    const dtype = parseDtype(Buffer.from(sidecar).toString('latin1'), id);
    return bytes.byteLength === 0 ? emptyOf(dtype) : decodeValue(bytes, dtype, id, 'view');
  }

  deleteIds(ids: readonly KeyId[]): Promise<void> {
    ids.forEach(checkUserKey);
    return this.inner.deleteIds([...ids, ...ids.map(sidecarOf)]);
  }

  /** The keys that hold data or a dtype, never the sidecars themselves. */
  async listIds(): Promise<KeyId[]> {
    const seen = new Set<KeyId>();
    for (const id of await this.inner.listIds()) seen.add(ownerOf(id) ?? id);
    return [...seen];
  }

  /** iset values keep their dtype: the stored bytes are a frame with the dtype, then a frame with the data. */
  isetId(id: KeyId, value: TypedValue): Promise<void> {
    const dtype = dtypeOf(value);
    const data = encodeValue(value, dtype, id);
    return this.inner.isetId(id, Buffer.concat([frame(Buffer.from(dtype.text, 'latin1')), frame(data)]));
  }

  async igetId(id: KeyId): Promise<TypedValue | undefined> {
    const bytes = await this.inner.igetId(id);
    if (bytes === undefined) return undefined;
    const [text, data] = splitFrames(bytes, id, true).payloads;
    if (data === undefined) throw new LaminateError('ERR_CORRUPT_FRAME', `The iset value of key ${showKey(id)} was not written by typedArrays().`, { key: showKey(id), offset: 0 });
    const dtype = parseDtype(Buffer.from(text).toString('latin1'), id);
    return data.byteLength === 0 ? emptyOf(dtype) : decodeValue(data, dtype, id);
  }

  /**
   * Followed values (follow.ts): numeric data is unframed, so each piece of
   * the key's bytes that lands yields an array of the whole items in it (a
   * partial item waits for the rest); object arrays come frame by frame. The
   * dtype is read from the sidecar, which an append writes before the data.
   */
  override async *followId(id: KeyId, request: FollowRequest): AsyncIterable<Followed<TypedValue>> {
    checkUserKey(id);
    const source = this.inner.followId(id, request)[Symbol.asyncIterator]();
    const first = await source.next();
    if (first.done) return;
    const [sidecar] = await this.inner.getIds([sidecarOf(id)]);
    if (sidecar.byteLength === 0) {
      throw new LaminateError('ERR_DTYPE', `Key ${showKey(id)} holds bytes but no dtype (its ${showKey(sidecarOf(id))} is missing), so they cannot be read as an array. It was not written by typedArrays() or partd.Numpy.`, { key: showKey(id) });
    }
    const dtype = parseDtype(Buffer.from(sidecar).toString('latin1'), id);
    const chunks = (async function* () {
      yield first.value;
      for (let next = await source.next(); !next.done; next = await source.next()) yield next.value;
    })();
    if (dtype.code === 'O') {
      yield* followFrames(chunks, id, objectFrames, request, !(this.inner instanceof WrapperStore));
      return;
    }
    let carry: Uint8Array = new Uint8Array(0);
    for await (const { value: chunk, position } of chunks) {
      const bytes = carry.byteLength === 0 ? chunk : Buffer.concat([carry, chunk]);
      const whole = bytes.byteLength - (bytes.byteLength % dtype.size);
      if (whole > 0) yield { value: decodeValue(bytes.subarray(0, whole), dtype, id), position: position - (bytes.byteLength - whole) };
      carry = Buffer.from(bytes.subarray(whole));
    }
  }

  /** Numeric data is stored unframed (partd's layout), so iter() yields a key's values joined. */
  override get supports(): Supports {
    return { reopen: this.inner.supports.reopen, iterChunks: false };
  }

  /**
   * repair() cuts a key back to its last whole item (numeric dtypes) or frame
   * (object arrays; damage before a torn tail is refused, as for any frames);
   * a key with no dtype sidecar holds nothing to cut.
   */
  protected override async wholeEnd(id: KeyId, bytes: Uint8Array): Promise<number> {
    checkUserKey(id);
    const [sidecar] = await this.inner.getIds([sidecarOf(id)]);
    if (sidecar.byteLength === 0) return bytes.byteLength;
    const dtype = parseDtype(Buffer.from(sidecar).toString('latin1'), id);
    return dtype.code === 'O' ? wholeFramesEnd(bytes, id, objectFrames) : bytes.byteLength - (bytes.byteLength % dtype.size);
  }
}

/**
 * typedArrays(inner): append TypedArrays (or Datetime64Array values, or plain
 * arrays of JS values) per key; `get` returns one array of the key's dtype
 * holding every append. A missing key reads as an empty Float64Array.
 */
export function typedArrays(inner: Store<Uint8Array>): TypedArrayStore {
  return new TypedArrayStore(inner);
}

registerLayer('typedArrays', { children: ['inner'], open: (spec, inner) => typedArrays(inner(spec.inner as StoreSpec)) });
