import { brotli, dict, gzip, lz4, zlib, zstd, type CompressStore, type DictStore } from 'laminate';

// 40 KB of repetitive JSON lines, the kind of data a store mostly holds.
const lines = Array.from({ length: 1000 }, (_, i) => JSON.stringify({ id: i, user: `user-${i % 50}`, amount: (i * 37) % 1000 }));
const data = Buffer.from(lines.join('\n'));

// Each layer compresses every appended value on its own (one frame per value).
const layers: Record<string, (inner: DictStore) => CompressStore> = {
  'lz4': (inner) => lz4(inner),
  'zstd level -5': (inner) => zstd(inner, { level: -5 }),
  'zstd (level 3)': (inner) => zstd(inner),
  'zstd level 19': (inner) => zstd(inner, { level: 19 }),
  'zlib (level 6)': (inner) => zlib(inner),
  'gzip level 9': (inner) => gzip(inner, { level: 9 }),
  'brotli (level 4)': (inner) => brotli(inner),
  'brotli level 11': (inner) => brotli(inner, { level: 11 }),
};
console.log('raw'.padEnd(18), data.length);
for (const [name, wrap] of Object.entries(layers)) {
  const inner = dict();
  const store = wrap(inner);
  await store.append({ key: data });
  const back = await store.get('key');
  const stored = (await inner.get('key')).length; // what reached the layer below
  console.log(name.padEnd(18), stored, Buffer.compare(back, data) === 0 ? 'round-trips' : 'DIFFERS');
  await store.close();
}

// Compression layers stack on any bytes store, and on each other.
const twice = zstd(lz4(dict()));
console.log(twice.describe());

// A level out of range is refused when the layer is made.
try {
  zstd(dict(), { level: 30 });
} catch (error) {
  console.log((error as { code: string }).code, (error as Error).message);
}
