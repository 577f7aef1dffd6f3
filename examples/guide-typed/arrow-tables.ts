import { arrow, file, isLaminateError } from 'laminate';
import { Dictionary, Int32, Table, Utf8, tableFromArrays, vectorFromArray } from 'apache-arrow';

const store = arrow(file()); // a temporary directory, removed on close

// Append Tables (or RecordBatches); each append keeps its own batches.
const day1 = tableFromArrays({ id: Int32Array.of(1, 2), price: Float64Array.of(9.5, 12) });
const day2 = tableFromArrays({ id: Int32Array.of(3), price: Float64Array.of(7.25) });
await store.append({ trades: day1 });
await store.append({ trades: day2 });

const trades = await store.get('trades');
console.log(trades.numRows, 'rows in', trades.batches.length, 'batches:', trades.schema.fields.map(String).join(', '));
console.log(trades.toArray().map((row) => row.toJSON()));

// A missing key is an empty Table, with no schema.
const missing = await store.get('nothing');
console.log('missing:', missing.numRows, 'rows,', missing.numCols, 'columns');

// Every append to a key must have the key's schema; nothing from a refused call is stored.
const wrong = tableFromArrays({ id: Float64Array.of(4), note: ['late'] });
try {
  await store.append([['other', day1], ['trades', wrong]]);
} catch (error) {
  if (!isLaminateError(error, 'ERR_SCHEMA')) throw error;
  console.log(error.code, error.message);
}
console.log('other:', (await store.get('other')).numRows, 'rows');

// Dictionary-encoded strings, nulls and the rest round-trip as they are.
const tagged = new Table({ tag: vectorFromArray(['red', null, 'red'], new Dictionary(new Utf8(), new Int32())) });
await store.append({ tags: tagged });
const tags = (await store.get('tags')).getChild('tag')!;
console.log(String(tags.type), tags.toArray());

// Only some columns: the whole key is read, then projected (arrowColumns reads less).
console.log((await store.get('trades', { columns: ['price'] })).toArray().map((row) => row.toJSON()));
await store.close();
