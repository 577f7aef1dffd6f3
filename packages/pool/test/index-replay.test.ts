/**
 * The pool's index replay (index-replay.ts): what one pool instance finds
 * after another stored, removed or compacted; ids that never come back;
 * time ranges over episodes stored out of time order and after removals;
 * index records replayed as they are (out of id order, twice, naming ids the
 * index does not hold); an index appended to in place, never rewritten
 * unless torn; an append whose reply was lost, read again.
 */
import * as fs from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { DictStore, FileStore, zstd } from '@laminate/core';
import { frame, keyId } from '@laminate/core/layer';
import { rejection, tempDirs } from '@laminate/core/testing';
import { EpisodePool, type EpisodeMeta } from '@laminate/pool';
import { inspectStack } from '../src/encoding.js';
import { PoolIndex } from '../src/index-replay.js';
import { type IndexRecord, recordCodec } from '../src/layout.js';
import { PoolSchema, normalizeSchema } from '../src/schema.js';
import { DAY, SCHEMA, T0, episode, metaOf } from './fixtures/episodes.js';

const tempDir = tempDirs('laminate-index-replay-', afterAll);
const ids = (found: EpisodeMeta[]) => found.map((e) => e.id);
const INDEX = keyId(['pool', 'index', '0']);

/** The index file of generation 0 of a pool over file(dir). */
const indexFile = (dir: string) => join(dir, 'pool%d', 'index%d', '0');

/** An index of its own over `store`, to append records as they are. */
function rawIndex(store: DictStore): PoolIndex {
  const stack = inspectStack(store);
  return new PoolIndex(stack, new PoolSchema(normalizeSchema(SCHEMA)), recordCodec(stack));
}

/** An index record of episode `id` (its data is never read here: only find() and count() are asked). */
function add(id: number, tag = id): IndexRecord {
  const m = metaOf(tag);
  return { op: 'add', id, segment: 'elsewhere', offset: 0, length: 1, steps: 1, fields: { ...m, start: m.start.getTime() } };
}

describe('index replay across pool instances', () => {
  it('one instance finds what another stored, removed and compacted, and both go on with the same ids', async () => {
    const dir = tempDir();
    const a = await EpisodePool.open(dir, { schema: SCHEMA });
    const b = await EpisodePool.open(dir);
    try {
      for (let tag = 0; tag < 6; tag++) await a.store(episode(tag, 3), metaOf(tag));
      expect(ids(await b.find())).toEqual([0, 1, 2, 3, 4, 5]);
      expect(await a.remove({ id: [4, 5] })).toBe(2);
      expect(ids(await b.find())).toEqual([0, 1, 2, 3]);
      await a.compact();
      // b reads the compacted index (another generation) from its start; the removed ids are not given again.
      expect(ids(await b.find())).toEqual([0, 1, 2, 3]);
      expect(await b.store(episode(6, 3), metaOf(6))).toBe(6);
      expect(await a.store(episode(7, 3), metaOf(7))).toBe(7);
      expect(ids(await a.find())).toEqual([0, 1, 2, 3, 6, 7]);
      expect(ids(await b.find({ start: { from: T0 + 3 * DAY } }))).toEqual([3, 6, 7]);
    } finally {
      await a.close();
      await b.close();
    }
  });

  it('ids continue past the removed ones after a compaction and a reopen', async () => {
    const dir = tempDir();
    const pool = await EpisodePool.open(dir, { schema: SCHEMA });
    for (let tag = 0; tag < 5; tag++) await pool.store(episode(tag, 2), metaOf(tag));
    await pool.remove({ id: [3, 4] });
    await pool.compact();
    expect(await pool.store(episode(5, 2), metaOf(5))).toBe(5);
    await pool.remove({ id: 5 });
    await pool.compact();
    await pool.close();
    const reopened = await EpisodePool.open(dir);
    try {
      expect(ids(await reopened.find())).toEqual([0, 1, 2]);
      expect(await reopened.store(episode(6, 2), metaOf(6))).toBe(6);
    } finally {
      await reopened.close();
    }
  });
});

describe('index replay: time ranges', () => {
  it('finds every time range right over episodes stored out of time order, some at the same time, in this instance and another', async () => {
    const dir = tempDir();
    const pool = await EpisodePool.open(dir, { schema: SCHEMA });
    const other = await EpisodePool.open(dir);
    try {
      // Start days out of order, with repeats: the episode of id i starts on day days[i].
      const days = [7, 2, 9, 2, 0, 5, 7, 1, 8, 3, 6, 2, 4, 9, 0];
      for (const day of days) await pool.store(episode(day, 2), metaOf(day));
      for (let from = -1; from <= 10; from++) {
        for (let to = from; to <= 11; to++) {
          const want = days.map((day, id) => [day, id]).filter(([day]) => day >= from && day < to).map(([, id]) => id);
          const query = { start: { from: T0 + from * DAY, to: T0 + to * DAY } };
          expect(ids(await pool.find(query)), `[${from}, ${to})`).toEqual(want);
          expect(ids(await other.find(query)), `[${from}, ${to}) in the other instance`).toEqual(want);
        }
      }
      // Removed episodes leave the time ranges too, here and in the other instance.
      await pool.remove({ id: [1, 3, 4] });
      const want = days.map((day, id) => [day, id]).filter(([day, id]) => day >= 0 && day < 3 && ![1, 3, 4].includes(id)).map(([, id]) => id);
      expect(want).toEqual([7, 11, 14]);
      expect(ids(await pool.find({ start: { from: T0, to: T0 + 3 * DAY } }))).toEqual(want);
      expect(ids(await other.find({ start: { from: T0, to: T0 + 3 * DAY } }))).toEqual(want);
      expect(await other.count({ start: { to: T0 + 1 * DAY } })).toBe(1);
    } finally {
      await pool.close();
      await other.close();
    }
  });

  it('an empty pool finds nothing by any field, hashed or not', async () => {
    const pool = await EpisodePool.open(tempDir(), { schema: SCHEMA });
    try {
      expect(await pool.find({ vehicle: 'v1' })).toEqual([]);
      expect(await pool.find({ weather: ['rain', 'sun'] })).toEqual([]);
      expect(await pool.find({ start: { from: T0 } })).toEqual([]);
      expect(await pool.count({ id: 0 })).toBe(0);
    } finally {
      await pool.close();
    }
  });
});

describe('index replay: records as they are', () => {
  it('keeps entries in id order when the index names them out of order, ignores a repeated add and a remove of an id it does not hold', async () => {
    const store = new DictStore();
    const pool = new EpisodePool(store, { schema: SCHEMA });
    try {
      expect(await pool.find()).toEqual([]);
      const raw = rawIndex(store);
      await raw.locked(() => raw.append([add(5), add(2)]));
      await raw.locked(() => raw.append([add(9), add(7), add(2, 11), { op: 'remove', ids: [40, 41] }]));
      await raw.locked(() => raw.append([add(0), add(8)]));
      expect(ids(await pool.find())).toEqual([0, 2, 5, 7, 8, 9]);
      // The repeated add of id 2 changed nothing: it keeps the first one's fields.
      expect((await pool.find({ id: 2 }))[0].vehicle).toBe(metaOf(2).vehicle);
      expect(ids(await pool.find({ vehicle: metaOf(11).vehicle }))).toEqual([]);
      // v2: ids 2 and 7.
      expect(await pool.count({ vehicle: 'v2' })).toBe(2);
      expect(ids(await pool.find({ start: { from: T0 + 2 * DAY, to: T0 + 8 * DAY } }))).toEqual([2, 5, 7]);
      // The next id follows the highest one.
      expect(await pool.store(episode(10, 2), metaOf(10))).toBe(10);
    } finally {
      await pool.close();
    }
  });

  it('a next record moves the next id forward, never back', async () => {
    const store = new DictStore();
    const pool = new EpisodePool(store, { schema: SCHEMA });
    try {
      await pool.store(episode(0, 2), metaOf(0));
      const raw = rawIndex(store);
      await raw.locked(() => raw.append([{ op: 'next', id: 50 }]));
      expect(await pool.store(episode(1, 2), metaOf(1))).toBe(50);
      await raw.locked(() => raw.append([{ op: 'next', id: 3 }]));
      expect(await pool.store(episode(2, 2), metaOf(2))).toBe(51);
      expect(ids(await pool.find())).toEqual([0, 50, 51]);
    } finally {
      await pool.close();
    }
  });
});

describe('index replay: a damaged index', () => {
  it('is ERR_CORRUPT_FRAME naming the index when a frame does not hold one whole frame under its compression', async () => {
    const store = new DictStore();
    const pool = new EpisodePool(zstd(store), { schema: SCHEMA });
    await pool.store(episode(0, 2), metaOf(0));
    // A frame at the bottom whose zstd payload is not one frame: written by something other than the pool.
    await store.appendIds([INDEX], [frame(zstd(new DictStore()).codec.encode(Buffer.from('no frame here')))]);
    const error = await rejection(pool.find());
    expect(error.code).toBe('ERR_CORRUPT_FRAME');
    expect(error.message).toContain("The pool's index does not hold one whole frame");
    await pool.close();
  });
});

describe('index replay: the index on disk', () => {
  it('is appended to in place: a link made to the index file sees every later append', async () => {
    const dir = tempDir();
    const first = await EpisodePool.open(dir, { schema: SCHEMA });
    await first.store(episode(0, 2), metaOf(0));
    await first.close();
    // A hard link outside the store: it keeps the file's bytes only while the file is appended to, not replaced.
    const link = join(tempDir(), 'index-link');
    fs.linkSync(indexFile(dir), link);
    const pool = await EpisodePool.open(dir);
    try {
      for (let tag = 1; tag < 4; tag++) await pool.store(episode(tag, 2), metaOf(tag));
      await pool.remove({ id: 2 });
      expect(fs.readFileSync(link)).toEqual(fs.readFileSync(indexFile(dir)));
      expect(ids(await pool.find())).toEqual([0, 1, 3]);
    } finally {
      await pool.close();
    }
  });

  it('cuts a torn tail once, then appends in place again', async () => {
    const dir = tempDir();
    const first = await EpisodePool.open(dir, { schema: SCHEMA });
    await first.store(episode(0, 2), metaOf(0));
    await first.close();
    const whole = fs.readFileSync(indexFile(dir));
    // A writer killed in the middle of an append: part of a frame.
    fs.appendFileSync(indexFile(dir), whole.subarray(0, 10));
    const pool = await EpisodePool.open(dir);
    try {
      expect(ids(await pool.find())).toEqual([0]);
      await pool.store(episode(1, 2), metaOf(1));
      const repaired = fs.readFileSync(indexFile(dir));
      expect(Buffer.compare(repaired.subarray(0, whole.byteLength), whole)).toBe(0);
      const link = join(tempDir(), 'index-link');
      fs.linkSync(indexFile(dir), link);
      await pool.store(episode(2, 2), metaOf(2));
      await pool.store(episode(3, 2), metaOf(3));
      expect(fs.readFileSync(link)).toEqual(fs.readFileSync(indexFile(dir)));
      expect(ids(await pool.find())).toEqual([0, 1, 2, 3]);
    } finally {
      await pool.close();
    }
    const reopened = await EpisodePool.open(dir);
    try {
      expect(ids(await reopened.find())).toEqual([0, 1, 2, 3]);
    } finally {
      await reopened.close();
    }
  });
});

describe('index replay: an append whose reply was lost', () => {
  /** A dict() whose next append to the index lands, then fails as if the reply were lost. */
  class LosesOneReply extends DictStore {
    armed = false;
    override async appendIds(keys: readonly string[], values: readonly Uint8Array[], opts?: Parameters<DictStore['appendIds']>[2]): Promise<void> {
      await super.appendIds(keys, values, opts);
      if (this.armed && keys.includes(INDEX)) {
        this.armed = false;
        throw new Error('the reply was lost');
      }
    }
  }

  /** The same over file(dir). */
  class FileLosesOneReply extends FileStore {
    armed = false;
    override async appendIds(keys: readonly string[], values: readonly Uint8Array[]): Promise<void> {
      await super.appendIds(keys, values);
      if (this.armed && keys.includes(INDEX)) {
        this.armed = false;
        throw new Error('the reply was lost');
      }
    }
  }

  for (const [name, make] of [
    ['dict()', () => new LosesOneReply()],
    ['file(dir)', () => new FileLosesOneReply(tempDir())],
  ] as const) {
    it(`reads the index again: the episode whose index record landed is found, and ids go on after it (${name})`, async () => {
      const store = make();
      const pool = new EpisodePool(store, { schema: SCHEMA });
      try {
        await pool.store(episode(0, 2), metaOf(0));
        await pool.store(episode(1, 2), metaOf(1));
        store.armed = true;
        expect((await rejection(pool.store(episode(2, 2), metaOf(2)))).message).toBe('the reply was lost');
        expect(ids(await pool.find())).toEqual([0, 1, 2]);
        expect(await pool.store(episode(3, 2), metaOf(3))).toBe(3);
        expect(ids(await pool.find())).toEqual([0, 1, 2, 3]);
        const other = new EpisodePool(store);
        expect(ids(await other.find())).toEqual([0, 1, 2, 3]);
        expect(pool.size).toBe(4);
      } finally {
        await pool.close();
      }
    });
  }
});
