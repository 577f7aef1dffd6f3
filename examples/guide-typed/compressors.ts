import { blosc, bz2, dict, file, isLaminateError, open, snappy, typedArrays } from 'laminate';

// A float64 column: a random walk in cent steps, as prices are.
const prices = new Float64Array(100_000);
for (let i = 1; i < prices.length; i++) prices[i] = Math.round((prices[i - 1] + Math.sin(i) * 0.3) * 100) / 100;
const raw = new Uint8Array(prices.buffer);

// Each layer wraps any bytes store; what it holds is what partd.Snappy, partd.BZ2 and partd.Blosc hold.
for (const [name, store] of [
  ['snappy', snappy(dict())],
  ['bz2', bz2(dict(), { level: 9 })],
  ['blosc', blosc(dict())],
  ['blosc zstd', blosc(dict(), { cname: 'zstd', typesize: 8 })],
] as const) {
  await store.append({ prices: raw });
  const back = await store.get('prices');
  const stored = (await store.inner.get('prices')).byteLength;
  console.log(`${name.padEnd(10)} ${(raw.byteLength / stored).toFixed(2)}x smaller, read back whole: ${Buffer.compare(back, raw) === 0}`);
}

// Under typedArrays, on disk; the short form and describe() name the same stack.
const dir = file();
const store = typedArrays(blosc(dir, { typesize: 8 }));
await store.append({ prices });
const { type, typesize } = store.describe().inner as { type: string; typesize: number };
console.log((await store.get('prices')).length, type, typesize);
const again = open<Uint8Array>(`blosc(file(${dir.describe().path}), typesize=8)`);
console.log((await again.get('prices')).byteLength);
await again.close();
await store.close();

// A frame that is not what the layer wrote is an error with a code, never garbage.
const inner = dict();
await snappy(inner).append({ k: Buffer.from('hello') });
try {
  await bz2(inner).get('k');
} catch (error) {
  if (!isLaminateError(error, 'ERR_CORRUPT_FRAME')) throw error;
  console.log(error.code, error.key, error.offset);
}
