import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { dict, file } from '@laminate/core';
import { rejection, tempDirs } from '@laminate/core/testing';
import { Int32, Table, Utf8, vectorFromArray } from 'apache-arrow';
import { tables } from '../src/index.js';
import { lastWins } from '../src/kv.js';
import { seededRandom } from '@laminate/core/layer';
import { RecordingDict, rows } from './helpers.js';

const tmp = tempDirs('laminate-tables-kv-');
const PACKAGE = fileURLToPath(new URL('..', import.meta.url));

const people = [
  { name: 'tom', age: 10, city: 'TLV' },
  { name: 'nick', age: 15, city: 'Berlin' },
  { name: 'juli', age: 14, city: 'NY' },
];

describe('kv', () => {
  it('writes records and reads them back; a later write of an index value replaces its row', async () => {
    const t = tables(dict());
    await t.write('kv', 'people', people, { index: 'name' });
    await t.write('kv', 'people', [{ name: 'tom', age: 11, city: 'Haifa' }]);
    expect(rows(await t.read('kv', 'people'))).toEqual([
      { name: 'tom', age: 11, city: 'Haifa' },
      { name: 'nick', age: 15, city: 'Berlin' },
      { name: 'juli', age: 14, city: 'NY' },
    ]);
  });

  it('keeps the last row of each index value, in order of first write, across batches and unicode keys', async () => {
    const random = seededRandom(3);
    const alphabet = ['a', 'b', 'é', '日', '🚀', ''];
    const t = tables(dict());
    const written: { k: string; v: number }[] = [];
    for (let batch = 0; batch < 5; batch++) {
      const rows = Array.from({ length: 400 }, () => ({ k: Array.from({ length: Math.floor(random() * 3) }, () => alphabet[Math.floor(random() * alphabet.length)]).join(''), v: written.length + Math.floor(random() * 1000) / 1000 }));
      rows.forEach((row, i) => (row.v = written.length + i));
      written.push(...rows);
      await t.write('kv', 'keys', rows, { index: 'k' });
    }
    const expected = new Map<string, number>();
    for (const row of written) expected.set(row.k, row.v);
    expect(rows(await t.read('kv', 'keys'))).toEqual([...expected].map(([k, v]) => ({ k, v })));
    // The same on an index of numbers, through the general path.
    const numbers = new Table({ n: vectorFromArray([3, 1, 3, 2, 1], new Int32()) });
    expect(lastWins(numbers, 'n')).toEqual([2, 4, 3]);
  });

  it('filters rows and returns only the asked columns, reading only the columns it needs', async () => {
    const store = new RecordingDict();
    const t = tables(store);
    const big = people.map((p) => ({ ...p, blob: 'x'.repeat(1000) }));
    await t.write('kv', 'people', big, { index: 'name' });
    store.reads = [];
    const table = await t.read('kv', 'people', { filter: 'age > 12 and city != "NY"', columns: ['age'] });
    expect(table.schema.fields.map((f) => f.name)).toEqual(['age']);
    expect(rows(table)).toEqual([{ age: 15 }]);
    const columnsRead = new Set(store.reads.filter((parts) => parts[0] === 'kv').map((parts) => parts[parts.length - 1]));
    expect(columnsRead.has('blob')).toBe(false);
    expect(columnsRead.has('age')).toBe(true);
    expect(columnsRead.has('city')).toBe(true);
  });

  it('keeps Arrow column types from an Arrow Table and refuses writes with other columns', async () => {
    const t = tables(dict());
    const table = new Table({ id: vectorFromArray(['a', 'b'], new Utf8()), n: vectorFromArray([1, 2], new Int32()) });
    await t.write('kv', 'typed', table, { index: 'id' });
    const read = await t.read('kv', 'typed');
    expect(String(read.schema.fields[1].type)).toBe('Int32');
    expect(rows(read)).toEqual([
      { id: 'a', n: 1 },
      { id: 'b', n: 2 },
    ]);
    const error = await rejection(t.write('kv', 'typed', [{ id: 'c', m: 3 }]));
    expect(error.code).toBe('ERR_SCHEMA');
    expect(error.message).toContain('"n"');
    expect(rows(await t.read('kv', 'typed'))).toHaveLength(2);
  });

  it('needs an index on the first write and refuses another index later', async () => {
    const t = tables(dict());
    expect((await rejection(t.write('kv', 'x', [{ a: 1 }]))).code).toBe('ERR_INVALID_OPTION');
    await t.write('kv', 'x', [{ a: 1, b: 2 }], { index: 'a' });
    expect((await rejection(t.write('kv', 'x', [{ a: 1, b: 2 }], { index: 'b' }))).code).toBe('ERR_INVALID_OPTION');
    expect((await rejection(t.write('kv', 'x', [{ a: null, b: 2 }]))).code).toBe('ERR_VALUE_TYPE');
    expect((await rejection(t.read('kv', 'missing'))).code).toBe('ERR_NOT_FOUND');
  });

  it('points at an unknown column in a filter', async () => {
    const t = tables(dict());
    await t.write('kv', 'people', people, { index: 'name' });
    const error = await rejection(t.read('kv', 'people', { filter: 'age > 1 and height < 2' }));
    expect(error.code).toBe('ERR_SCHEMA');
    expect(error.offset).toBe(12);
    expect((await rejection(t.read('kv', 'people', { columns: ['height'] }))).code).toBe('ERR_SCHEMA');
  });

  it('deletes rows by filter, then the whole table, leaving no files behind', async () => {
    const dir = tmp();
    const store = file(dir);
    const t = tables(store);
    await t.write('kv', 'people', people, { index: 'name' });
    await t.delete('kv', 'people', { filter: 'age >= 14' });
    expect(rows(await t.read('kv', 'people'))).toEqual([{ name: 'tom', age: 10, city: 'TLV' }]);
    await t.write('kv', 'people', [{ name: 'ann', age: 30, city: 'Rome' }]);
    expect(rows(await t.read('kv', 'people', { columns: 'name' }))).toEqual([{ name: 'tom' }, { name: 'ann' }]);
    await t.delete('kv', 'people');
    expect((await rejection(t.read('kv', 'people'))).code).toBe('ERR_NOT_FOUND');
    expect(await store.keys()).toEqual([]);
    await store.close();
  });

  it("execute('update') sets columns from an expression when the condition holds", async () => {
    const t = tables(dict());
    await t.write('kv', 'people', people, { index: 'name' });
    expect(await t.execute('kv', 'people', 'update', { key: 'nick', expression: 'age = age + 1; city = "Paris"', condition: 'age > 14' })).toEqual({ updated: true });
    expect(await t.execute('kv', 'people', 'update', { key: 'juli', expression: 'age = 99', condition: 'age > 14' })).toEqual({ updated: false });
    expect(await t.execute('kv', 'people', 'update', { key: 'zoe', expression: 'age = 1' })).toEqual({ updated: true });
    expect(await t.execute('kv', 'people', 'update', { key: 'max', expression: 'age = 1', condition: 'age > 0' })).toEqual({ updated: false });
    expect(rows(await t.read('kv', 'people'))).toEqual([
      { name: 'tom', age: 10, city: 'TLV' },
      { name: 'nick', age: 16, city: 'Paris' },
      { name: 'juli', age: 14, city: 'NY' },
      { name: 'zoe', age: 1, city: null },
    ]);
    const wrongType = await rejection(t.execute('kv', 'people', 'update', { key: 'tom', expression: 'city = "x"; age = "old"' }));
    expect(wrongType.code).toBe('ERR_INVALID_OPTION');
    expect(wrongType.offset).toBe(12);
    const reKey = await rejection(t.execute('kv', 'people', 'update', { key: 'tom', expression: 'name = "t"' }));
    expect(reKey.offset).toBe(0);
    expect((await rejection(t.execute('kv', 'people', 'update', { key: 'tom', expression: 'size = 1' }))).code).toBe('ERR_SCHEMA');
    expect((await rejection(t.execute('kv', 'people', 'nope'))).code).toBe('ERR_NOT_SUPPORTED');
  });

  it("execute('infer') returns the index and the column types", async () => {
    const t = tables(dict());
    await t.write('kv', 'people', people, { index: 'name' });
    expect(await t.execute('kv', 'people', 'infer')).toEqual({
      index: 'name',
      columns: [
        { name: 'name', type: 'Utf8' },
        { name: 'age', type: 'Float64' },
        { name: 'city', type: 'Utf8' },
      ],
    });
  });

  it('compacts: rewriting the same keys does not grow the stored rows without bound', async () => {
    const dir = tmp();
    const store = file(dir);
    const t = tables(store, { compactEvery: 30 });
    for (let round = 0; round < 40; round++) {
      await t.write('kv', 'hot', Array.from({ length: 10 }, (_, i) => ({ k: `key${i}`, round })), { index: 'k' });
    }
    // 400 rows written; compaction keeps the stored rows near the 10 live ones.
    const { before, after } = (await t.execute('kv', 'hot', 'compact')) as { before: number; after: number };
    expect(after).toBe(10);
    expect(before).toBeLessThanOrEqual(50);
    expect(rows(await t.read('kv', 'hot', { filter: 'k == "key3"' }))).toEqual([{ k: 'key3', round: 39 }]);
    // Only the current generation's keys remain in the store.
    const generations = new Set((await store.keys()).filter((k) => Array.isArray(k) && k[2] === 'g').map((k) => (k as string[])[3]));
    expect(generations.size).toBe(1);
    await store.close();
    // Another tables() on the directory reads the same rows.
    const again = file(dir);
    expect((await tables(again).read('kv', 'hot')).numRows).toBe(10);
    await again.close();
  });

  it('last write wins across two processes writing one directory at once', async () => {
    const dir = tmp();
    const writer = (name: string, count: number) =>
      new Promise<string>((resolve, reject) => {
        const child = spawn(process.execPath, ['--conditions=source', '--import', 'tsx', 'test/fixtures/kv-writer.ts', dir, name, String(count)], { cwd: PACKAGE, stdio: ['ignore', 'pipe', 'pipe'] });
        let output = '';
        child.stdout.on('data', (chunk) => (output += chunk));
        child.stderr.on('data', (chunk) => (output += chunk));
        child.on('error', reject);
        child.on('close', (code) => (code === 0 ? resolve(output) : reject(new Error(`writer ${name} exited ${code}: ${output}`))));
      });
    const N = 60;
    await Promise.all([writer('a', N), writer('b', N)]);
    const store = file(dir);
    const t = tables(store);
    const all = rows(await t.read('kv', 'shared'));
    // Every key each process wrote is there once, with its last value.
    for (const name of ['a', 'b']) {
      for (let i = 0; i < N; i++) expect(all.filter((r) => r.key === `${name}${i}`)).toEqual([{ key: `${name}${i}`, writer: name, i }]);
    }
    // Both wrote "both" after each of their own rows; the last stored write is some writer's final one.
    const both = all.filter((r) => r.key === 'both');
    expect(both).toHaveLength(1);
    expect(both[0].i).toBe(N - 1);
    await store.close();
    // One after the other: the second process's row wins.
    await writer('c', 1);
    await writer('d', 1);
    const store2 = file(dir);
    expect(rows(await tables(store2).read('kv', 'shared', { filter: 'key == "both"' }))).toEqual([{ key: 'both', writer: 'd', i: 0 }]);
    expect(existsSync(join(dir, 'kv%d', 'shared%d', '%2Eattrs'))).toBe(true);
    await store2.close();
  });
});
