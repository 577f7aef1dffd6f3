/**
 * What the snappy, bz2 and blosc layers share: a bytes → bytes codec over
 * core's EncodeStore (one frame per appended value, partd's framing), and
 * option checks that fail the way core's do.
 */
import { type BaseStore, type Codec, EncodeStore, LaminateError, checkBytes, concatBytes, type KeyId } from '@laminate/core';

export type CompressStore = EncodeStore<Uint8Array>;

export function compressLayer(name: string, inner: BaseStore<Uint8Array>, encode: (b: Uint8Array) => Uint8Array, decode: (b: Uint8Array) => Uint8Array, spec?: Record<string, unknown>): CompressStore {
  const codec: Codec<Uint8Array> = {
    name,
    encode,
    decode,
    join: concatBytes,
    empty: () => Buffer.alloc(0),
    check(value: unknown, id: KeyId): asserts value is Uint8Array {
      checkBytes(name, value, id);
    },
    spec,
  };
  return new EncodeStore(codec, inner);
}

/** An ERR_INVALID_OPTION that is also a TypeError, as core's option errors are. */
export function optionError(message: string): LaminateError {
  const error = new TypeError(message) as TypeError & { code: string };
  error.name = 'LaminateError';
  // core brands its errors with this registered symbol; `instanceof LaminateError` checks it.
  Object.defineProperty(error, Symbol.for('laminate.error'), { value: true });
  error.code = 'ERR_INVALID_OPTION';
  return error as unknown as LaminateError;
}

export function wholeIn(layer: string, option: string, value: unknown, min: number, max: number): number | undefined {
  if (value === undefined) return undefined;
  if (typeof value !== 'number' || !Number.isInteger(value) || value < min || value > max) {
    throw optionError(`${layer}(): ${option} must be a whole number from ${min} to ${max}; got ${String(value)}.`);
  }
  return value;
}

export function asBuffer(bytes: Uint8Array): Buffer {
  return Buffer.isBuffer(bytes) ? bytes : Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}
