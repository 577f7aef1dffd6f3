/**
 * Damaged Arrow frames: what the IPC format lets a reader check is checked
 * (message extents, metadata, buffer sizes, null counts, offsets, dictionary
 * indices), so damage there is ERR_CORRUPT_FRAME, never a crash or a table of
 * other values; a changed bit inside a number is invisible to the format and
 * needs checksum() (or zstd/lz4) under arrow().
 */
import { describe, expect, it } from 'vitest';
import { type DictStore, checksum, dict, lz4, zstd } from '@laminate/core';
import { arrow, arrowColumns } from '@laminate/arrow';
import { frame } from '@laminate/core/layer';
import { Dictionary, Float64, Int32, List, Field, Table, Utf8, makeData, makeVector, tableToIPC, vectorFromArray } from 'apache-arrow';
import { rejection } from '@laminate/core/testing';
import { view } from './values.js';
import { flipBit, replaceStored, stored } from '../../core/test/fixtures/damage.js';

const price = (i: number) => 100 + i / 8;
function trades(rows: number): Table {
  return new Table({
    id: vectorFromArray(Array.from({ length: rows }, (_, i) => i), new Int32()),
    price: vectorFromArray(Array.from({ length: rows }, (_, i) => price(i)), new Float64()),
    user: vectorFromArray(Array.from({ length: rows }, (_, i) => (i % 5 === 0 ? null : `user-${i}`)), new Utf8()),
    side: vectorFromArray(Array.from({ length: rows }, (_, i) => (i % 2 ? 'buy' : 'sell')), new Dictionary(new Utf8(), new Int32())),
    tags: vectorFromArray(Array.from({ length: rows }, (_, i) => [i, i + 1].slice(0, i % 3)), new List(new Field('item', new Int32(), true))),
  });
}

/** Where the 8 bytes of `value` (a float64) sit in `bytes`. */
function float64At(bytes: Uint8Array, value: number): number {
  const at = Buffer.from(bytes).indexOf(Buffer.from(new Float64Array([value]).buffer));
  expect(at).toBeGreaterThan(0);
  return at;
}

describe('arrow(): a flipped bit inside a float64', () => {
  it('reads back as another number without a checksum: the IPC format cannot tell', async () => {
    const inner = dict();
    const store = arrow(inner);
    await store.append({ k: trades(40) });
    const whole = await stored(inner);
    await replaceStored(inner, flipBit(whole, float64At(whole, price(20)) * 8 + 12));
    const got = await store.get('k');
    expect(got.getChild('price')!.get(20)).not.toBe(price(20));
    expect(got.numRows).toBe(40);
  });

  it('is ERR_CORRUPT_FRAME under checksum(), zstd() or lz4(), wherever the bit is', async () => {
    for (const layer of [checksum, (inner: DictStore) => zstd(inner), (inner: DictStore) => lz4(inner)]) {
      const inner = dict();
      const store = arrow(layer(inner));
      await store.append({ k: trades(40) });
      const whole = await stored(inner);
      let errors = 0;
      for (let bit = 64; bit < whole.byteLength * 8; bit += 13) {
        await replaceStored(inner, flipBit(whole, bit));
        try {
          // A bit the format ignores (an unused header bit) may read back: only ever as the same table.
          expect(view(await store.get('k')), `bit ${bit}`).toBe(view(trades(40)));
        } catch (error) {
          expect((error as { code?: string }).code, `bit ${bit}`).toBe('ERR_CORRUPT_FRAME');
          expect((error as { repairable?: boolean }).repairable, `bit ${bit}`).toBe(false);
          errors++;
        }
      }
      expect(errors).toBeGreaterThan(0);
    }
  });
});

describe('arrow(): what the format can check', () => {
  it('a flipped bit anywhere in the messages\' metadata is ERR_CORRUPT_FRAME or a readable table, never a crash', async () => {
    const inner = dict();
    await arrow(inner).append({ k: trades(6) });
    const whole = await stored(inner);
    // Each message is [0xFFFFFFFF][metadata length][metadata][body]: flip every bit of each metadata.
    const regions: [number, number][] = [];
    for (let at = 8; at < whole.byteLength; ) {
      const length = whole.readInt32LE(at + 4);
      if (length === 0) break;
      regions.push([at + 8, at + 8 + length]);
      const body = whole.indexOf(Buffer.from([0xff, 0xff, 0xff, 0xff]), at + 8 + length);
      at = body < 0 ? whole.byteLength : body;
    }
    expect(regions.length).toBeGreaterThanOrEqual(2);
    let errors = 0;
    for (const [start, end] of regions) {
      for (let bit = start * 8; bit < end * 8; bit++) {
        await replaceStored(inner, flipBit(whole, bit));
        try {
          // A new store each time, as a process that reads the damaged key first would be.
          const table = await arrow(inner).get('k');
          table.toArray();
        } catch (error) {
          expect((error as { code?: string }).code, `bit ${bit}: ${(error as Error).message}`).toBe('ERR_CORRUPT_FRAME');
          errors++;
        }
      }
    }
    expect(errors).toBeGreaterThan(0);
  }, 60_000);

  it('string offsets that run past their data, and dictionary indices past their dictionary', async () => {
    const inner = dict();
    const strings = makeData({ type: new Utf8(), length: 2, nullCount: 0, valueOffsets: Int32Array.of(0, 3, 99), data: Buffer.from('abcdef') });
    const indices = makeData({ type: new Dictionary(new Utf8(), new Int32()), length: 2, nullCount: 0, data: Int32Array.of(0, 7), dictionary: vectorFromArray(['x', 'y'], new Utf8()) });
    const cases: [string, Table, RegExp][] = [
      ['offsets', new Table({ s: makeVector(strings) }), /column "s" of batch 1 has offsets up to 99, past its \d+ values/],
      ['indices', new Table({ d: makeVector(indices) }), /column "d" of batch 1 has dictionary index 7 at row 1, outside its 2-entry dictionary/],
    ];
    for (const [key, table, message] of cases) {
      await inner.append({ [key]: frame(tableToIPC(table, 'stream')) });
      const error = await rejection(arrow(inner).get(key));
      expect(error.code, key).toBe('ERR_CORRUPT_FRAME');
      expect(error.message, key).toMatch(message);
    }
  });

  it('a stream cut inside its frame, or with bytes after its end marker, is damage', async () => {
    const stream = tableToIPC(trades(3), 'stream');
    const inner = dict();
    await inner.append({ short: frame(stream.subarray(0, stream.byteLength - 8)), long: frame(Buffer.concat([stream, Buffer.from('extra!!!')])) });
    expect((await rejection(arrow(inner).get('short'))).message).toMatch(/^Key "short" does not decode as arrow\(\): its first frame \(\d+ bytes at byte 0\) fails \(the Arrow IPC stream stops at byte \d+ without its end-of-stream marker\)/);
    expect((await rejection(arrow(inner).get('long'))).message).toMatch(/and 8 more bytes follow it in the frame/);
  });
});

describe('arrow(): torn tails and damaged headers', () => {
  it('a torn last frame is cut by repair(); a damaged header is refused', async () => {
    const inner = dict();
    const store = arrow(inner);
    await store.append({ k: trades(3) });
    await store.append({ k: trades(2) });
    const whole = await stored(inner);
    const second = 8 + Number(whole.readBigUInt64LE(0));

    await replaceStored(inner, whole.subarray(0, whole.byteLength - 20));
    const torn = await rejection(store.get('k'));
    expect(torn.repairable).toBe(true);
    expect(await store.repair('k')).toBe(whole.byteLength - 20 - second);
    expect(view(await store.get('k'))).toBe(view(trades(3)));

    const damaged = flipBit(whole, second * 8 + 3);
    await replaceStored(inner, damaged);
    const error = await rejection(store.get('k'));
    expect(error.repairable).toBe(false);
    expect(error.message).not.toMatch(/call repair\(/);
    expect((await rejection(store.repair('k'))).message).toMatch(/^repair\("k"\) cut nothing/);
    expect(Buffer.compare(await stored(inner), damaged)).toBe(0);
  });

  it('arrowColumns(): a damaged column frame is ERR_CORRUPT_FRAME naming the column, without repair advice', async () => {
    const inner = dict();
    const store = arrowColumns(inner);
    await store.append({ k: trades(4) });
    const column = await stored(inner, ['k', 'user']);
    await replaceStored(inner, flipBit(column, 14 * 8), ['k', 'user']); // the schema message's metadata length
    const error = await rejection(store.get('k'));
    expect(error.code).toBe('ERR_CORRUPT_FRAME');
    expect(error.message).toMatch(/^Key \["k","user"\] does not decode as arrowColumns\(\) column "user": its first frame/);
    expect(error.message).not.toMatch(/call repair\(/);
  });
});
