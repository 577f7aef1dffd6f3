import { describe, expect, it } from 'vitest';
import { LaminateError, dict, file, open, buffer } from '@laminate/core';
import { arrow } from '@laminate/arrow';
import {
  Dictionary, Field, FixedSizeList, Float32, Float64, Int32, Int64, List, RecordBatch, RecordBatchReader, Schema, Struct, Table, TimestampMillisecond, TimestampNanosecond, Utf8,
  makeData, makeVector, tableFromIPC, vectorFromArray,
} from 'apache-arrow';
import { view } from './values.js';
import { rejection, tempDirs } from '@laminate/core/testing';

const tmp = tempDirs('laminate-arrow-');


const ab = (a: number[], b: string[]) => new Table({ a: vectorFromArray(a, new Int32()), b: vectorFromArray(b, new Utf8()) });

/** The payloads of a key's frames, read with nothing but the documented layout. */
function framesOf(bytes: Uint8Array): Uint8Array[] {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const out: Uint8Array[] = [];
  for (let at = 0; at < bytes.byteLength; ) {
    const length = Number(view.getBigUint64(at, true));
    out.push(bytes.subarray(at + 8, at + 8 + length));
    at += 8 + length;
  }
  return out;
}

describe('arrow(): schemas', () => {
  it('refuses a differing schema with ERR_SCHEMA naming the fields, storing nothing from the call', async () => {
    const store = arrow(dict());
    await store.append({ k: ab([1, 2], ['x', 'y']) });
    const other = new Table({ a: vectorFromArray([1.5], new Float64()), c: vectorFromArray(['z'], new Utf8()) });
    const error = await rejection(store.append([['k', ab([3], ['z'])], ['fresh', ab([9], ['w'])], ['k', other]]));
    expect(error).toBeInstanceOf(LaminateError);
    expect(error.code).toBe('ERR_SCHEMA');
    expect(error.message).toContain('"a" is Float64');
    expect(error.message).toContain('"b" is missing');
    expect(error.message).toContain('"c"');
    expect(error.message).toContain('"k"');
    expect(view(await store.get('k'))).toBe(view(ab([1, 2], ['x', 'y'])));
    expect((await store.get('fresh')).numRows).toBe(0);
    expect(await store.keys()).toEqual(['k']);
  });

  it('checks the schema within one call for a new key', async () => {
    const store = arrow(dict());
    const error = await rejection(store.append([['n', ab([1], ['x'])], ['n', new Table({ a: vectorFromArray([1], new Int32()) })]]));
    expect(error.code).toBe('ERR_SCHEMA');
    expect(error.message).toContain('"b" is missing');
    expect(await store.keys()).toEqual([]);
  });

  it('refuses a fixed-size list of another size: its size is part of the type', async () => {
    const store = arrow(dict());
    const lists = (size: number) => {
      const type = new FixedSizeList(size, new Field('item', new Float32(), true));
      const values = makeData({ type: new Float32(), length: size, data: Float32Array.from({ length: size }, (_, i) => i) });
      return new Table({ v: makeVector(makeData({ type, length: 1, nullCount: 0, child: values })) });
    };
    await store.append({ k: lists(4) });
    const error = await rejection(store.append({ k: lists(3) }));
    expect(error.code).toBe('ERR_SCHEMA');
    expect(error.message).toContain('"v" is FixedSizeList[3]<item?: Float32> here but FixedSizeList[4]<item?: Float32> in the key');
    const stored = await store.get('k');
    expect(stored.numRows).toBe(1);
    expect([...(stored.getChild('v')!.get(0) as Iterable<number>)]).toEqual([0, 1, 2, 3]);
  });

  it('names a column order change and a nullability change', async () => {
    const store = arrow(dict());
    await store.append({ k: ab([1], ['x']) });
    const swapped = new Table({ b: vectorFromArray(['x'], new Utf8()), a: vectorFromArray([1], new Int32()) });
    expect((await rejection(store.append({ k: swapped }))).message).toContain('another order');

    // The same columns, in the same order, with "a" declared not nullable: another schema too.
    const strict = new Schema([new Field('a', new Int32(), false), new Field('b', new Utf8(), true)]);
    const notNull = new Table(strict, ab([2], ['y']).batches.map((batch) => new RecordBatch(strict, batch.data)));
    expect(notNull.schema.fields[0].nullable).toBe(false);
    const error = await rejection(store.append({ k: notNull }));
    expect(error.code).toBe('ERR_SCHEMA');
    expect(error.message).toContain('"a" is Int32 not null here but Int32 in the key');
    // And the other way round: a key whose first table said not null refuses a nullable column.
    await store.append({ strict: notNull });
    const loose = await rejection(store.append({ strict: ab([3], ['z']) }));
    expect(loose.code).toBe('ERR_SCHEMA');
    expect(loose.message).toContain('"a" is Int32 here but Int32 not null in the key');
    // Neither refused table was stored.
    expect(view(await store.get('k'))).toBe(view(ab([1], ['x'])));
    expect((await store.get('strict')).numRows).toBe(1);
  });

  it('knows a key\'s schema after reopening (read from its first frame) and forgets it on delete', async () => {
    const dir = tmp();
    let store = arrow(file(dir));
    await store.append({ k: ab([1], ['x']) });
    await store.close();
    store = open(store.describe()) as typeof store;
    const bad = new Table({ a: vectorFromArray(['no'], new Utf8()) });
    expect((await rejection(store.append({ k: bad }))).code).toBe('ERR_SCHEMA');
    await store.append({ k: ab([2], ['y']) });
    expect(view(await store.get('k'))).toBe(view(new Table([...ab([1], ['x']).batches, ...ab([2], ['y']).batches])));
    await store.delete(['k']);
    await store.append({ k: bad });
    expect(view(await store.get('k'))).toBe(view(bad));
    await store.close();
  });

  it('takes RecordBatches, and a table of several batches keeps them as batches', async () => {
    const store = arrow(dict());
    const two = new Table([...ab([1], ['x']).batches, ...ab([2, 3], ['y', 'z']).batches]);
    await store.append({ k: two.batches[0] });
    await store.append({ k: two });
    const got = await store.get('k');
    expect(got.batches.map((b) => b.numRows)).toEqual([1, 1, 2]);
    expect(got.getChild('a')!.toArray()).toEqual(Int32Array.from([1, 1, 2, 3]));
  });

  it('projects columns with { columns } and names unknown ones', async () => {
    const store = arrow(dict());
    await store.append({ k: ab([1, 2], ['x', 'y']) });
    const only = await store.get('k', { columns: ['b'] });
    expect(only.schema.fields.map((f) => f.name)).toEqual(['b']);
    expect(only.getChild('b')!.toArray()).toEqual(['x', 'y']);
    const error = await rejection(store.get('k', { columns: ['b', 'nope'] }));
    expect(error.code).toBe('ERR_SCHEMA');
    expect(error.message).toContain('"nope"');
  });

  it('returns an empty Table with no schema for a missing key', async () => {
    const store = arrow(dict());
    const empty = await store.get('missing');
    expect(empty).toBeInstanceOf(Table);
    expect(empty.numRows).toBe(0);
    expect(empty.schema.fields).toEqual([]);
  });
});

/** A value of any column as comparable text. */
function json(value: unknown): string {
  const plain = (value as { toJSON?: () => unknown } | null)?.toJSON?.() ?? value;
  return JSON.stringify(plain, (_, x) => (typeof x === 'bigint' ? `${x}n` : x));
}

describe('arrow(): data types round-trip', () => {
  const point = new Struct([new Field('label', new Utf8(), true), new Field('w', new Float64(), true)]);
  const make = (offset: number): Table =>
    new Table({
      tag: vectorFromArray(['red', null, 'blue', 'red'].map((t) => (t === null ? null : `${t}${offset}`)), new Dictionary(new Utf8(), new Int32())),
      ms: vectorFromArray([Date.UTC(2024, 0, 1) + offset, null, 0, -1000], new TimestampMillisecond()),
      // Nanoseconds as the raw int64 values (apache-arrow's builder takes milliseconds).
      ns: makeVector(makeData({ type: new TimestampNanosecond(), length: 4, nullCount: 1, nullBitmap: Uint8Array.of(0b1101), data: BigInt64Array.of(1_700_000_000_123_456_789n + BigInt(offset), 0n, 0n, -1n) })),
      big: vectorFromArray([2n ** 62n, null, -(2n ** 63n), BigInt(offset)], new Int64()),
      list: vectorFromArray([[1, 2, offset], [], null, [null, 4]], new List(new Field('item', new Int32(), true))),
      point: vectorFromArray([{ label: 'p', w: 1.5 }, null, { label: null, w: offset }, { label: 'q', w: -0 }], point),
      nested: vectorFromArray([[{ label: 'a', w: 1 }], null, [], [{ label: 'b', w: 2 }, null]], new List(new Field('item', point, true))),
    });

  for (const [name, makeStore] of [
    ['dict', () => arrow(dict())],
    ['file', () => arrow(file(tmp()))],
    ['buffer(dict, file) spilling', () => arrow(buffer(dict(), file(tmp()), { availableMemory: 1 }))],
  ] as const) {
    it(`dictionary strings, timestamps, nulls, int64, lists and structs through ${name}`, async () => {
      const store = makeStore();
      const one = make(1);
      const two = make(2); // built apart: its dictionary column has another dictionary id and other words
      await store.append({ t: one });
      await store.append({ t: two });
      const got = await store.get('t');
      expect(got.numRows).toBe(8);
      // Every column, value by value, against what was appended.
      // What get returns can be written again (a copy to another key re-serializes every dictionary).
      await store.append({ copy: got });
      const copy = await store.get('copy');
      for (const field of one.schema.fields) {
        const expected = [...one.getChild(field.name)!, ...two.getChild(field.name)!].map(json);
        expect([...got.getChild(field.name)!].map(json), field.name).toEqual(expected);
        expect([...copy.getChild(field.name)!].map(json), field.name).toEqual(expected);
        expect(String(got.schema.fields.find((f) => f.name === field.name)!.type)).toBe(String(field.type));
      }
      expect(got.getChild('tag')!.type).toBeInstanceOf(Dictionary);
      expect(got.getChild('tag')!.toArray()).toEqual(['red1', null, 'blue1', 'red1', 'red2', null, 'blue2', 'red2']);
      const ns = got.getChild('ns')!;
      expect(ns.data.map((d) => [...(d.values as BigInt64Array)])).toEqual([
        [1_700_000_000_123_456_789n + 1n, 0n, 0n, -1n],
        [1_700_000_000_123_456_789n + 2n, 0n, 0n, -1n],
      ]);
      expect(ns.isValid(1)).toBe(false);
      expect(ns.isValid(2)).toBe(true);
      expect(got.getChild('point')!.nullCount).toBe(2);
      await store.close();
    });
  }
});

describe('arrow(): the stored bytes are Arrow IPC streams', () => {
  it('any Arrow reader reads each frame of a key', async () => {
    const inner = dict();
    const store = arrow(inner);
    const first = ab([1, 2], ['x', 'y']);
    const second = ab([3], ['z']);
    await store.append({ k: first });
    await store.append({ k: second });
    const [bytes] = await inner.getIds(['k']);
    const payloads = framesOf(bytes);
    expect(payloads).toHaveLength(2);
    for (const payload of payloads) {
      expect(new DataView(payload.buffer, payload.byteOffset).getUint32(0, true)).toBe(0xffffffff); // IPC continuation marker
      expect(payload.byteLength % 8).toBe(0);
    }
    const reader = RecordBatchReader.from(payloads[0]);
    expect(reader.isStream()).toBe(true);
    expect(view(new Table(reader.readAll()))).toBe(view(first));
    expect(view(tableFromIPC(payloads[1]))).toBe(view(second));
  });

  it('get shares the stored buffers instead of copying the columns', async () => {
    const inner = dict();
    const store = arrow(inner);
    const big = new Table({ x: vectorFromArray(Float64Array.from({ length: 1 << 16 }, (_, i) => i)) });
    await store.append({ k: big });
    await store.append({ k: big });
    const [bytes] = await inner.getIds(['k']);
    const got = await store.get('k');
    expect(got.batches).toHaveLength(2);
    for (const batch of got.batches) expect(batch.getChild('x')!.data[0].values.buffer).toBe(bytes.buffer);
  });
});

describe('arrow layers in open()', () => {
  it('reads the short form and rebuilds both layers from describe()', async () => {
    const dir = tmp();
    const store = open(`arrowColumns(buffer(dict, file(${dir}), availableMemory=1MiB))`);
    expect(store.describe()).toEqual({ type: 'arrowColumns', inner: { type: 'buffer', fast: { type: 'dict' }, slow: expect.objectContaining({ type: 'file', path: dir }), availableMemory: 1 << 20 } });
    await store.close();
    const plain = open('arrow(dict)');
    expect(plain).toBeInstanceOf(arrow(dict()).constructor);
    expect(open(JSON.parse(JSON.stringify(plain.describe()))).describe()).toEqual({ type: 'arrow', inner: { type: 'dict' } });
    await plain.close();
  });
});
