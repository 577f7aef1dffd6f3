/** Conformance value generators for typedArrays(): one dtype per generator, since a key keeps its first dtype. */
import type { Values } from '@laminate/core/testing';
import { Datetime64Array, type NumericArray, type TypedValue } from '@laminate/codecs';

/** Compares as bytes tagged with the array's type (and unit): fast for megabytes, and a wrong type still differs. */
function comparable(value: TypedValue): unknown {
  if (Array.isArray(value)) return value;
  const [tag, view] = value instanceof Datetime64Array ? [`Datetime64Array[${value.unit}]`, value.values] : [value.constructor.name, value];
  return Buffer.concat([Buffer.from(`${tag}:`), Buffer.from(view.buffer, view.byteOffset, view.byteLength)]);
}

const WRONG = ['text', 42, null, undefined, { a: 1 }, new ArrayBuffer(8), new DataView(new ArrayBuffer(8)), new Uint8ClampedArray(2), 7n, () => 1];

function concat<A extends NumericArray>(ctor: { new (n: number): A }, parts: readonly A[]): A {
  const out = new ctor(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const part of parts) {
    (out as unknown as { set(p: A, at: number): void }).set(part, at);
    at += part.length;
  }
  return out;
}

export const float64Values: Values<TypedValue> = {
  make: (n, variant = 0) => Float64Array.from({ length: (n % 5) + 1 }, (_, i) => n * 1000 + variant + i / 8),
  joined: (values) => concat(Float64Array, values as Float64Array[]),
  wrong: WRONG,
  comparable,
  large: (bytes) => Float64Array.from({ length: bytes / 8 }, (_, i) => Math.sin(i) * 1e6),
};

export const int32Values: Values<TypedValue> = {
  make: (n, variant = 0) => Int32Array.from({ length: (n % 4) + 1 }, (_, i) => (n * 7919 + variant * 31 + i) * (i % 2 ? -1 : 1)),
  joined: (values) => concat(Int32Array, values as Int32Array[]),
  wrong: WRONG,
  comparable,
  large: (bytes) => Int32Array.from({ length: bytes / 4 }, (_, i) => (i * 2654435761) | 0),
};

export const uint64Values: Values<TypedValue> = {
  make: (n, variant = 0) => BigUint64Array.from({ length: (n % 3) + 1 }, (_, i) => 2n ** 63n + BigInt(n * 100 + variant + i)),
  joined: (values) => concat(BigUint64Array, values as BigUint64Array[]),
  wrong: WRONG,
  comparable,
  large: (bytes) => BigUint64Array.from({ length: bytes / 8 }, (_, i) => BigInt(i) * 0x9e3779b97f4a7c15n % 2n ** 64n),
};

/** numpy object arrays: plain arrays of strings, numbers, null and booleans. */
export const objectValues: Values<TypedValue> = {
  make: (n, variant = 0) => [`item ${n}/${variant}`, n, n % 2 === 0, null, 'ü'.repeat(n % 4)],
  joined: (values) => (values as unknown[][]).flat(1),
  wrong: WRONG.filter((w) => !Array.isArray(w)),
  large: (bytes) => Array.from({ length: Math.ceil(bytes / 64) }, (_, i) => `${i} ${'text '.repeat(12)}`),
};

export const datetimeValues: Values<TypedValue> = {
  make: (n, variant = 0) => new Datetime64Array(BigInt64Array.from({ length: (n % 3) + 1 }, (_, i) => (i === 2 ? Datetime64Array.NaT : 1_700_000_000_000_000_000n + BigInt(n * 1e9 + variant * 1000 + i))), 'ns'),
  joined: (values) => new Datetime64Array(concat(BigInt64Array, (values as Datetime64Array[]).map((v) => v.values)), 'ns'),
  wrong: WRONG,
  comparable,
  large: (bytes) => new Datetime64Array(BigInt64Array.from({ length: bytes / 8 }, (_, i) => BigInt(i) * 1_000_000_000n), 'ns'),
};
