import { describe, expect, it } from 'vitest';
import { DictStore, dict, file, open } from '@laminate/core';
import { type KeyId } from '@laminate/core/layer';
import { arrowColumns } from '@laminate/arrow';
import { Dictionary, Field, Schema, Float64, Int32, List, Table, TimestampMillisecond, Utf8, tableFromIPC, vectorFromArray } from 'apache-arrow';
import { view } from './values.js';
import { rejection, tempDirs } from '@laminate/core/testing';

/** dict() that counts the bytes its reads hand out. */
class CountingDict extends DictStore {
  read = 0;
  override async getIds(ids: readonly KeyId[]): Promise<Uint8Array[]> {
    const out = await super.getIds(ids);
    for (const bytes of out) this.read += bytes.byteLength;
    return out;
  }
}

const tmp = tempDirs('laminate-arrow-columns-');


function wide(columns: number, rows: number, seed = 0): Table {
  const out: Record<string, ReturnType<typeof vectorFromArray>> = {};
  for (let c = 0; c < columns; c++) out[`c${c}`] = vectorFromArray(Float64Array.from({ length: rows }, (_, r) => seed + c * rows + r));
  return new Table(out);
}

describe('arrowColumns(): column projection', () => {
  it('reads 1 of 20 equal columns by moving about 1/20 of the bytes', async () => {
    const inner = new CountingDict();
    const store = arrowColumns(inner);
    await store.append({ k: wide(20, 10_000) });
    await store.append({ k: wide(20, 10_000, 1e6) });
    inner.read = 0;
    const all = await store.get('k');
    const allBytes = inner.read;
    inner.read = 0;
    const one = await store.get('k', { columns: ['c7'] });
    const oneBytes = inner.read;
    expect(all.numCols).toBe(20);
    expect(all.numRows).toBe(20_000);
    expect(allBytes).toBeGreaterThan(20 * 2 * 10_000 * 8);
    expect(oneBytes / allBytes).toBeGreaterThan(0.045);
    expect(oneBytes / allBytes).toBeLessThan(0.055);
    expect(one.schema.fields.map((f) => f.name)).toEqual(['c7']);
    expect(one.getChild('c7')!.toArray()).toEqual(all.getChild('c7')!.toArray());
    expect(one.getChild('c7')!.get(10_000)).toBe(1e6 + 7 * 10_000);

    // A store that does not know the key yet reads its small .schema sub-key first.
    const cold = arrowColumns(inner);
    inner.read = 0;
    await cold.get('k', { columns: ['c7'] });
    expect(inner.read / allBytes).toBeLessThan(0.06);
  });

  it('returns the chosen columns in the order asked, and names unknown ones', async () => {
    const store = arrowColumns(dict());
    await store.append({ k: wide(3, 4) });
    const got = await store.get('k', { columns: ['c2', 'c0'] });
    expect(got.schema.fields.map((f) => f.name)).toEqual(['c2', 'c0']);
    expect([...got.getChild('c2')!]).toEqual([8, 9, 10, 11]);
    const error = await rejection(store.get('k', { columns: ['c1', 'zz'] }));
    expect(error.code).toBe('ERR_SCHEMA');
    expect(error.message).toContain('"zz"');
    expect((await store.get('missing', { columns: ['c1'] })).numRows).toBe(0);
  });
});

describe('arrowColumns(): keys and layout', () => {
  it('lists user keys only, and keeps a key as [key, column] sub-keys plus [key, ".schema"]', async () => {
    const inner = file(tmp());
    const store = arrowColumns(inner);
    const t = new Table({ price: vectorFromArray([1.5, 2]), '.hidden': vectorFromArray([1, 2], new Int32()), schema: vectorFromArray(['a', 'b']) });
    await store.append([['trades', t], [['by', 'day'], t]]);
    expect((await store.keys()).map((k) => JSON.stringify(k)).sort()).toEqual(['"trades"', '["by","day"]']);
    const innerKeys = async () => (await inner.keys()).map((k) => JSON.stringify(k)).sort();
    expect(await innerKeys()).toEqual(
      ['["by","day",".schema"]', '["by","day","..hidden"]', '["by","day","price"]', '["by","day","schema"]', '["trades",".schema"]', '["trades","..hidden"]', '["trades","price"]', '["trades","schema"]'].sort(),
    );
    expect([...(await store.get('trades', { columns: ['.hidden'] })).getChild('.hidden')!]).toEqual([1, 2]);
    expect(view(await store.get(['by', 'day']))).toBe(view(t));
    await store.delete(['trades']);
    expect(await innerKeys()).toEqual(['["by","day",".schema"]', '["by","day","..hidden"]', '["by","day","price"]', '["by","day","schema"]'].sort());
    expect(await store.keys()).toEqual([['by', 'day']]);
    await store.close();
  });

  it('stores each column frame as an Arrow IPC stream another reader opens', async () => {
    const inner = dict();
    const store = arrowColumns(inner);
    await store.append({ k: new Table({ a: vectorFromArray([1, 2], new Int32()), b: vectorFromArray(['x', 'y']) }) });
    const [bytes] = await inner.getIds(['\0' + JSON.stringify(['k', 'b'])]);
    const length = Number(new DataView(bytes.buffer, bytes.byteOffset).getBigUint64(0, true));
    expect(length).toBe(bytes.byteLength - 8);
    const column = tableFromIPC(bytes.subarray(8));
    expect(column.schema.fields.map((f) => f.name)).toEqual(['b']);
    expect([...column.getChild('b')!]).toEqual(['x', 'y']);
  });

  it('refuses duplicate column names and differing schemas, storing nothing from the call', async () => {
    const store = arrowColumns(dict());
    const good = wide(2, 3);
    await store.append({ k: good });
    const c0 = new Field('c0', new Float64(), true);
    const twice = new Table(new Schema([c0, c0]));
    expect((await rejection(store.append({ z: twice }))).message).toContain('"c0" appears twice');
    const other = new Table({ c0: vectorFromArray(['text']), c9: vectorFromArray([1]) });
    const error = await rejection(store.append([['fresh', good], ['k', good], ['k', other]]));
    expect(error.code).toBe('ERR_SCHEMA');
    expect(error.message).toContain('"c0" is');
    expect(error.message).toContain('"c1" is missing');
    expect(error.message).toContain('"c9"');
    expect(await store.keys()).toEqual(['k']);
    expect(view(await store.get('k'))).toBe(view(good));
  });

  it('round-trips dictionary strings, timestamps, nulls, lists and several batches through file and reopen', async () => {
    const dir = tmp();
    let store = arrowColumns(file(dir));
    const tags = new Dictionary(new Utf8(), new Int32());
    const make = (o: number, tag = tags) =>
      new Table({
        tag: vectorFromArray(['a', null, `b${o}`], tag),
        at: vectorFromArray([o, null, 86_400_000], new TimestampMillisecond()),
        list: vectorFromArray([[o], null, []], new List(new Field('item', new Float64(), true))),
      });
    const two = new Table([...make(1).batches, ...make(2).batches]);
    await store.append({ k: two });
    await store.close();
    store = open(store.describe()) as typeof store;
    await store.append({ k: make(3, new Dictionary(new Utf8(), new Int32())) }); // another dictionary id
    const got = await store.get('k');
    expect(got.batches.map((b) => b.numRows)).toEqual([3, 3, 3]);
    expect(got.getChild('tag')!.toArray()).toEqual(['a', null, 'b1', 'a', null, 'b2', 'a', null, 'b3']);
    expect(got.getChild('at')!.toArray()[2]).toBe(86_400_000n);
    expect(got.getChild('at')!.nullCount).toBe(3);
    expect(JSON.stringify(got.getChild('list')!.toArray())).toBe('[[1],null,[],[2],null,[],[3],null,[]]');
    const chunks: Table[] = [];
    for await (const chunk of store.iter('k')) chunks.push(chunk);
    expect(chunks.map((c) => c.numRows)).toEqual([6, 3]);
    await store.close();
  });
});

describe('arrowColumns(): an append cut short between columns', () => {
  it('is ERR_CORRUPT_FRAME naming the column, not misaligned rows', async () => {
    const inner = dict();
    const store = arrowColumns(inner);
    await store.append({ k: new Table({ a: vectorFromArray([1, 2], new Int32()), b: vectorFromArray(['x', 'y']) }) });
    // What a writer killed after column a of a second append leaves behind.
    const a = '\0' + JSON.stringify(['k', 'a']);
    const [frameOfA] = await inner.getIds([a]);
    await inner.appendIds([a], [Buffer.from(frameOfA)]);
    const error = await rejection(store.get('k'));
    expect(error.code).toBe('ERR_CORRUPT_FRAME');
    expect(error.message).toContain('"b"');
    // The column on its own still reads.
    expect([...(await store.get('k', { columns: ['a'] })).getChild('a')!]).toEqual([1, 2, 1, 2]);
  });
});
