import { brotli, checksum, dict, lz4, msgpack, zstd, type BaseStore, type DictStore } from 'laminate';

// One bit flipped in the middle of what a stack stored, as a bad disk or a stray write would do.
async function flipOneBit(make: (inner: DictStore) => BaseStore<unknown>, value: unknown): Promise<string> {
  const inner = dict();
  const store = make(inner);
  await store.append({ key: value as never });
  const bytes = Buffer.from(await inner.get('key'));
  bytes[bytes.length >> 1] ^= 0x10;
  await inner.delete(['key']);
  await inner.append({ key: bytes });
  try {
    const back = await store.get('key');
    return JSON.stringify(back) === JSON.stringify(value) ? 'the same value' : 'OTHER DATA, no error';
  } catch (error) {
    return (error as { code: string }).code;
  }
}

const text = Buffer.from(Array.from({ length: 300 }, (_, i) => `row ${i}: user-${i % 17} paid ${(i * 37) % 1000} cents`).join('\n'));
const records = [{ id: 1, user: 'ada', note: 'a record stored as plain MessagePack' }];
for (const [name, make, value] of [
  ['brotli', (inner: DictStore) => brotli(inner), text],
  ['brotli(checksum)', (inner: DictStore) => brotli(checksum(inner)), text],
  ['msgpack', (inner: DictStore) => msgpack(inner), records],
  ['msgpack(checksum)', (inner: DictStore) => msgpack(checksum(inner)), records],
  ['lz4', (inner: DictStore) => lz4(inner), text],
  ['zstd', (inner: DictStore) => zstd(inner), text],
] as const) {
  console.log(name.padEnd(18), await flipOneBit(make, value));
}

// checksum() is a layer like the others: describe() and open() know it.
console.log(msgpack(checksum(dict())).describe());
