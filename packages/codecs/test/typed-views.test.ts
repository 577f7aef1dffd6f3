/**
 * typedArrays().getView(): a key's array made over the memory the inner
 * store's getView() reuses (file(), log(), buffer()), so a large get faults
 * in no fresh memory. What is checked: the numbers, which memory the array
 * lies in, what the next getView() does to it, and the cases that must be
 * copied (byte-swapped data, an offset the array type cannot start at, an
 * inner store without getView()).
 */
import { afterAll, describe, expect, it } from 'vitest';
import { type Store, buffer, dict, file, isLaminateError, log } from '@laminate/core';
import { Datetime64Array, typedArrays } from '@laminate/codecs';
import { rejection, tempDirs } from '@laminate/core/testing';

const tempDir = tempDirs('laminate-typed-views-', afterAll);

const VIEWING = [
  ['file()', () => file(tempDir())],
  ['log()', () => log(tempDir())],
  ['buffer(dict(), file()) with every key spilled', () => buffer(dict(), file(tempDir()), { availableMemory: 1 })],
] as const;

describe.each(VIEWING)('typedArrays(%s).getView()', (_, inner) => {
  it('returns the numbers over memory the store reuses: the next getView() overwrites the last array; get() results are not touched', async () => {
    const store = typedArrays(inner());
    const a = Float64Array.from({ length: 1000 }, (_, i) => i / 4);
    const b = Float64Array.from({ length: 1000 }, (_, i) => -i);
    await store.append({ a, b });
    await store.append({ a: new Float64Array([7.5]) });
    const copy = await store.get('a');

    const first = (await store.getView('a')) as Float64Array;
    expect(first).toBeInstanceOf(Float64Array);
    expect([...first]).toEqual([...a, 7.5]);
    const second = (await store.getView('b')) as Float64Array;
    expect([...second]).toEqual([...b]);
    // The same memory: the first array now shows b's numbers where they overlap.
    expect(second.buffer).toBe(first.buffer);
    expect(first[1]).toBe(-1);
    expect([...(copy as Float64Array)]).toEqual([...a, 7.5]);

    expect(await store.getView('missing')).toEqual(new Float64Array(0));
    await store.close();
    expect(isLaminateError(await rejection(store.getView('a')), 'ERR_CLOSED')).toBe(true);
  });

  it('keeps every dtype: int32, datetime64 (as Datetime64Array), and object arrays (copied, decoded)', async () => {
    const store = typedArrays(inner());
    const ids = Int32Array.from({ length: 300 }, (_, i) => 1_000_000 + i);
    const times = new Datetime64Array(BigInt64Array.from([0n, 86_400_000n]), 'ms');
    await store.append({ ids, times, objects: ['x', 1, null] });
    const gotIds = (await store.getView('ids')) as Int32Array;
    expect(gotIds).toBeInstanceOf(Int32Array);
    expect([...gotIds]).toEqual([...ids]);
    const gotTimes = await store.getView('times');
    expect(gotTimes).toBeInstanceOf(Datetime64Array);
    expect((gotTimes as Datetime64Array).unit).toBe('ms');
    expect([...(gotTimes as Datetime64Array).values]).toEqual([0n, 86_400_000n]);
    expect(await store.getView('objects')).toEqual(['x', 1, null]);
    await store.close();
  });
});

describe('typedArrays().getView(): what is copied', () => {
  it('byte-swaps big-endian data (numpy ">f8") into memory of its own', async () => {
    const inner = file(tempDir());
    await inner.append({ f: Buffer.from('3ff80000000000004000000000000000', 'hex'), 'f.dtype': Buffer.from('>f8') });
    const store = typedArrays(inner);
    const got = (await store.getView('f')) as Float64Array;
    expect([...got]).toEqual([1.5, 2]);
    // Not the store's reused memory: a later view leaves it alone.
    await inner.append({ g: Buffer.alloc(64, 0xff) });
    await inner.getView('g');
    expect([...got]).toEqual([1.5, 2]);
    await store.close();
  });

  it('copies bytes that lie at an offset the array type cannot start at', async () => {
    const inner = dict();
    // An inner store whose views lie one byte into their buffer.
    const shifted = Object.assign(inner, {
      getView: async (key: string) => {
        const [bytes] = await inner.getMany([key]);
        const out = Buffer.alloc(bytes.byteLength + 1);
        out.set(bytes, 1);
        return out.subarray(1);
      },
    }) as Store<Uint8Array>;
    const store = typedArrays(shifted);
    await store.append({ k: new Float64Array([1, 2, 3]) });
    const got = (await store.getView('k')) as Float64Array;
    expect(got.byteOffset % 8).toBe(0);
    expect([...got]).toEqual([1, 2, 3]);
    await store.close();
  });

  it('is get() over a store without getView(): memory of its own each time', async () => {
    const store = typedArrays(dict());
    await store.append({ k: Int32Array.from([1, 2, 3]) });
    const first = (await store.getView('k')) as Int32Array;
    const second = (await store.getView('k')) as Int32Array;
    expect([...first]).toEqual([1, 2, 3]);
    expect(second.buffer).not.toBe(first.buffer);
    await store.close();
  });
});
