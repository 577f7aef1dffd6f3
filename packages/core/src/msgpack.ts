import { type Options, Packr, Unpackr } from 'msgpackr';
import { type Codec, EncodeStore } from './encode.js';
import type { KeyId } from './keys.js';
import { type BaseStore, wrongValue } from './store.js';

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
export function msgpack<T = unknown>(inner: BaseStore<Uint8Array>, opts: MsgpackOptions = {}): EncodeStore<T[]> {
  // int64AsType 'auto': 64-bit integers in the safe range are numbers, larger ones bigints
  // (msgpackr supports it; its type declarations lag behind).
  const options = { useRecords: opts.records === true, sequential: opts.records === true, encodeUndefinedAsNil: true, int64AsType: 'auto' } as unknown as Options;
  const packr = new Packr(options);
  const unpackr = new Unpackr(options);
  const codec: Codec<T[]> = {
    name: 'msgpack',
    encode: (value) => packr.pack(value),
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
