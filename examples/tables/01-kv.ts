import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Table } from 'apache-arrow';
import { file, tables } from 'laminate';

const show = (table: Table) => table.toArray().forEach((row) => console.log(JSON.stringify(row.toJSON())));

const store = file(mkdtempSync(join(tmpdir(), 'tables-kv-')));
const t = tables(store);

// Rows keyed by an index column; a later write of a key replaces its row.
await t.write('kv', 'people', [
  { name: 'tom', age: 10, city: 'TLV' },
  { name: 'nick', age: 15, city: 'Berlin' },
  { name: 'juli', age: 14, city: 'NY' },
], { index: 'name' });
await t.write('kv', 'people', [{ name: 'tom', age: 11, city: 'Haifa' }]);

// A filter, and only the columns asked for (read from storage alone).
show(await t.read('kv', 'people', { filter: 'age > 10 and city != "NY"', columns: ['name', 'age'] }));

// An update expression, applied when its condition holds for the row.
console.log(await t.execute('kv', 'people', 'update', { key: 'nick', expression: 'age = age + 1; city = "Paris"', condition: 'age >= 15' }));

// Delete by filter; what is left, and its schema.
await t.delete('kv', 'people', { filter: 'city in ("TLV", "NY")' });
show(await t.read('kv', 'people'));
console.log(JSON.stringify(await t.execute('kv', 'people', 'infer')));

// A filter that does not parse says where.
try {
  await t.read('kv', 'people', { filter: 'age >> 3' });
} catch (error) {
  console.log((error as Error).message);
}
await store.drop();
await store.close();
