/**
 * Behaviours the guide documents that were wrong before it was written:
 * typed arrays through msgpack, values msgpack cannot encode, and spaces
 * around "=" in the short form.
 */
import { describe, expect, it } from 'vitest';
import { dict, file, isLaminateError, msgpack, parseSpec } from '../src/index.js';
import { rejection } from '../src/testing.js';

describe('msgpack() and typed arrays', () => {
  it('stores the bytes of any typed array, not each element cut to a byte', async () => {
    const store = msgpack(dict());
    const floats = Float32Array.of(1.5, -2, 1e-3);
    const shorts = Int16Array.of(258, -1);
    const doubles = new Float64Array([0.1, 0.2, 0.3]).subarray(1); // a view at an offset
    await store.append({ k: [floats, { nested: [shorts] }, doubles, new DataView(Uint8Array.of(9, 8).buffer)] });
    const [a, b, c, d] = (await store.get('k')) as [Uint8Array, { nested: [Uint8Array] }, Uint8Array, Uint8Array];
    const as = <T>(bytes: Uint8Array, Type: new (buffer: ArrayBuffer) => T) => new Type(new Uint8Array(bytes).buffer);
    expect(as(a, Float32Array)).toEqual(floats);
    expect(as(b.nested[0], Int16Array)).toEqual(shorts);
    expect(as(c, Float64Array)).toEqual(Float64Array.of(0.2, 0.3));
    expect([...d]).toEqual([9, 8]);
  });

  it('leaves the caller’s values as they were', async () => {
    const store = msgpack(dict());
    const record = { id: 1, values: Float32Array.of(1, 2) };
    const batch = [record];
    await store.append({ k: batch });
    expect(batch[0]).toBe(record);
    expect(record.values).toBeInstanceOf(Float32Array);
  });

  it('stays plain MessagePack bin (0xc4) for a Float32Array', async () => {
    const disk = file();
    const store = msgpack(disk);
    await store.append({ k: [Float32Array.of(1.5)] });
    const raw = Buffer.from(await disk.get('k'));
    // frame header (8) + fixarray(1) + bin8, length 4, then the float's little-endian bytes
    expect(raw.subarray(8).toString('hex')).toBe('91c404' + Buffer.from(Float32Array.of(1.5).buffer).toString('hex'));
    await store.close();
  });
});

describe('msgpack() values it cannot encode', () => {
  const cycle: Record<string, unknown> = {};
  cycle.self = cycle;
  for (const [what, value] of [
    ['a symbol', Symbol('x')],
    ['a cycle', cycle],
    ['a bigint past 64 bits', 2n ** 64n],
  ] as const) {
    it(`refuses ${what} with ERR_VALUE_TYPE naming the key, storing nothing of the call`, async () => {
      const store = msgpack(dict());
      const error = await rejection(store.append({ fine: [1], bad: [value] }));
      expect(isLaminateError(error, 'ERR_VALUE_TYPE')).toBe(true);
      expect(error).toBeInstanceOf(TypeError);
      expect((error as { key: string }).key).toBe('"bad"');
      expect(await store.get('fine')).toEqual([]);
      await expect(store.iset('meta', [value])).rejects.toMatchObject({ code: 'ERR_VALUE_TYPE' });
    });
  }
});

describe('the short form', () => {
  it('takes spaces around "="', () => {
    expect(parseSpec('zlib( dict , level = 9 )')).toEqual({ type: 'zlib', level: 9, inner: { type: 'dict' } });
    expect(parseSpec('buffer(dict, dict, availableMemory =64MiB)')).toMatchObject({ availableMemory: 64 * 2 ** 20 });
  });

  it('still reads a bare value with spaces as the positional field', () => {
    expect(parseSpec('file(my data dir)')).toEqual({ type: 'file', path: 'my data dir' });
  });
});
