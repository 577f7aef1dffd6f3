/**
 * One flipped bit through blosc and typedArrays: the formats partd shares
 * carry no checksum, so some flips read back as other numbers; the tests
 * record that, and that the same flip under checksum() (or zstd) is
 * ERR_CORRUPT_FRAME. Torn tails and damaged headers of object arrays are told
 * apart as in every framed layer.
 */
import { describe, expect, it } from 'vitest';
import { type BaseStore, type DictStore, checksum, dict, file, zstd } from '@laminate/core';
import { blosc, typedArrays } from '@laminate/codecs';
import { rejection, tempDirs } from '@laminate/core/testing';
import { flipBit, replaceStored, stored } from '../../core/test/fixtures/damage.js';

const tempDir = tempDirs('laminate-codecs-corruption-');

/** Prices: a float64 walk, the kind of data typedArrays and blosc hold. */
const prices = Float64Array.from({ length: 2000 }, (_, i) => 100 + Math.sin(i / 30) * 5 + (i % 7) / 100);

/** Flips the bit at the middle of `key`'s stored bytes; returns what get() gives then, or its error. */
async function flipMiddle<V>(layer: (inner: DictStore) => BaseStore<V>, key: string, value: V): Promise<{ value?: V; error?: { code: string; repairable?: boolean } }> {
  const inner = dict();
  const store = layer(inner);
  await store.append({ [key]: value });
  const whole = await stored(inner, key);
  await replaceStored(inner, flipBit(whole, whole.byteLength * 4 + 5), key);
  return store.get(key).then(
    (got) => ({ value: got }),
    (error) => ({ error }),
  );
}

describe('a flipped bit in the middle of a value', () => {
  it('typedArrays: a float64 with one bit changed reads back as another number (the layout has no checksum)', async () => {
    const { value, error } = await flipMiddle((inner) => typedArrays(inner), 'prices', prices);
    expect(error).toBeUndefined();
    const got = value as Float64Array;
    expect(got.length).toBe(prices.length);
    expect(got.filter((x, i) => x !== prices[i]).length).toBe(1);
  });

  it('typedArrays(checksum()) and typedArrays(zstd()): ERR_CORRUPT_FRAME', async () => {
    for (const layer of [(inner: DictStore) => typedArrays(checksum(inner)), (inner: DictStore) => typedArrays(zstd(inner))]) {
      const { error } = await flipMiddle(layer, 'prices', prices);
      expect(error?.code).toBe('ERR_CORRUPT_FRAME');
      expect(error?.repairable).toBe(false);
    }
  });

  it('blosc: some bit in the middle reads back as other bytes (Blosc 1 buffers have no checksum); blosc(checksum()) is ERR_CORRUPT_FRAME for every bit', async () => {
    const value = Buffer.from(prices.buffer);
    const inner = dict();
    const plain = blosc(inner);
    await plain.append({ k: value });
    const whole = await stored(inner);
    let silent = false;
    for (let bit = whole.byteLength * 2; bit < whole.byteLength * 6 && !silent; bit++) {
      await replaceStored(inner, flipBit(whole, bit));
      const got = await plain.get('k').catch(() => undefined);
      silent = got !== undefined && Buffer.compare(got, value) !== 0;
    }
    expect(silent).toBe(true);

    const checkedInner = dict();
    const checked = blosc(checksum(checkedInner));
    await checked.append({ k: value });
    const bytes = await stored(checkedInner);
    for (let bit = 64; bit < bytes.byteLength * 8; bit += 7) {
      await replaceStored(checkedInner, flipBit(bytes, bit));
      expect((await rejection(checked.get('k'))).code, `bit ${bit}`).toBe('ERR_CORRUPT_FRAME');
    }
  });
});

describe('typedArrays: torn tails and damage', () => {
  it('object arrays: a damaged frame header has no repair advice, and repair() cuts nothing', async () => {
    const inner = dict();
    const store = typedArrays(inner);
    await store.append({ k: [1, 'two', { three: 3 }] });
    await store.append({ k: ['four'] });
    const whole = await stored(inner);
    const damaged = flipBit(whole, 2); // frame 1 announces 4 more bytes than it holds
    await replaceStored(inner, damaged);
    const error = await rejection(store.get('k'));
    expect(error.code).toBe('ERR_CORRUPT_FRAME');
    expect(error.repairable).toBe(false);
    expect(error.message).not.toMatch(/call repair\(/);
    expect((await rejection(store.repair('k'))).message).toMatch(/^repair\("k"\) cut nothing/);
    expect(Buffer.compare(await stored(inner), damaged)).toBe(0);
  });

  it('typedArrays(checksum(file())): a torn checksum frame is cut by repair() through the layer', async () => {
    const disk = file(tempDir());
    const store = typedArrays(checksum(disk));
    await store.append({ k: Int32Array.of(1, 2, 3) });
    await store.append({ k: Int32Array.of(4, 5) });
    const whole = Buffer.from(await disk.get('k'));
    await disk.delete(['k']);
    await disk.append({ k: whole.subarray(0, whole.byteLength - 3) });
    const error = await rejection(store.get('k'));
    expect(error.repairable).toBe(true);
    expect(error.message).toContain('call repair("k")');
    // The second frame: 8-byte header, 4-byte CRC, two int32s, less the 3 bytes lost.
    expect(await store.repair('k')).toBe(8 + 4 + 8 - 3);
    expect(await store.get('k')).toEqual(Int32Array.of(1, 2, 3));
    await store.close();
  });
});
