import { dict, file, isLaminateError, typedArrays } from 'laminate';

const store = typedArrays(file()); // a temporary directory, removed on close

// Append TypedArrays; get returns one array of the key's type holding every append.
await store.append({ prices: Float32Array.of(9.5, 12), ids: BigInt64Array.of(1n, 2n) });
await store.append({ prices: Float32Array.of(7.25) });
console.log(await store.get('prices'));
console.log(await store.get('ids'));

// A missing key is an empty Float64Array (numpy's default dtype).
console.log(await store.get('nothing'));

// A key keeps the dtype of its first append; nothing from a refused call is stored.
try {
  await store.append([['fresh', Int8Array.of(1)], ['prices', Float64Array.of(1)]]);
} catch (error) {
  if (!isLaminateError(error, 'ERR_DTYPE')) throw error;
  console.log(error.code, error.message);
}
console.log((await store.keys()).sort()); // the dtype sidecars are not listed

// Plain arrays are numpy object arrays: strings and other JS values, stored with MessagePack.
await store.append({ names: ['ada', 'bob', null] });
await store.append({ names: ['cy'] });
console.log(await store.get('names'));
await store.close();

// What the store below holds: the data, and the dtype under key + ".dtype".
const inner = dict();
const shown = typedArrays(inner);
await shown.append({ x: Int32Array.of(1, 2) });
console.log(await inner.get('x')); // the raw bytes of every append, as numpy's tobytes()
console.log(Buffer.from(await inner.get('x.dtype')).toString()); // the numpy dtype string
console.log((await inner.keys()).sort(), (await shown.keys()).sort());
