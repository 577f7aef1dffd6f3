import { arrow, dict } from 'laminate';
import { RecordBatchReader, tableFromArrays } from 'apache-arrow';

// What arrow() stores under a key, read without laminate: frames of
// an 8-byte little-endian length, each holding one whole Arrow IPC stream.
const inner = dict();
const store = arrow(inner);
await store.append({ k: tableFromArrays({ a: Int32Array.of(1, 2) }) });
await store.append({ k: tableFromArrays({ a: Int32Array.of(3) }) });

const bytes = await inner.get('k'); // the raw bytes (a file of file() holds the same)
const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
for (let at = 0; at < bytes.byteLength; ) {
  const length = Number(view.getBigUint64(at, true));
  const reader = RecordBatchReader.from(bytes.subarray(at + 8, at + 8 + length));
  for (const batch of reader) console.log(`frame at byte ${at}: ${length} bytes, a = ${batch.getChild('a')!.toArray()}`);
  at += 8 + length;
}
