/**
 * typedArrays(): dtypes, sidecars, object arrays, datetime64, and byte-for-byte
 * compatibility with the real Python partd.Numpy(partd.File(dir)) both ways.
 *
 * The Python side is fixtures/partd_numpy.py, run with Debian's /usr/bin/python3.
 * Without partd, numpy or msgpack there the compatibility tests fail with what
 * to install; they never skip.
 */
import { spawnSync } from 'node:child_process';
import { DEBIAN_PYTHON, pythonFixture } from '../../core/test/fixtures/python.js';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { type BaseStore, LaminateError, buffer, dict, file, open } from '@laminate/core';
import { Datetime64Array, type NumericArray, type TypedValue, parseDtype, typedArrays } from '@laminate/codecs';
import { rejection, tempDirs, thrown } from '@laminate/core/testing';

const tempDir = tempDirs('laminate-typed-');


const text = (bytes: Uint8Array) => Buffer.from(bytes).toString('latin1');

describe('typedArrays: dtypes', () => {
  const every: [NumericArray, string][] = [
    [new Int8Array([-128, 127]), '|i1'],
    [new Uint8Array([0, 255]), '|u1'],
    [new Int16Array([-32768, 32767]), '<i2'],
    [new Uint16Array([65535]), '<u2'],
    [new Int32Array([-(2 ** 31), 2 ** 31 - 1]), '<i4'],
    [new Uint32Array([2 ** 32 - 1]), '<u4'],
    [new Float32Array([1.5, Number.NaN]), '<f4'],
    [new Float64Array([Math.PI, -0]), '<f8'],
    [new BigInt64Array([-(2n ** 63n), 2n ** 63n - 1n]), '<i8'],
    [new BigUint64Array([2n ** 64n - 1n]), '<u8'],
  ];

  it('stores every TypedArray with its numpy dtype in the key.dtype sidecar and reads it back as the same type', async () => {
    const inner = dict();
    const store = typedArrays(inner);
    await store.append(every.map(([value], i) => [`k${i}`, value] as const));
    for (const [i, [value, dtype]] of every.entries()) {
      expect(text(await inner.get(`k${i}.dtype`))).toBe(dtype);
      expect(Buffer.compare(await inner.get(`k${i}`), Buffer.from(value.buffer, value.byteOffset, value.byteLength))).toBe(0);
      const got = await store.get(`k${i}`);
      expect(got.constructor).toBe(value.constructor);
      expect(got).toEqual(value);
    }
  });

  it('concatenates appends, keeps the dtype once, and copies: changing the result or the input changes nothing stored', async () => {
    const inner = dict();
    const store = typedArrays(inner);
    const input = new Float32Array([1, 2]);
    await store.append({ x: input });
    await store.append({ x: new Float32Array([3]) });
    input[0] = 99;
    const got = (await store.get('x')) as Float32Array;
    expect(got).toEqual(new Float32Array([1, 2, 3]));
    got[1] = -1;
    expect(await store.get('x')).toEqual(new Float32Array([1, 2, 3]));
    expect(text(await inner.get('x.dtype'))).toBe('<f4');
  });

  it.each([
    ['file()', () => file(tempDir())],
    ['dict()', () => dict()],
    ['buffer(dict(), file()), spilling', () => buffer(dict(), file(tempDir()), { availableMemory: 48 * 1024 })],
    ['zstd(file())', () => open(`zstd(file(${tempDir()}))`) as BaseStore<Uint8Array>],
  ])('hands out memory of its own over %s: a large result, changed, changes neither the store nor the next get', async (_, make) => {
    // 8,192 float64 (64 KiB) a call: past Node's small-buffer pool, so over file() the result is the read itself.
    const store = typedArrays(make());
    const part = (c: number) => Float64Array.from({ length: 8192 }, (_, i) => c * 8192 + i);
    for (let c = 0; c < 3; c++) await store.append({ x: part(c) });
    const first = (await store.get('x')) as Float64Array;
    expect(first.length).toBe(3 * 8192);
    expect(first.buffer.byteLength).toBe(first.byteLength);
    first.fill(-1);
    const second = (await store.get('x')) as Float64Array;
    expect(second.buffer).not.toBe(first.buffer);
    expect(second).toEqual(Float64Array.from({ length: 3 * 8192 }, (_, i) => i));
    await store.close();
  });

  it('stores only the bytes a view covers, and a Buffer as |u1 that reads back as a Uint8Array', async () => {
    const store = typedArrays(dict());
    const backing = new Float64Array([1, 2, 3, 4, 5]);
    await store.append({ view: new Float64Array(backing.buffer, 8, 2), odd: new Int16Array(new ArrayBuffer(10), 2, 3).fill(7) });
    await store.append({ buf: Buffer.from([1, 2, 3]) });
    expect(await store.get('view')).toEqual(new Float64Array([2, 3]));
    expect(await store.get('odd')).toEqual(new Int16Array([7, 7, 7]));
    const buf = await store.get('buf');
    expect(buf.constructor).toBe(Uint8Array);
    expect(buf).toEqual(new Uint8Array([1, 2, 3]));
  });

  it('refuses a different dtype with ERR_DTYPE and stores nothing from that call', async () => {
    const inner = dict();
    const store = typedArrays(inner);
    await store.append({ a: new Int32Array([1]), t: new Datetime64Array([1n], 'ns'), o: ['x'] });
    const cases: [string, TypedValue][] = [
      ['a', new Float64Array([2])],
      ['a', new Uint32Array([2])],
      ['a', ['2']],
      ['t', new Datetime64Array([2n], 'us')],
      ['t', new BigInt64Array([2n])],
      ['o', new Int32Array([2])],
    ];
    for (const [key, value] of cases) {
      const error = await rejection(store.append([['fresh', new Int8Array([1])], ['a', new Int32Array([5])], [key, value]]));
      expect(error).toBeInstanceOf(LaminateError);
      expect(error.code).toBe('ERR_DTYPE');
      expect(error.key).toBe(JSON.stringify(key));
      expect(error.message).toContain('Nothing from this call was stored');
    }
    // the same new key twice in one call, with two dtypes
    const twice = await rejection(store.append([['new', new Int16Array([1])], ['new', new Uint16Array([1])]]));
    expect(twice.code).toBe('ERR_DTYPE');
    expect(await store.get('a')).toEqual(new Int32Array([1]));
    expect(await store.get('fresh')).toEqual(new Float64Array(0));
    expect(await store.get('new')).toEqual(new Float64Array(0));
    expect((await inner.keys()).sort()).toEqual(['a', 'a.dtype', 'o', 'o.dtype', 't', 't.dtype']);
    expect((await store.keys()).sort()).toEqual(['a', 'o', 't']);
    // and the key still takes its own dtype
    await store.append({ a: new Int32Array([6]) });
    expect(await store.get('a')).toEqual(new Int32Array([1, 6]));
  });

  it('reads the dtype numpy writes for big-endian data, byte-swapping, and appends to such a key in its byte order', async () => {
    const inner = dict();
    await inner.append({ be: Buffer.from('00000001fffffffe', 'hex'), 'be.dtype': Buffer.from('>i4'), f: Buffer.from('3ff8000000000000', 'hex'), 'f.dtype': Buffer.from('>f8') });
    const store = typedArrays(inner);
    expect(await store.get('be')).toEqual(new Int32Array([1, -2]));
    expect(await store.get('f')).toEqual(new Float64Array([1.5]));
    await store.append({ be: new Int32Array([3]) });
    expect(Buffer.from(await inner.get('be')).toString('hex')).toBe('00000001fffffffe00000003');
    expect(await store.get('be')).toEqual(new Int32Array([1, -2, 3]));
  });

  it('refuses dtypes it cannot hold with ERR_DTYPE naming the dtype and key', async () => {
    const inner = dict();
    await inner.append({ b: Buffer.from([1, 0]), 'b.dtype': Buffer.from('|b1'), h: Buffer.alloc(4), 'h.dtype': Buffer.from('<f2'), r: Buffer.alloc(8), 'r.dtype': Buffer.from("[('a', '<i4')]") });
    const store = typedArrays(inner);
    for (const key of ['b', 'h', 'r']) {
      const error = await rejection(store.get(key));
      expect(error.code).toBe('ERR_DTYPE');
      expect(error.key).toBe(JSON.stringify(key));
      expect(error.message).toContain(text(await inner.get(`${key}.dtype`)));
    }
    expect(() => parseDtype('<c16')).toThrow(/c16/);
    expect(parseDtype('i4').code).toBe('i4');
  });

  it('reports data without a dtype, and a torn numeric tail, with codes; repair cuts to the last whole item', async () => {
    const inner = dict();
    await inner.append({ orphan: Buffer.from([1, 2, 3]) });
    const store = typedArrays(inner);
    expect((await rejection(store.get('orphan'))).code).toBe('ERR_DTYPE');
    await store.append({ torn: new Int32Array([1, 2]) });
    await inner.append({ torn: Buffer.from([9, 9]) });
    const error = await rejection(store.get('torn'));
    expect(error.code).toBe('ERR_CORRUPT_FRAME');
    expect(error.offset).toBe(8);
    expect(await store.repair('torn')).toBe(2);
    expect(await store.get('torn')).toEqual(new Int32Array([1, 2]));
    expect(await store.repair('torn')).toBe(0);
  });
});

describe('typedArrays: keys', () => {
  it('hides the sidecars from keys(), for plain, tuple and empty keys, and deletes them with their key', async () => {
    const inner = dict();
    const store = typedArrays(inner);
    await store.append([
      ['a', new Int32Array([1])],
      [['t', 'u'], new Float64Array([2])],
      ['', new Uint8Array([3])],
      ['.hidden', ['x']],
    ]);
    const show = (keys: unknown[]) => keys.map((k) => JSON.stringify(k)).sort();
    expect(show(await inner.keys())).toEqual(show(['a', 'a.dtype', ['t', 'u'], ['t', 'u.dtype'], '', '.dtype', '.hidden', '.hidden.dtype']));
    expect(show(await store.keys())).toEqual(show(['a', ['t', 'u'], '', '.hidden']));
    await store.delete(['a', ['t', 'u']]);
    expect(show(await inner.keys())).toEqual(show(['', '.dtype', '.hidden', '.hidden.dtype']));
    // a deleted key starts afresh, with any dtype
    await store.append({ a: new Float32Array([1]) });
    expect(await store.get('a')).toEqual(new Float32Array([1]));
    expect(await store.pop('a')).toEqual(new Float32Array([1]));
    expect(show(await inner.keys())).toEqual(show(['', '.dtype', '.hidden', '.hidden.dtype']));
  });

  it('refuses keys that would collide with a sidecar, with ERR_INVALID_KEY', async () => {
    const store = typedArrays(dict());
    for (const key of ['x.dtype', '.dtype', ['t', 'u.dtype']]) {
      expect((await rejection(store.append([[key, new Int8Array(1)]]))).code).toBe('ERR_INVALID_KEY');
      expect((await rejection(store.get(key))).code).toBe('ERR_INVALID_KEY');
    }
    expect(await store.keys()).toEqual([]);
  });

  it('reads a missing key as an empty Float64Array, and a key appended only empty arrays as an empty array of its dtype', async () => {
    const inner = dict();
    const store = typedArrays(inner);
    const missing = await store.get('nothing');
    expect(missing).toBeInstanceOf(Float64Array);
    expect(missing.length).toBe(0);
    await store.append({ e: new Int16Array(0), eo: [], et: new Datetime64Array([], 's') });
    expect((await store.keys()).sort()).toEqual(['e', 'eo', 'et']);
    const e = await store.get('e');
    expect(e).toBeInstanceOf(Int16Array);
    expect(e.length).toBe(0);
    expect(await store.get('eo')).toEqual([]);
    expect(await store.get('et')).toEqual(new Datetime64Array([], 's'));
    expect(text(await inner.get('e.dtype'))).toBe('<i2');
    expect((await rejection(store.append({ e: new Uint16Array([1]) }))).code).toBe('ERR_DTYPE');
  });
});

describe('typedArrays: object arrays and datetime64', () => {
  it('stores plain arrays as numpy object arrays: one frame of MessagePack per append', async () => {
    const inner = dict();
    const store = typedArrays(inner);
    await store.append({ o: ['a', 1, null, true, { n: [1, 'x'] }, new Uint8Array([7])] });
    await store.append({ o: ['b'] });
    // MessagePack bin comes back as a Buffer (a Uint8Array)
    expect(await store.get('o')).toEqual(['a', 1, null, true, { n: [1, 'x'] }, Buffer.from([7]), 'b']);
    expect(text(await inner.get('o.dtype'))).toBe('|O');
    const raw = Buffer.from(await inner.get('o'));
    // the second frame: its 8-byte little-endian length, then MessagePack ['b'] (fixarray of 1, fixstr of 1)
    expect(raw.subarray(raw.byteLength - 11).toString('hex')).toBe('0300000000000000' + '91a162');
    expect(raw.readBigUInt64LE(0)).toBe(BigInt(raw.byteLength - 8 - 11));
    expect(raw[8]).toBe(0x96); // fixarray of 6 items
  });

  it('refuses an object array MessagePack cannot encode with ERR_VALUE_TYPE, storing nothing', async () => {
    const store = typedArrays(dict());
    await store.append({ o: ['kept'] });
    const error = await rejection(store.append([['o', ['more']], ['bad', [2n ** 70n]]]));
    expect(error.code).toBe('ERR_VALUE_TYPE');
    expect(error).toBeInstanceOf(TypeError);
    expect(error.message).toContain('"bad"');
    expect(await store.get('o')).toEqual(['kept']);
    expect(await store.keys()).toEqual(['o']);
  });

  it('round-trips datetime64 with its unit, NaT, and units with multipliers', async () => {
    const inner = dict();
    const store = typedArrays(inner);
    const units = ['Y', 'M', 'W', 'D', 'h', 'm', 's', 'ms', 'us', 'ns', 'ps', 'fs', 'as', '10s', '15m'] as const;
    for (const unit of units) await store.append({ [`t-${unit}`]: new Datetime64Array([1n, -5n, Datetime64Array.NaT], unit) });
    for (const unit of units) {
      const got = (await store.get(`t-${unit}`)) as Datetime64Array;
      expect(got).toBeInstanceOf(Datetime64Array);
      expect(got.unit).toBe(unit);
      expect(got.values).toEqual(new BigInt64Array([1n, -5n, Datetime64Array.NaT]));
      expect(text(await inner.get(`t-${unit}.dtype`))).toBe(`<M8[${unit}]`);
    }
    expect(() => new Datetime64Array([1n], 'fortnight' as never)).toThrow(TypeError);
  });

  it('converts datetime64 to and from Dates', () => {
    const dates = [new Date('2020-02-29T12:34:56.789Z'), null, new Date('1969-07-20T20:17:40Z')];
    const ns = Datetime64Array.fromDates(dates, 'ns');
    expect(ns.values).toEqual(new BigInt64Array([1582979696789000000n, Datetime64Array.NaT, -14182940000000000n]));
    expect(ns.toDates()).toEqual(dates);
    expect(Datetime64Array.fromDates(dates, 's').toDates()).toEqual([new Date('2020-02-29T12:34:56Z'), null, new Date('1969-07-20T20:17:40Z')]);
    expect(Datetime64Array.fromDates(dates, 'D').values).toEqual(new BigInt64Array([18321n, Datetime64Array.NaT, -165n]));
    expect(Datetime64Array.fromDates(dates, 'M').toDates()).toEqual([new Date('2020-02-01Z'), null, new Date('1969-07-01Z')]);
    expect(Datetime64Array.fromDates(dates, 'Y').values).toEqual(new BigInt64Array([50n, Datetime64Array.NaT, -1n]));
    expect(new Datetime64Array([-1n], 'ns').toDates()).toEqual([new Date(-1)]);
  });

  it('refuses a unit numpy does not have with ERR_DTYPE, a TypeError', () => {
    const error = thrown(() => new Datetime64Array([1n], 'fortnight' as never));
    expect(error).toBeInstanceOf(LaminateError);
    expect(error).toBeInstanceOf(TypeError);
    expect(error.code).toBe('ERR_DTYPE');
    expect(error.message).toContain('"fortnight" is not a numpy datetime64 unit');
  });
});

describe('typedArrays: describe and open', () => {
  it('reopens from its spec and from the short form', async () => {
    const dir = tempDir();
    const store = typedArrays(file(dir));
    await store.append({ a: new Uint16Array([1, 2]) });
    expect(store.describe()).toEqual({ type: 'typedArrays', inner: { type: 'file', path: dir } });
    await store.close();
    const again = open(`typedArrays(file(${dir}))`) as BaseStore<TypedValue>;
    expect(again.describe()).toEqual(store.describe());
    expect(await again.get('a')).toEqual(new Uint16Array([1, 2]));
    await again.close();
    const stacked = open({ type: 'typedArrays', inner: { type: 'buffer', fast: { type: 'dict' }, slow: { type: 'file', path: dir }, availableMemory: 1024 } }) as BaseStore<TypedValue>;
    await stacked.append({ a: new Uint16Array([3]) });
    expect(await stacked.get('a')).toEqual(new Uint16Array([1, 2, 3]));
    await stacked.close();
  });

  it('keeps dtypes and order when buffer() spills part of a key to disk', async () => {
    const dir = tempDir();
    const store = typedArrays(buffer(dict(), file(dir), { availableMemory: 4096 }));
    const expected: number[] = [];
    for (let i = 0; i < 300; i++) {
      const chunk = Float64Array.from({ length: 17 }, (_, j) => i * 100 + j);
      expected.push(...chunk);
      await store.append({ k: chunk, [`other${i % 7}`]: new Int8Array(64) });
    }
    expect(await store.get('k')).toEqual(Float64Array.from(expected));
    await store.close();
    const reread = typedArrays(file(dir));
    expect(await reread.get('k')).toEqual(Float64Array.from(expected));
    await reread.close();
  });
});

// ---------------------------------------------------------------- Python partd

const SCRIPT = fileURLToPath(new URL('./fixtures/partd_numpy.py', import.meta.url));
const INSTALL = 'apt-get install -y python3-partd python3-numpy python3-msgpack';
const python = pythonFixture(SCRIPT, { what: 'partd, numpy and msgpack', install: INSTALL });

type View = unknown;

/** A value as partd_numpy.py's view() shows it. */
/** The file's bytes, or undefined when there is no such file; any other read error is thrown. */
function readIfPresent(path: string): Buffer | undefined {
  try {
    return readFileSync(path);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw error;
  }
}

function view(value: TypedValue): View {
  if (Array.isArray(value)) return value.map(itemView);
  if (value instanceof Datetime64Array) return Array.from(value.values, String);
  if (value instanceof BigInt64Array || value instanceof BigUint64Array) return Array.from(value as ArrayLike<bigint>, String);
  return Array.from(value as ArrayLike<number>, itemView);
}

function itemView(x: unknown): View {
  if (typeof x === 'number') return Number.isNaN(x) ? 'nan' : x === Infinity ? 'inf' : x === -Infinity ? '-inf' : x;
  if (x instanceof Uint8Array) return { $bytes: Buffer.from(x).toString('hex') };
  if (Array.isArray(x)) return x.map(itemView);
  if (x !== null && typeof x === 'object') return Object.fromEntries(Object.entries(x).map(([k, v]) => [k, itemView(v)]));
  return x;
}

/** The array a view shows, for a dtype. */
function fromView(dtype: string, values: View[]): TypedValue {
  const d = parseDtype(dtype);
  if (d.code === 'O') return values.map((v) => (v === 'nan' ? Number.NaN : v));
  const items = values.map((v) => (v === 'nan' ? Number.NaN : v === 'inf' ? Infinity : v === '-inf' ? -Infinity : v));
  if (d.unit) return new Datetime64Array(BigInt64Array.from(items as string[], BigInt), d.unit);
  if (d.size === 8 && d.code !== 'f8') return (d.ctor as unknown as { from(x: unknown[], f: (v: unknown) => bigint): TypedValue }).from(items, (v) => BigInt(v as string));
  return (d.ctor as unknown as { from(x: unknown[]): TypedValue }).from(items);
}

const JS_TYPE: Record<string, string> = { i1: 'Int8Array', u1: 'Uint8Array', i2: 'Int16Array', u2: 'Uint16Array', i4: 'Int32Array', u4: 'Uint32Array', f4: 'Float32Array', f8: 'Float64Array', i8: 'BigInt64Array', u8: 'BigUint64Array', O: 'Array' };

type Written = Record<string, { dtype: string; appends: View[][] }>;
type Read = Record<string, { dtype: string; values: View[] }>;

describe('typedArrays: compatibility with Python partd.Numpy(partd.File)', () => {
  it('reads what partd wrote: every dtype, object arrays, datetime64, big-endian data, empty arrays', async () => {
    const dir = tempDir();
    const written = python<Written>('write', dir);
    expect(Object.keys(written).length).toBeGreaterThanOrEqual(18);
    const store = typedArrays(file(dir));
    for (const [key, { dtype, appends }] of Object.entries(written)) {
      const got = await store.get(key);
      const code = parseDtype(dtype).code;
      if (code.startsWith('M8')) {
        expect(got, key).toBeInstanceOf(Datetime64Array);
        expect((got as Datetime64Array).unit, key).toBe(code.slice(3, -1));
      } else {
        expect(got.constructor.name, key).toBe(JS_TYPE[code]);
      }
      expect(view(got), key).toEqual(appends.flat(1));
    }
    expect(Object.keys(written).sort()).toEqual(((await store.keys()) as string[]).sort());
    await store.close();
  });

  it('writes byte for byte what partd writes, for every numeric and datetime dtype', async () => {
    const ours = tempDir();
    const theirs = tempDir();
    const written = python<Written>('write', theirs);
    // big-endian keys: a JS array is written in this machine's byte order, as numpy's native arrays are
    const keys = Object.keys(written).filter((k) => written[k].dtype !== '|O' && !written[k].dtype.startsWith('>'));
    expect(keys.length).toBeGreaterThanOrEqual(14);
    const store = typedArrays(file(ours));
    const calls = Math.max(...keys.map((k) => written[k].appends.length));
    for (let call = 0; call < calls; call++) {
      const batch = keys.filter((k) => written[k].appends.length > call).map((k) => [k, fromView(written[k].dtype, written[k].appends[call])] as const);
      await store.append(batch);
    }
    await store.close();
    for (const key of keys) {
      for (const name of [key, `${key}.dtype`]) {
        // partd writes a file for every key it was given, so a read error on its side is a failure.
        const theirsBytes = readFileSync(join(theirs, name));
        // laminate writes no file for an empty array, where partd leaves an empty one: only a missing
        // file (ENOENT) stands for empty bytes, and only where partd's is empty; any other error fails.
        const oursBytes = readIfPresent(join(ours, name));
        if (oursBytes === undefined) expect(theirsBytes.byteLength, `${name}: laminate wrote no file`).toBe(0);
        expect((oursBytes ?? Buffer.alloc(0)).toString('hex'), name).toBe(theirsBytes.toString('hex'));
      }
    }
  });

  it('partd reads what laminate wrote, and what laminate appended to partd-written keys', async () => {
    const dir = tempDir();
    const store = typedArrays(file(dir));
    const calls: Record<string, TypedValue>[] = [
      {
        i32: new Int32Array([1, -2, 2 ** 31 - 1]),
        f64: new Float64Array([0.1, -0, Number.NaN, Infinity, -Infinity]),
        u8: new Uint8Array([0, 255]),
        buf: Buffer.from('bytes'),
        i64: new BigInt64Array([-(2n ** 63n), 2n ** 62n + 1n]),
        u64: new BigUint64Array([2n ** 64n - 1n]),
        i8: new Int8Array([-128]),
        i16: new Int16Array([-300]),
        u16: new Uint16Array([60000]),
        u32: new Uint32Array([4e9]),
        f32: new Float32Array([1.25, 3.4e38]),
        obj: ['alpha', '', 'ünïcödé ✓', 'y'.repeat(300), null, 7, -3, 1.5, true, false, new Uint8Array([1, 2]), { k: [1, 'v'] }],
        dt_ns: new Datetime64Array([1577836800123456789n, Datetime64Array.NaT], 'ns'),
        dt_s: Datetime64Array.fromDates([new Date('2001-09-09T01:46:40Z')], 's'),
        empty: new Float32Array(0),
        view: new Int32Array(new Int32Array([9, 8, 7, 6]).buffer, 4, 2),
      },
      { i32: new Int32Array([5]), obj: ['second'], dt_ns: new Datetime64Array([-1n], 'ns'), f64: new Float64Array([2.5]) },
    ];
    for (const call of calls) await store.append(call);
    const keys = Object.keys(calls[0]);
    writeFileSync(join(dir, 'keys.json'), JSON.stringify(keys));
    const read = python<Read>('read', dir, join(dir, 'keys.json'));
    const dtypes: Record<string, string> = { i32: '<i4', f64: '<f8', u8: '|u1', buf: '|u1', i64: '<i8', u64: '<u8', i8: '|i1', i16: '<i2', u16: '<u2', u32: '<u4', f32: '<f4', obj: '|O', dt_ns: '<M8[ns]', dt_s: '<M8[s]', empty: '<f4', view: '<i4' };
    for (const key of keys) {
      expect(read[key].dtype, key).toBe(dtypes[key]);
      // Compared with what was appended, not with laminate's own get(): a bug both sides share must fail.
      const appended = calls.flatMap((call) => (key in call ? view(call[key]) : []));
      expect(read[key].values, key).toEqual(appended);
    }
    expect(read.view.values).toEqual([8, 7]);
    expect(read.obj.values.length).toBe(13);

    // laminate appends to keys partd wrote, big-endian ones included; partd reads the whole
    const theirs = tempDir();
    const written = python<Written>('write', theirs);
    const more = typedArrays(file(theirs));
    await more.append({ big_i4: new Int32Array([-7]), big_dt: new Datetime64Array([86_400_000n], 'ms'), obj: ['from js', 2n ** 60n], i32: new Int32Array([42]), empty_i2: new Int16Array([3]) });
    await more.close();
    writeFileSync(join(theirs, 'keys.json'), JSON.stringify(['big_i4', 'big_dt', 'obj', 'i32', 'empty_i2']));
    const after = python<Read>('read', theirs, join(theirs, 'keys.json'));
    expect(after.big_i4).toEqual({ dtype: '>i4', values: [...written.big_i4.appends.flat(1), -7] });
    expect(after.big_dt).toEqual({ dtype: '>M8[ms]', values: [...written.big_dt.appends.flat(1), '86400000'] });
    expect(after.obj).toEqual({ dtype: '|O', values: [...written.obj.appends.flat(1), 'from js', 2 ** 60] });
    expect(after.i32).toEqual({ dtype: '<i4', values: [...written.i32.appends.flat(1), 42] });
    expect(after.empty_i2).toEqual({ dtype: '<i2', values: [3] });
  });

  it('fails, not skips, when the Python reference is missing', () => {
    const run = spawnSync(DEBIAN_PYTHON, ['-c', 'import partd, numpy, msgpack'], { encoding: 'utf8' });
    expect(run.status, `Debian's ${DEBIAN_PYTHON} lacks partd/numpy/msgpack (${run.stderr.trim()}); install them as root: ${INSTALL}`).toBe(0);
    const check = python<{ partd: string; numpy: string; msgpack: string }>('check');
    expect(check.partd).toMatch(/^\d/);
    expect(check.numpy).toMatch(/^\d/);
  });
});
