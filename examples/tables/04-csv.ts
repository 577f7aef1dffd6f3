import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Table } from 'apache-arrow';
import { file, tables } from 'laminate';

const show = (table: Table) => table.toArray().forEach((row) => console.log(JSON.stringify(row.toJSON())));

const directory = mkdtempSync(join(tmpdir(), 'tables-csv-'));
const store = file(directory);
const t = tables(store);

// A csv table is a CSV file in the store; quoting keeps each value's type.
await t.write('csv', 'notes', [
  { id: 1, text: 'plain', done: true },
  { id: 2, text: 'a "quoted", comma', done: false },
  { id: 3, text: 'two\nlines, ünïcødé ✓', done: null },
  { id: 4, text: '42', done: true },
]);
process.stdout.write(readFileSync(join(directory, 'csv%d', 'notes'), 'utf8'));

// Read back with the same options as kv.
show(await t.read('csv', 'notes', { filter: 'done == true', columns: ['id', 'text'] }));
await store.drop();
await store.close();
