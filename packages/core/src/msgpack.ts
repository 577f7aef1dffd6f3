import { type Options, Packr, Unpackr } from 'msgpackr';
import { type Codec, EncodeStore } from './encode.js';
import type { KeyId } from './keys.js';
import { registerLayer } from './spec.js';
import { type Store, type StoreSpec, wrongValue } from './store.js';

export interface MsgpackOptions {
  /**
   * Use msgpackr's record extension: smaller and faster for arrays of objects
   * with the same fields, but only msgpackr reads it back. Off by default, so
   * what is stored stays plain MessagePack that Python's msgpack reads.
   */
  records?: boolean;
}

/**
 * msgpack(inner): values are arrays of JS values; `get` returns every array
 * appended under the key, concatenated (partd's Python layer).
 */
export function msgpack<T = unknown>(inner: Store<Uint8Array>, opts: MsgpackOptions = {}): EncodeStore<T[]> {
  // int64AsType 'auto': 64-bit integers in the safe range are numbers, larger ones bigints
  // (msgpackr supports it; its type declarations lag behind). Records are not
  // `sequential`: msgpackr would then define each record shape only in the
  // first value a Packr writes, and every later frame would depend on it, so
  // that another process (or this one after a restart) could not read them.
  // Without it, each frame carries the shapes it uses and reads on its own.
  const options = { useRecords: opts.records === true, encodeUndefinedAsNil: true, int64AsType: 'auto' } as unknown as Options;
  const packr = new Packr(options);
  const unpackr = new Unpackr(options);
  const codec: Codec<T[]> = {
    name: 'msgpack',
    encode: (value) => packr.pack(typedArraysAsBytes(value, 0)),
    decode(payload) {
      const value = unpackr.unpack(payload);
      if (!Array.isArray(value)) throw new Error('the frame holds a MessagePack value that is not an array');
      return value as T[];
    },
    join(values) {
      const out: T[] = [];
      for (const value of values) for (let i = 0; i < value.length; i++) out.push(value[i]);
      return out;
    },
    empty: () => [],
    check(value: unknown, id: KeyId): asserts value is T[] {
      if (!Array.isArray(value)) throw wrongValue('msgpack', 'arrays of values (wrap one record as [record])', value, id);
    },
    spec: opts.records ? { records: true } : undefined,
  };
  return new EncodeStore(codec, inner);
}

/**
 * msgpackr without `moreTypes` means to write any typed array as MessagePack
 * bin of its bytes, but it copies a Float32Array, Int16Array… element by
 * element into a byte range sized in bytes: the stored bin holds each element
 * cut to 8 bits followed by stale bytes of msgpackr's reused buffer (garbage,
 * and a leak of earlier data). Hand it a Uint8Array view of the same bytes.
 * Returns `value` itself when it holds no such array, a shallow copy of the
 * arrays and plain objects on the way to one otherwise.
 */
function typedArraysAsBytes(value: unknown, depth: number): unknown {
  if (typeof value !== 'object' || value === null) return value;
  if (ArrayBuffer.isView(value)) return value instanceof Uint8Array ? value : new Uint8Array(value.buffer, value.byteOffset, value.byteLength);
  // Deeper than this is a cycle or near one; msgpackr reports it (ERR_VALUE_TYPE).
  if (depth > 100) return value;
  if (Array.isArray(value)) {
    let copy: unknown[] | undefined;
    for (let i = 0; i < value.length; i++) {
      const item = value[i];
      if (typeof item !== 'object' || item === null) continue;
      const fixed = typedArraysAsBytes(item, depth + 1);
      if (fixed !== item) (copy ??= value.slice())[i] = fixed;
    }
    return copy ?? value;
  }
  if (Object.getPrototypeOf(value) !== Object.prototype) return value;
  let copy: Record<string, unknown> | undefined;
  for (const key in value) {
    const item = (value as Record<string, unknown>)[key];
    if (typeof item !== 'object' || item === null) continue;
    const fixed = typedArraysAsBytes(item, depth + 1);
    if (fixed !== item) (copy ??= { ...(value as Record<string, unknown>) })[key] = fixed;
  }
  return copy ?? value;
}

registerLayer('msgpack', { children: ['inner'], options: ['records'], open: (spec, open) => msgpack(open(spec.inner as StoreSpec), { records: spec.records === true }) });
