/**
 * buffer()'s reads of keys whose bytes lie on disk (spilled), in memory, or
 * both: readRanges() at every offset and length against slices of the whole
 * key, sizeIds(), seal(), and get() over slow stores of three kinds: a
 * dict(), a file(), and a store written against BaseStore alone that can
 * neither tell sizes nor read ranges. Over a slow store that reads keys with
 * room to spare (file()'s readIdsWithRoom), a key in both places comes back in
 * the very memory the slow store read it into, and only keys it holds are read.
 */
import { describe, expect, it } from 'vitest';
import { type BufferStore, buffer, dict, file } from '@laminate/core';
import { keyId } from '@laminate/core/layer';
import { tempDirs } from '@laminate/core/testing';
import { MapStore, RecordingDict, RoomyDict } from './fixtures/recording-stores.js';

const tempDir = tempDirs('laminate-buffer-ranges-');
const text = (value: Uint8Array) => Buffer.from(value).toString();

/**
 * Keys in every place a buffer can hold them, with availableMemory 100 and
 * spillFraction 1 (a spill empties memory): `disk` only spilled, `both`
 * spilled then appended to, `memory` never spilled, `empty` an empty value in
 * memory, `gone` never written.
 */
async function fill(store: BufferStore): Promise<Record<string, string>> {
  await store.append({ both: Buffer.from('0123456789'), disk: Buffer.from('abcdefghijklmnopqrstuvwxyz'), pad: Buffer.from('p'.repeat(70)) });
  expect(store.memoryUsage).toBe(0);
  await store.append({ both: Buffer.from('ABCDE'), memory: Buffer.from('mnopq'), empty: Buffer.alloc(0) });
  expect(store.memoryUsage).toBe(10);
  return { both: '0123456789ABCDE', disk: 'abcdefghijklmnopqrstuvwxyz', memory: 'mnopq', empty: '', gone: '' };
}

const slowStores: Record<string, () => ConstructorParameters<typeof BufferStore>[1]> = {
  'dict()': () => dict(),
  'file()': () => file(tempDir()),
  'a store that is not a BytesStore': () => new MapStore(),
};

describe('buffer(): readRanges() against slices of the whole key', () => {
  for (const [name, makeSlow] of Object.entries(slowStores)) {
    it(`over ${name}: every offset, with lengths from 0 to past the end`, async () => {
      const store = buffer(dict(), makeSlow(), { availableMemory: 100, spillFraction: 1 });
      const expected = await fill(store);
      for (const [key, whole] of Object.entries(expected)) {
        expect(text(await store.get(key)), key).toBe(whole);
        const ranges: { key: string; offset: number; length: number }[] = [];
        for (let offset = 0; offset <= whole.length + 1; offset++) {
          for (const length of [0, 1, 2, 3, 7, 11, whole.length, Infinity]) ranges.push({ key, offset, length });
        }
        const got = await store.readRanges(ranges);
        ranges.forEach(({ offset, length }, i) => {
          expect(text(got[i]), `${key} from ${offset}, ${length} bytes`).toBe(whole.slice(offset, offset + length));
        });
      }
      // Keys of every kind in one call, in any order.
      const mixed = [
        { key: 'memory', offset: 1, length: 3 },
        { key: 'both', offset: 8, length: 4 },
        { key: 'disk', offset: 24, length: 10 },
        { key: 'gone', offset: 0, length: 1 },
        { key: 'both', offset: 0, length: 2 },
        { key: 'empty', offset: 0, length: 5 },
        { key: 'both', offset: 11, length: 2 },
      ];
      expect((await store.readRanges(mixed)).map(text)).toEqual(['nop', '89AB', 'yz', '', '01', '', 'BC']);
      await store.close();
    });
  }
});

describe('buffer(): readRanges() reads parts, not whole keys', () => {
  it('over a slow store that reads ranges, never gets a whole key from it, spilled or partly in memory', async () => {
    const slow = new RecordingDict();
    const store = buffer(dict(), slow, { availableMemory: 100, spillFraction: 1 });
    await fill(store);
    slow.gets.length = 0;
    const got = await store.readRanges([
      { key: 'both', offset: 9, length: 2 },
      { key: 'disk', offset: 3, length: 2 },
      { key: 'both', offset: 2, length: 1 },
    ]);
    expect(got.map(text)).toEqual(['9A', 'de', '2']);
    expect(slow.gets).toEqual([]);
    await store.close();
  });
});

describe('buffer(): sizeIds()', () => {
  const ids = ['both', 'disk', 'memory', 'empty', 'gone'].map((key) => keyId(key));

  it('adds the bytes in memory to those the slow store holds, key by key', async () => {
    for (const slow of [dict(), file(tempDir())]) {
      const store = buffer(dict(), slow, { availableMemory: 100, spillFraction: 1 });
      await fill(store);
      expect(await store.sizeIds(ids)).toEqual([15, 26, 5, 0, 0]);
      await store.close();
    }
  });

  it('cannot tell when the slow store cannot', async () => {
    const store = buffer(dict(), new MapStore(), { availableMemory: 100, spillFraction: 1 });
    await fill(store);
    expect(await store.sizeIds(ids)).toBeUndefined();
    await store.close();
  });
});

describe('buffer(): seal()', () => {
  it('seals a key at its whole length, spilled and in memory, where the slow store keeps seals', async () => {
    const dir = tempDir();
    const store = buffer(dict(), file(dir), { availableMemory: 100, spillFraction: 1 });
    await fill(store);
    await store.seal('both');
    expect(await store.sealedId(keyId('both'))).toBe(15);
    expect(await store.sealedId(keyId('disk'))).toBeUndefined();
    await store.close();
    // On disk: the directory opened again as file() finds the seal.
    const again = file(dir);
    expect(await again.sealedId(keyId('both'))).toBe(15);
    await again.close();
  });

  it('over a slow store that keeps no seals of its own, keeps them in this process', async () => {
    for (const slow of [dict(), new MapStore()]) {
      const store = buffer(dict(), slow, { availableMemory: 100, spillFraction: 1 });
      await fill(store);
      await store.seal('both');
      await store.seal('memory');
      expect(await store.sealedId(keyId('both'))).toBe(15);
      expect(await store.sealedId(keyId('memory'))).toBe(5);
      expect(await store.sealedId(keyId('disk'))).toBeUndefined();
      await store.close();
    }
  });
});

describe('buffer(): get() reads the slow store only for keys it holds', () => {
  it('over dict(): keys only in memory cost no read of the slow store', async () => {
    const slow = new RecordingDict();
    const store = buffer(dict(), slow, { availableMemory: 100, spillFraction: 1 });
    const expected = await fill(store);
    slow.gets.length = 0;
    expect((await store.getMany(['memory', 'empty', 'gone'])).map(text)).toEqual(['mnopq', '', '']);
    expect(slow.gets).toEqual([]);
    expect((await store.getMany(['memory', 'both', 'disk'])).map(text)).toEqual([expected.memory, expected.both, expected.disk]);
    expect(slow.gets).toEqual([[keyId('both'), keyId('disk')]]);
    await store.close();
  });

  it('over a store that cannot tell sizes: reads it for every key, and joins the parts in order', async () => {
    const store = buffer(dict(), new MapStore(), { availableMemory: 100, spillFraction: 1 });
    const expected = await fill(store);
    const keys = Object.keys(expected);
    expect((await store.getMany(keys)).map(text)).toEqual(keys.map((key) => expected[key]));
    await store.close();
  });
});

describe('buffer(): get() over a slow store that reads with room to spare', () => {
  function roomy() {
    const slow = new RoomyDict();
    return { slow, store: buffer(dict(), slow, { availableMemory: 100, spillFraction: 1 }) };
  }

  it('asks for room for the bytes in memory, reads only keys it holds, and returns the memory it read into', async () => {
    const { slow, store } = roomy();
    const expected = await fill(store);
    // Nothing on disk for these: no read at all.
    expect((await store.getMany(['memory', 'empty', 'gone'])).map(text)).toEqual(['mnopq', '', '']);
    expect(slow.roomReads).toEqual([]);

    const [both, memory, disk] = await store.getMany(['both', 'memory', 'disk']);
    expect([text(both), text(memory), text(disk)]).toEqual([expected.both, expected.memory, expected.disk]);
    expect(slow.roomReads).toEqual([{ ids: [keyId('both'), keyId('disk')], room: [5, 0] }]);
    // One allocation per key: the memory part was copied after the spilled bytes, in place.
    expect(slow.handedOut.length).toBe(2);
    expect(both.buffer).toBe(slow.handedOut[0].buffer);
    expect(disk.buffer).toBe(slow.handedOut[1].buffer);
    expect(slow.gets).toEqual([]);
    await store.close();
  });

  it('joins the parts when the slow store leaves less room than asked', async () => {
    const { slow, store } = roomy();
    const expected = await fill(store);
    slow.roomShort = 2;
    const [both, disk] = await store.getMany(['both', 'disk']);
    expect([text(both), text(disk)]).toEqual([expected.both, expected.disk]);
    slow.roomShort = 5;
    expect(text(await store.get('both'))).toBe(expected.both);
    await store.close();
  });
});
