import { readFileSync, writeFileSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { dict, file } from '@laminate/core';
import { rejection, tempDirs } from '@laminate/core/testing';
import { tables } from '../src/index.js';
import { rows } from './helpers.js';

const tmp = tempDirs('laminate-tables-csv-');

const tricky = [
  { id: 1, text: 'plain', flag: true },
  { id: 2, text: 'with, comma and "quotes"', flag: false },
  { id: 3, text: 'two\nlines\r\nand a CRLF', flag: null },
  { id: 4, text: 'ünïcødé ✓ 日本語 🚀', flag: true },
  { id: 5, text: '', flag: false },
  { id: 6, text: null, flag: true },
  { id: 7, text: '42', flag: false },
  { id: 8, text: 'true', flag: true },
  { id: 9, text: '  spaced  ', flag: true },
];

describe('csv', () => {
  it('round-trips quoted, multiline, unicode, empty, null and number-like fields', async () => {
    const dir = tmp();
    const store = file(dir);
    const t = tables(store);
    await t.write('csv', 'tricky', tricky.slice(0, 4));
    await t.write('csv', 'tricky', tricky.slice(4));
    const table = await t.read('csv', 'tricky');
    expect(table.schema.fields.map((f) => `${f.name}: ${String(f.type)}`)).toEqual(['id: Float64', 'text: Utf8', 'flag: Bool']);
    expect(rows(table)).toEqual(tricky);
    // The table is a CSV file in the store's directory that other tools read.
    const text = readFileSync(join(dir, 'csv%d', 'tricky'), 'utf8');
    expect(text.split('\n')[0]).toBe('id,text,flag');
    expect(text).toContain('"with, comma and ""quotes"""');
    expect(text).toContain('7,"42",false');
    expect(await t.execute('csv', 'tricky', 'infer')).toEqual({
      columns: [
        { name: 'id', type: 'Float64' },
        { name: 'text', type: 'Utf8' },
        { name: 'flag', type: 'Bool' },
      ],
    });
    await store.close();
  });

  it('reads a CSV file written by another tool, with filter and columns', async () => {
    const dir = tmp();
    mkdirSync(join(dir, 'csv%d'));
    writeFileSync(join(dir, 'csv%d', 'weather'), '\uFEFFcity,temp,rain\r\nOslo,-3.5,true\r\n"Rio de Janeiro",31,false\r\nLima,,\r\n');
    const store = file(dir);
    const t = tables(store);
    expect(rows(await t.read('csv', 'weather', { filter: 'temp > 0 or rain', columns: ['city'] }))).toEqual([{ city: 'Oslo' }, { city: 'Rio de Janeiro' }]);
    expect(rows(await t.read('csv', 'weather', { filter: 'temp == null' }))).toEqual([{ city: 'Lima', temp: null, rain: null }]);
    expect((await rejection(t.read('csv', 'weather', { filter: 'snow > 1' }))).code).toBe('ERR_SCHEMA');
    expect((await rejection(t.read('csv', 'weather', { columns: ['snow'] }))).code).toBe('ERR_SCHEMA');
    // Later writes follow the file's header order.
    await t.write('csv', 'weather', [{ rain: false, temp: 12, city: 'Rome' }]);
    expect(readFileSync(join(dir, 'csv%d', 'weather'), 'utf8').endsWith('Rome,12,false\n')).toBe(true);
    expect((await rejection(t.write('csv', 'weather', [{ city: 'Bern' }]))).code).toBe('ERR_SCHEMA');
    await store.close();
  });

  it('deletes rows by filter or the whole file; create writes a header', async () => {
    const t = tables(dict());
    await t.create('csv', 'empty', { columns: ['a', 'b'] });
    expect((await t.read('csv', 'empty')).schema.fields.map((f) => f.name)).toEqual(['a', 'b']);
    await t.write('csv', 'empty', [{ b: 'x', a: 1 }]);
    await t.write('csv', 'people', [
      { name: 'tom', age: 10 },
      { name: 'nick', age: 15 },
    ]);
    await t.delete('csv', 'people', { filter: 'age > 12' });
    expect(rows(await t.read('csv', 'people'))).toEqual([{ name: 'tom', age: 10 }]);
    await t.delete('csv', 'people');
    expect((await rejection(t.read('csv', 'people'))).code).toBe('ERR_NOT_FOUND');
    expect(rows(await t.read('csv', 'empty'))).toEqual([{ a: 1, b: 'x' }]);
  });

  it('reads a file with no quoted field at all the same way (numbers, booleans, nulls, strings)', async () => {
    const store = dict();
    await store.append([[['csv', 'plain'], Buffer.from('n,ok,name\n1.5,true,a\n,false,\n-2e3,,c d\n')]]);
    const table = await tables(store).read('csv', 'plain');
    expect(table.schema.fields.map((f) => String(f.type))).toEqual(['Float64', 'Bool', 'Utf8']);
    expect(rows(table)).toEqual([
      { n: 1.5, ok: true, name: 'a' },
      { n: null, ok: false, name: null },
      { n: -2000, ok: null, name: 'c d' },
    ]);
  });

  it('a damaged CSV file is a coded error', async () => {
    const store = dict();
    await store.append([[['csv', 'bad'], Buffer.from('a,b\n"unclosed,1\n')]]);
    expect((await rejection(tables(store).read('csv', 'bad'))).code).toBe('ERR_CORRUPT_FRAME');
  });
});
