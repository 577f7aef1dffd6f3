import { arrowColumns, dict } from 'laminate';
import { tableFromArrays } from 'apache-arrow';

const inner = dict();
const store = arrowColumns(inner);

const rows = 1000;
const table = tableFromArrays({
  id: Int32Array.from({ length: rows }, (_, i) => i),
  x: Float64Array.from({ length: rows }, (_, i) => i / 2),
  y: Float64Array.from({ length: rows }, (_, i) => i * 2),
});
await store.append({ points: table });
await store.append({ points: table });

// Only the columns asked for are read from the store below.
const x = await store.get('points', { columns: ['x'] });
console.log(x.numRows, 'rows of', x.schema.fields.map((f) => f.name));

// Your keys, and what the store below holds: a sub-key per column plus the schema.
console.log(await store.keys());
console.log((await inner.keys()).map((k) => JSON.stringify(k)).sort().join(' '));

// Everything, as one Table.
const all = await store.get('points');
console.log(all.numRows, 'rows,', all.numCols, 'columns, row 1500:', all.get(1500)!.toJSON());
await store.close();
