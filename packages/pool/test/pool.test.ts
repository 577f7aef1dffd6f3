import { type ChildProcess, spawn } from 'node:child_process';
import { cpSync, existsSync, readdirSync, statSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { arrow } from '@laminate/arrow';
import { dict, file, isLaminateError, msgpack, zstd } from '@laminate/core';
import { rejection, tempDirs } from '@laminate/core/testing';
import { serve } from '@laminate/net';
import { Field, FixedSizeList, Float32, Table, makeData, makeVector, tableFromArrays } from 'apache-arrow';
import { EpisodePool, type EpisodeMeta } from '@laminate/pool';
import { DAY, SCHEMA, T0, episode, metaOf } from './fixtures/episodes.js';

const HERE = dirname(fileURLToPath(import.meta.url));
const PACKAGE = join(HERE, '..');
const tempDir = tempDirs('laminate-pool-');
const poolDir = () => join(tempDir(), 'pool');

async function fill(pool: EpisodePool, tags: number[], steps = (tag: number) => 5 + (tag % 4)): Promise<number[]> {
  return Promise.all(tags.map((tag) => pool.store(episode(tag, steps(tag)), metaOf(tag))));
}

const range = (n: number, from = 0) => Array.from({ length: n }, (_, i) => from + i);
const ids = (found: EpisodeMeta[]) => found.map((e) => e.id);

/** Checks that every row of a sample table holds the steps of the episode its metadata says. */
function checkRows(table: Table, tagOf: (id: number) => number): void {
  const episodeCol = table.getChild('episode')!;
  const stepCol = table.getChild('step')!;
  for (let row = 0; row < table.numRows; row++) {
    const id = episodeCol.get(row) as number;
    const tag = tagOf(id);
    const s = stepCol.get(row) as number;
    const m = metaOf(tag);
    expect([...(table.getChild('obs')!.get(row) as Float32Array)]).toEqual([tag, s, -tag]);
    expect(table.getChild('action')!.get(row)).toBe(tag);
    expect(table.getChild('reward')!.get(row)).toBe(s);
    expect(table.getChild('vehicle')!.get(row)).toBe(m.vehicle);
    expect(table.getChild('driver')!.get(row)).toBe(m.driver);
    expect(table.getChild('start')!.get(row)).toBe(m.start.getTime());
    expect(table.getChild('weather')!.get(row)).toBe(m.weather);
    expect(table.getChild('distance')!.get(row)).toBe(m.distance);
  }
}

/** The episodes a query should find, computed from the metadata directly. */
const expected = (tags: number[], keep: (m: ReturnType<typeof metaOf>, tag: number) => boolean) => tags.filter((t) => keep(metaOf(t), t));

describe('EpisodePool: store, find, get', () => {
  it('stores episodes with their metadata and finds them by every query form', async () => {
    const dir = poolDir();
    const pool = await EpisodePool.open(dir, { schema: SCHEMA });
    const tags = range(40);
    const stored = await fill(pool, tags);
    expect(stored).toEqual(tags); // ids are given in order from 0
    const found = await pool.find();
    expect(ids(found)).toEqual(tags);
    expect(found[7]).toEqual({ id: 7, vehicle: 'v2', driver: 'd1', start: new Date(T0 + 7 * DAY), steps: 8, weather: 'rain', distance: 10.5 });

    const cases: [string, Parameters<EpisodePool['find']>[0], number[]][] = [
      ['equality', { vehicle: 'v3' }, expected(tags, (m) => m.vehicle === 'v3')],
      ['membership', { driver: ['d0', 'd2'] }, expected(tags, (m) => m.driver !== 'd1')],
      ['time range, both ends', { start: { from: new Date(T0 + 10 * DAY), to: T0 + 20 * DAY } }, range(10, 10)],
      ['time range, from only', { start: { from: T0 + 35 * DAY } }, range(5, 35)],
      ['time range, to only', { start: { to: new Date(T0 + 3 * DAY) } }, [0, 1, 2]],
      ['time equality', { start: new Date(T0 + 4 * DAY) }, [4]],
      ['declared field', { weather: 'rain' }, expected(tags, (m) => m.weather === 'rain')],
      ['declared number range', { distance: { from: 10, to: 30 } }, expected(tags, (m) => m.distance !== null && m.distance >= 10 && m.distance < 30)],
      ['null field', { distance: null as never }, expected(tags, (m) => m.distance === null)],
      ['ids', { id: [3, 9, 100] }, [3, 9]],
      ['id', { id: 12 }, [12]],
      ['combined', { vehicle: ['v1', 'v2'], driver: 'd1', start: { from: T0 + 5 * DAY } }, expected(tags, (m, t) => ['v1', 'v2'].includes(m.vehicle) && m.driver === 'd1' && t >= 5)],
      ['nothing matches', { vehicle: 'v9' }, []],
    ];
    for (const [what, query, want] of cases) {
      expect(ids(await pool.find(query)), what).toEqual(want);
      expect(await pool.count(query), what).toBe(want.length);
    }

    const one = await pool.get(13);
    expect(one!.meta.vehicle).toBe('v3');
    expect(one!.table.numRows).toBe(5 + (13 % 4));
    expect([...(one!.table.getChild('obs')!.get(2) as Float32Array)]).toEqual([13, 2, -13]);
    expect(await pool.get(999)).toBeUndefined();
    await pool.close();
  });

  it('refuses a query naming no field of the pool, or a range on text', async () => {
    const pool = await EpisodePool.open(poolDir(), { schema: SCHEMA });
    for (const query of [{ colour: 'red' }, { vehicle: { from: 'a' } }, { start: { after: 3 } }]) {
      const error = await rejection(pool.find(query as never));
      expect(isLaminateError(error, 'ERR_INVALID_OPTION')).toBe(true);
    }
    await pool.close();
  });

  it('takes episodes as Arrow Tables too, with the columns in any order', async () => {
    const pool = await EpisodePool.open(poolDir(), { schema: SCHEMA });
    const { obs, action, reward } = episode(3, 4);
    const obsType = new FixedSizeList(3, new Field('element', new Float32()));
    const obsVector = makeVector(makeData({ type: obsType, length: 4, nullCount: 0, child: makeData({ type: new Float32(), length: 12, nullCount: 0, data: obs }) }));
    const input = new Table({ reward: makeVector(reward), obs: obsVector, action: makeVector(action) });
    const id = await pool.store(input, metaOf(3));
    const got = await pool.get(id);
    expect(got!.table.schema.fields.map((f) => f.name)).toEqual(['obs', 'action', 'reward']);
    expect([...(got!.table.getChild('obs')!.get(3) as Float32Array)]).toEqual([3, 3, -3]);
    await pool.close();
  });
});

describe('EpisodePool: schema', () => {
  it('refuses an episode that does not match with ERR_SCHEMA naming the mismatch, and stores nothing', async () => {
    const dir = poolDir();
    const pool = await EpisodePool.open(dir, { schema: SCHEMA });
    await fill(pool, [0]);
    const segmentBytes = () => diskBytes(join(dir, 'pool%d', 'segment%d'));
    const before = segmentBytes();
    const good = episode(1, 5);
    const bad: [unknown, Record<string, unknown>, RegExp][] = [
      [{ obs: good.obs, action: good.action }, metaOf(1), /column "reward" \(Float32\) is missing/],
      [{ ...good, speed: new Float32Array(5) }, metaOf(1), /column "speed" is not in the pool's schema/],
      [{ ...good, action: new Int32Array(4) }, metaOf(1), /column "action" has 4 steps, the others 5/],
      [{ ...good, obs: new Float32Array(7) }, metaOf(1), /column "obs" holds 7 values, not a whole number of steps of 3/],
      [tableFromArrays({ obs: new Float32Array(5), action: good.action, reward: good.reward }), metaOf(1), /column "obs" is Float32 but the pool stores FixedSizeList\[3\]<Float32>/],
      [good, { ...metaOf(1), vehicle: undefined }, /metadata field "vehicle" \(utf8\) is missing/],
      [good, { ...metaOf(1), weather: 7 }, /metadata field "weather" should be a string, got 7/],
      [good, { ...metaOf(1), start: 'yesterday' }, /metadata field "start" should be a Date/],
      [good, { ...metaOf(1), colour: 'red' }, /metadata field "colour" is not in the pool's schema/],
    ];
    for (const [ep, m, message] of bad) {
      const error = await rejection(pool.store(ep, m));
      expect(isLaminateError(error, 'ERR_SCHEMA'), String(error)).toBe(true);
      expect(error.message).toMatch(message);
      expect(error.message).toMatch(/Nothing was stored/);
    }
    const wrongTable = tableFromArrays({ obs: new Float32Array(5), action: new Float64Array(5), reward: new Float32Array(5) });
    const error = await rejection(pool.store(wrongTable, metaOf(1)));
    expect(error.message).toMatch(/column "action" is Float64 but the pool stores Int32/);
    const empty = await rejection(pool.store(episode(1, 0), metaOf(1)));
    expect(isLaminateError(empty, 'ERR_VALUE_TYPE')).toBe(true);
    expect(pool.size).toBe(1);
    expect(segmentBytes()).toBe(before);
    expect(ids(await pool.find())).toEqual([0]);

    // Not refused: a Float64Array for a float32 column is cast (rounded to float32), not rejected.
    const precise = Float64Array.from([0.1, 1 / 3, 2, 1e-50, 3.4e38]);
    const id = await pool.store({ ...good, reward: precise }, metaOf(1));
    expect(id).toBe(1);
    const reward = (await pool.get(id))!.table.getChild('reward')!;
    expect(String(reward.type)).toBe('Float32');
    expect([...(reward.toArray() as Float32Array)]).toEqual([...precise].map(Math.fround));
    await pool.close();
  });

  it('names the problems of the episode and of its metadata in one ERR_SCHEMA', async () => {
    const pool = await EpisodePool.open(poolDir(), { schema: SCHEMA });
    const error = await rejection(pool.store({ ...episode(1, 3), brake: new Float32Array(3) }, { ...metaOf(1), driver: 4 }));
    expect(isLaminateError(error, 'ERR_SCHEMA')).toBe(true);
    expect(error.message).toMatch(/column "brake" is not in the pool's schema; metadata field "driver" should be a string, got 4/);
    await pool.close();
  });

  it('keeps the schema: reopening needs none, another one is ERR_SCHEMA, a new pool needs one', async () => {
    const dir = poolDir();
    await (await EpisodePool.open(dir, { schema: SCHEMA })).close();
    const again = await EpisodePool.open(dir);
    expect((await again.schema()).columns.map((c) => `${c.name}:${c.type}:${c.role}`)).toEqual(['obs:FixedSizeList[3]<Float32>:state', 'action:Int32:action', 'reward:Float32:reward']);
    expect(await again.columns('action')).toEqual(['action']);
    await again.close();
    const other = await rejection(EpisodePool.open(dir, { schema: { ...SCHEMA, columns: { ...SCHEMA.columns, reward: 'float64' } } }));
    expect(isLaminateError(other, 'ERR_SCHEMA')).toBe(true);
    expect(other.message).toMatch(/column "reward" is Float64, role state here but Float32, role reward in the pool/);
    const none = await rejection(EpisodePool.open(poolDir()));
    expect(isLaminateError(none, 'ERR_SCHEMA')).toBe(true);
    const reserved = await rejection(EpisodePool.open(poolDir(), { schema: { columns: { step: 'int32' }, metadata: { start: 'timestamp' }, time: 'start' } }));
    expect(isLaminateError(reserved, 'ERR_INVALID_OPTION')).toBe(true);
  });

  it('refuses stacks it cannot store episodes in, and fsync over a stack that does not fsync', async () => {
    const dir = poolDir();
    expect(() => new EpisodePool(msgpack(file(dir)) as never, { schema: SCHEMA })).toThrow(/msgpack\(\) under arrow\(\)/);
    expect(() => new EpisodePool(arrow(file(dir)), { schema: SCHEMA, fsync: true })).toThrow(/file\(dir, \{ fsync: true \}\)/);
    const careful = new EpisodePool(arrow(zstd(file(dir, { fsync: true }))), { schema: SCHEMA, fsync: true });
    await fill(careful, [0, 1]);
    await careful.close();
    const synced = await EpisodePool.open(dir, { fsync: true });
    expect(synced.size).toBe(2);
    await synced.close();
  });
});

describe('EpisodePool: metadata is the schema\'s declaration', () => {
  // A pool of robot runs: none of the fleet's fields, a time field of its own name.
  const ROBOTS = {
    columns: SCHEMA.columns,
    metadata: { robot: 'utf8', task: 'utf8', recorded: 'timestamp', success: 'bool', attempt: 'int32' },
    time: 'recorded',
  } as const;
  const run = (tag: number) => ({ robot: `arm-${tag % 3}`, task: ['pick', 'place'][tag % 2], recorded: new Date(T0 + tag * DAY), success: tag % 4 !== 0, attempt: tag % 5 });

  it('stores, finds and samples by the fields a schema declares, and by its own time field', async () => {
    const dir = poolDir();
    const pool = await EpisodePool.open(dir, { schema: ROBOTS });
    const tags = range(30);
    expect(await Promise.all(tags.map((tag) => pool.store(episode(tag, 4), run(tag))))).toEqual(tags);
    expect((await pool.get(7))!.meta).toEqual({ id: 7, steps: 4, robot: 'arm-1', task: 'place', recorded: new Date(T0 + 7 * DAY), success: true, attempt: 2 });
    const want = (keep: (m: ReturnType<typeof run>) => boolean) => tags.filter((t) => keep(run(t)));
    const cases: [Parameters<EpisodePool['find']>[0], number[]][] = [
      [{ robot: 'arm-2' }, want((m) => m.robot === 'arm-2')],
      [{ task: ['pick'], success: true }, want((m) => m.task === 'pick' && m.success)],
      [{ attempt: { from: 3 } }, want((m) => m.attempt >= 3)],
      [{ recorded: { from: new Date(T0 + 10 * DAY), to: T0 + 14 * DAY } }, [10, 11, 12, 13]],
      [{ recorded: new Date(T0 + 4 * DAY), robot: 'arm-1' }, [4]],
    ];
    for (const [query, ids] of cases) expect((await pool.find(query)).map((e) => e.id), JSON.stringify(query)).toEqual(ids);

    const table = await pool.sample(5, { robot: 'arm-0' }, { seed: 3 });
    expect(table.schema.fields.map((f) => `${f.name}:${f.type}`)).toEqual(['episode:Uint32', 'step:Int32', 'robot:Dictionary<Int32, Utf8>', 'task:Dictionary<Int32, Utf8>', 'recorded:Timestamp<MILLISECOND>', 'success:Bool', 'attempt:Int32', 'obs:FixedSizeList[3]<Float32>', 'action:Int32', 'reward:Float32']);
    expect(table.numRows).toBe(5 * 4);
    for (let row = 0; row < table.numRows; row++) {
      const tag = table.getChild('episode')!.get(row) as number;
      expect(table.getChild('robot')!.get(row)).toBe('arm-0');
      expect(table.getChild('recorded')!.get(row)).toBe(T0 + tag * DAY);
      expect(table.getChild('action')!.get(row)).toBe(tag);
    }
    await pool.close();

    // Reopened from its index: the time field still orders the episodes.
    const again = await EpisodePool.open(dir);
    expect((await again.schema()).time).toBe('recorded');
    expect((await again.find({ recorded: { to: T0 + 2 * DAY } })).map((e) => e.id)).toEqual([0, 1]);
    await again.close();
  });

  it('refuses fields the schema does not declare: ERR_SCHEMA on store, ERR_INVALID_OPTION in a query', async () => {
    const pool = await EpisodePool.open(poolDir(), { schema: ROBOTS });
    const stored = await rejection(pool.store(episode(1, 3), { ...run(1), vehicle: 'v1' }));
    expect(isLaminateError(stored, 'ERR_SCHEMA')).toBe(true);
    expect(stored.message).toMatch(/metadata field "vehicle" is not in the pool's schema \(declare it under schema.metadata\)/);
    for (const query of [{ vehicle: 'v1' }, { driver: ['d0'] }, { start: { from: T0 } }]) {
      const error = await rejection(pool.find(query));
      expect(isLaminateError(error, 'ERR_INVALID_OPTION'), JSON.stringify(query)).toBe(true);
      expect(error.message).toMatch(/its fields are id, robot, task, recorded, success, attempt/);
      expect(isLaminateError(await rejection(pool.sample(1, query)), 'ERR_INVALID_OPTION')).toBe(true);
    }
    expect(pool.size).toBe(0);
    await pool.close();
  });

  it('needs a time field: a declared timestamp every episode carries; reopening with another is ERR_SCHEMA', async () => {
    const badTimes = [
      { ...ROBOTS, time: 'start' }, // not declared
      { ...ROBOTS, time: 'attempt' }, // not a time
      { ...ROBOTS, metadata: { ...ROBOTS.metadata, recorded: { type: 'timestamp', nullable: true } } }, // may be left out
      { columns: ROBOTS.columns, metadata: ROBOTS.metadata }, // none
    ];
    for (const schema of badTimes) {
      const error = await rejection(EpisodePool.open(poolDir(), { schema: schema as never }));
      expect(isLaminateError(error, 'ERR_INVALID_OPTION'), JSON.stringify(schema)).toBe(true);
      expect(error.message).toMatch(/time names the metadata field that time-range queries use/);
    }
    const dir = poolDir();
    await (await EpisodePool.open(dir, { schema: { ...ROBOTS, metadata: { ...ROBOTS.metadata, finished: 'timestamp' } } })).close();
    const other = await rejection(EpisodePool.open(dir, { schema: { ...ROBOTS, metadata: { ...ROBOTS.metadata, finished: 'timestamp' }, time: 'finished' } }));
    expect(isLaminateError(other, 'ERR_SCHEMA')).toBe(true);
    expect(other.message).toMatch(/the time field is "finished" here but "recorded" in the pool/);
  });

  it('reads a pool written when vehicle, driver and start were built in, and goes on with it', async () => {
    const dir = poolDir();
    cpSync(join(HERE, 'fixtures', 'v1-pool'), dir, { recursive: true });
    // Written by the fixture's SCHEMA without vehicle, driver, start and time: episodes 0–3 of 3 steps, then episode 1 removed.
    const pool = await EpisodePool.open(dir, { schema: SCHEMA });
    expect(await pool.schema()).toMatchObject({ time: 'start', metadata: [{ name: 'vehicle' }, { name: 'driver' }, { name: 'start' }, { name: 'weather' }, { name: 'distance' }] });
    expect(await pool.find()).toEqual([0, 2, 3].map((tag) => ({ id: tag, steps: 3, ...metaOf(tag) })));
    expect(ids(await pool.find({ start: { from: T0 + 2 * DAY } }))).toEqual([2, 3]);
    expect(ids(await pool.find({ vehicle: 'v2' }))).toEqual([2]);
    checkRows(await pool.sample(3), (id) => id);
    expect(await pool.store(episode(4, 3), metaOf(4))).toBe(4);
    await pool.compact();
    expect(ids(await pool.find({ driver: 'd1' }))).toEqual([4]);
    checkRows(await pool.sample(4), (id) => id);
    await pool.close();
  });
});

describe('EpisodePool: sample', () => {
  it('returns one table: episode, step and metadata columns next to the timestep columns, every row right', async () => {
    const pool = await EpisodePool.open(poolDir(), { schema: SCHEMA });
    await fill(pool, range(30));
    const table = await pool.sample(8, undefined, { seed: 42 });
    expect(table.schema.fields.map((f) => `${f.name}:${f.type}`)).toEqual([
      'episode:Uint32',
      'step:Int32',
      'vehicle:Dictionary<Int32, Utf8>',
      'driver:Dictionary<Int32, Utf8>',
      'start:Timestamp<MILLISECOND>',
      'weather:Dictionary<Int32, Utf8>',
      'distance:Float64',
      'obs:FixedSizeList[3]<Float32>',
      'action:Int32',
      'reward:Float32',
    ]);
    const drawn = episodesOf(table);
    expect(drawn).toHaveLength(8);
    expect(table.numRows).toBe(drawn.reduce((n, id) => n + 5 + (id % 4), 0));
    expect(table.batches).toHaveLength(1); // every column one contiguous chunk
    checkRows(table, (id) => id);
    await pool.close();
  });

  it('never repeats an episode within a sample, and is reproducible with a seed', async () => {
    const pool = new EpisodePool(arrow(dict()), { schema: SCHEMA });
    await fill(pool, range(50));
    for (let seed = 0; seed < 200; seed++) {
      const drawn = episodesOf(await pool.sample(20, undefined, { seed }));
      expect(new Set(drawn).size).toBe(20);
    }
    const a = episodesOf(await pool.sample(10, { vehicle: ['v1', 'v2', 'v3'] }, { seed: 7 }));
    const b = episodesOf(await pool.sample(10, { vehicle: ['v1', 'v2', 'v3'] }, { seed: 7 }));
    const c = episodesOf(await pool.sample(10, { vehicle: ['v1', 'v2', 'v3'] }, { seed: 8 }));
    expect(a).toEqual(b);
    expect(a).not.toEqual(c);
    expect(a.every((id) => ['v1', 'v2', 'v3'].includes(metaOf(id).vehicle))).toBe(true);
    await pool.close();
  });

  it('gives every matching episode, in random order, when fewer than n match; none: a table with no rows', async () => {
    const pool = new EpisodePool(arrow(dict()), { schema: SCHEMA });
    await fill(pool, range(20));
    const few = await pool.sample(64, { driver: 'd1' }, { seed: 1 });
    const drawn = episodesOf(few);
    expect([...drawn].sort((x, y) => x - y)).toEqual(expected(range(20), (m) => m.driver === 'd1'));
    expect(drawn).not.toEqual([...drawn].sort((x, y) => x - y));
    checkRows(few, (id) => id);
    const none = await pool.sample(5, { vehicle: 'nobody' });
    expect(none.numRows).toBe(0);
    expect(none.schema.fields.map((f) => f.name)).toEqual(['episode', 'step', 'vehicle', 'driver', 'start', 'weather', 'distance', 'obs', 'action', 'reward']);
    expect((await pool.sample(0)).numRows).toBe(0);
    const error = await rejection(pool.sample(-1));
    expect(isLaminateError(error, 'ERR_INVALID_OPTION')).toBe(true);
    await pool.close();
  });

  it('is uniform: chi-square over 10,000 seeded draws, of single episodes and of pairs', async () => {
    const pool = new EpisodePool(arrow(dict()), { schema: SCHEMA });
    await fill(pool, range(26), () => 2);
    // 10,000 draws of one episode out of 20 (a query leaves 6 out), seeds 0…9999.
    const counts = new Map<number, number>();
    for (let seed = 0; seed < 10_000; seed++) {
      const [id] = episodesOf(await pool.sample(1, { id: range(20) }, { seed }));
      counts.set(id, (counts.get(id) ?? 0) + 1);
    }
    expect([...counts.keys()].sort((a, b) => a - b)).toEqual(range(20));
    // 19 degrees of freedom: P(χ² > 43.82) = 0.001 for a uniform draw.
    expect(chiSquare([...counts.values()], 10_000 / 20)).toBeLessThan(43.82);
    // 10,000 draws of 2 distinct out of 6: each of the 15 pairs equally likely (14 degrees of freedom, 36.12).
    const pairs = new Map<string, number>();
    for (let seed = 0; seed < 10_000; seed++) {
      const drawn = episodesOf(await pool.sample(2, { id: range(6, 20) }, { seed: 1_000_000 + seed }));
      expect(drawn[0]).not.toBe(drawn[1]);
      const key = drawn.sort((a, b) => a - b).join();
      pairs.set(key, (pairs.get(key) ?? 0) + 1);
    }
    expect(pairs.size).toBe(15);
    expect(chiSquare([...pairs.values()], 10_000 / 15)).toBeLessThan(36.12);
    await pool.close();
  });

  it('gives a uniform order: chi-square over the 6 orders of 3 episodes across 3,000 seeds', async () => {
    // Uniform subsets are not enough: a sample is used in the order it comes. A shuffle that never
    // leaves an element in place (Sattolo's) makes only 2 of the 6 orders of 3.
    const pool = new EpisodePool(arrow(dict()), { schema: SCHEMA });
    await fill(pool, range(8), () => 2);
    const orders = new Map<string, number>();
    for (let seed = 0; seed < 3_000; seed++) {
      const drawn = episodesOf(await pool.sample(3, { id: [2, 5, 7] }, { seed: 2_000_000 + seed }));
      const key = drawn.join();
      orders.set(key, (orders.get(key) ?? 0) + 1);
    }
    expect([...orders.keys()].sort()).toEqual(['2,5,7', '2,7,5', '5,2,7', '5,7,2', '7,2,5', '7,5,2']);
    // 5 degrees of freedom: P(χ² > 20.52) = 0.001 for a uniform order.
    expect(chiSquare([...orders.values()], 3_000 / 6)).toBeLessThan(20.52);
    // And each episode is first, second and third equally often (2 degrees of freedom each, 13.82).
    for (const id of [2, 5, 7]) {
      const atPosition = [0, 1, 2].map((position) => [...orders].filter(([key]) => key.split(',')[position] === String(id)).reduce((n, [, c]) => n + c, 0));
      expect(chiSquare(atPosition, 3_000 / 3), `episode ${id}`).toBeLessThan(13.82);
    }
    await pool.close();
  });
});

describe('EpisodePool: iterate, remove, compact, reopen', () => {
  it('iterates over the matching episodes one by one, in id order', async () => {
    const pool = await EpisodePool.open(poolDir(), { schema: SCHEMA });
    await fill(pool, range(25));
    const seen: number[] = [];
    for await (const { meta: m, table } of pool.iterate({ weather: 'sun' })) {
      seen.push(m.id);
      expect(table.numRows).toBe(m.steps);
      expect(table.getChild('action')!.get(0)).toBe(m.id);
    }
    expect(seen).toEqual(expected(range(25), (m) => m.weather === 'sun'));
    await pool.close();
  });

  it('removes episodes from the index and the disk; a reopened pool holds exactly the rest', async () => {
    const dir = poolDir();
    const pool = await EpisodePool.open(dir, { schema: SCHEMA, segmentBytes: 1500 });
    await fill(pool, range(10)); // one commit, one segment
    for (const tag of range(30, 10)) await fill(pool, [tag]); // one commit each: a new segment past 1500 bytes
    const segments = join(dir, 'pool%d', 'segment%d');
    const files = readdirSync(segments).length;
    expect(files).toBeGreaterThan(2);
    expect(await pool.remove({ start: { to: T0 + 10 * DAY } })).toBe(10); // the first commit: whole segments
    expect(readdirSync(segments).length).toBeLessThan(files);
    expect(await pool.remove({ vehicle: 'v0' })).toBe(6);
    expect(await pool.remove({ vehicle: 'v0' })).toBe(0);
    const left = expected(range(30, 10), (m) => m.vehicle !== 'v0');
    expect(ids(await pool.find())).toEqual(left);
    expect(await pool.get(10)).toBeUndefined();
    const before = diskBytes(segments);
    const { bytes } = await pool.compact();
    expect(bytes).toBeGreaterThan(0);
    expect(diskBytes(segments)).toBeLessThanOrEqual(before - bytes);
    checkRows(await pool.sample(100), (id) => id);
    await pool.close();

    const again = await EpisodePool.open(dir);
    expect(ids(await again.find())).toEqual(left);
    expect(episodesOf(await again.sample(100)).sort((a, b) => a - b)).toEqual(left);
    checkRows(await again.sample(100), (id) => id);
    // New ids continue after the removed ones, after compaction too.
    expect(await again.store(episode(40, 3), metaOf(40))).toBe(40);
    expect(await again.remove({})).toBe(left.length + 1);
    expect(readdirSync(segments)).toEqual([]);
    await again.close();
  });

  it('skips an index that ends in a torn frame, and cuts it off before the next append', async () => {
    const dir = poolDir();
    const pool = await EpisodePool.open(dir, { schema: SCHEMA });
    await fill(pool, [0, 1]);
    await pool.close();
    // What a writer killed in the middle of an index append leaves: part of a frame.
    const raw = file(dir);
    await raw.append([[['pool', 'index', '0'], Buffer.from([200, 0, 0, 0, 0, 0, 0, 0, 1, 2, 3])]]);
    await raw.close();
    const again = await EpisodePool.open(dir);
    expect(ids(await again.find())).toEqual([0, 1]);
    expect(await again.store(episode(2, 4), metaOf(2))).toBe(2);
    await again.close();
    const third = await EpisodePool.open(dir);
    expect(ids(await third.find())).toEqual([0, 1, 2]);
    checkRows(await third.sample(3), (id) => id);
    await third.close();
  });

  it('keeps its index and episodes as laminate data that the plain layers read', async () => {
    const dir = poolDir();
    const pool = await EpisodePool.open(dir, { schema: SCHEMA });
    await fill(pool, [0, 1, 2]);
    await pool.close();
    const index = msgpack(zstd(file(dir)), { records: true });
    const records = (await index.get(['pool', 'index', '0'])) as { op: string; id: number; fields: { vehicle: string }; segment: string }[];
    expect(records.map((r) => [r.op, r.id, r.fields.vehicle])).toEqual([
      ['add', 0, 'v0'],
      ['add', 1, 'v1'],
      ['add', 2, 'v2'],
    ]);
    await index.close();
    const tables = arrow(zstd(file(dir)));
    const segment = await tables.get(['pool', 'segment', records[0].segment]);
    expect(segment.numRows).toBe(5 + 6 + 7);
    expect([...segment.getChild('action')!.toArray()]).toEqual([0, 0, 0, 0, 0, 1, 1, 1, 1, 1, 1, 2, 2, 2, 2, 2, 2, 2]);
    await tables.close();
  });
});

describe('EpisodePool: processes', () => {
  const node = (args: string[]) => spawn(process.execPath, ['--conditions=source', '--import', 'tsx', ...args], { cwd: PACKAGE, stdio: ['ignore', 'pipe', 'pipe'] });
  const finished = (child: ChildProcess) =>
    new Promise<{ out: string; code: number | null; signal: NodeJS.Signals | null; err: string }>((resolve) => {
      let out = '';
      let err = '';
      child.stdout!.on('data', (d: Buffer) => (out += d));
      child.stderr!.on('data', (d: Buffer) => (err += d));
      child.on('exit', (code, signal) => resolve({ out, code, signal, err }));
    });
  const acknowledged = (out: string) =>
    out
      .split('\n')
      .filter((line) => /^\d+ \d+$/.test(line))
      .map((line) => line.split(' ').map(Number) as [number, number]);

  /** Checks that iterate() yields every episode of `tagOfId` once, each whole, and no other. */
  async function checkAll(pool: EpisodePool, tagOfId: Map<number, number>): Promise<void> {
    const seen: number[] = [];
    for await (const { meta: m, table } of pool.iterate()) {
      const tag = tagOfId.get(m.id);
      expect(tag, `episode ${m.id}`).toBeDefined();
      expect(m.vehicle).toBe(metaOf(tag!).vehicle);
      expect(table.getChild('action')!.get(0)).toBe(tag);
      seen.push(m.id);
    }
    // Without this, an iterate() that yields nothing (or skips episodes) would pass.
    expect(seen).toEqual([...tagOfId.keys()].sort((a, b) => a - b));
  }

  for (const mode of ['file', 'client'] as const) {
    it(`two processes store into one pool at once (${mode === 'file' ? 'through the directory lock' : 'through client() and serve()'})`, async () => {
      const dir = poolDir();
      await (await EpisodePool.open(dir, { schema: SCHEMA })).close();
      // serve() shares the bytes store; the writers stack arrow(zstd(…)) on their client(), as EpisodePool.open does on file().
      const served = mode === 'client' ? file(dir) : undefined;
      const shared = served ? await serve(served) : undefined;
      const where = shared ? shared.address : dir;
      const runs = await Promise.all([finished(node(['test/fixtures/writer.ts', mode, where, '0', '150'])), finished(node(['test/fixtures/writer.ts', mode, where, '1000', '150']))]);
      await shared?.close();
      await served?.close();
      for (const run of runs) expect(run.code, run.err).toBe(0);
      const pairs = runs.flatMap((run) => acknowledged(run.out));
      expect(pairs).toHaveLength(300);
      const tagOfId = new Map(pairs.map(([tag, id]) => [id, tag]));
      expect(tagOfId.size).toBe(300); // no id given twice
      const pool = await EpisodePool.open(dir);
      expect(pool.size).toBe(300);
      await checkAll(pool, tagOfId);
      checkRows(await pool.sample(300), (id) => tagOfId.get(id)!);
      await pool.close();
    });
  }

  it('a writer SIGKILLed between writing episodes and indexing them leaves no index entry without its data', async () => {
    const dir = poolDir();
    await (await EpisodePool.open(dir, { schema: SCHEMA })).close();
    // The child dies at its 6th index append: 5 episodes indexed, the 6th written but not indexed.
    const run = await finished(node(['test/fixtures/crash.ts', dir, '6']));
    expect(run.signal).toBe('SIGKILL');
    const pairs = acknowledged(run.out);
    expect(pairs.map(([tag]) => tag)).toEqual([0, 1, 2, 3, 4]);
    const segments = join(dir, 'pool%d', 'segment%d');
    const orphaned = diskBytes(segments);
    const pool = await EpisodePool.open(dir);
    expect(ids(await pool.find())).toEqual([0, 1, 2, 3, 4]);
    const tagOfId = new Map(pairs.map(([tag, id]) => [id, tag]));
    await checkAll(pool, tagOfId);
    // The pool goes on; compact() deletes the written-but-unindexed bytes with the rest of what no entry names.
    expect(await pool.store(episode(5, 12), metaOf(5))).toBe(5);
    await pool.remove({ id: 0 });
    await pool.compact();
    expect(diskBytes(segments)).toBeLessThan(orphaned);
    expect(ids(await pool.find())).toEqual([1, 2, 3, 4, 5]);
    await pool.close();
  });

  it('a writer SIGKILLed at any moment: every acknowledged episode is there, and every indexed one reads whole', async () => {
    const dir = poolDir();
    await (await EpisodePool.open(dir, { schema: SCHEMA })).close();
    const child = node(['test/fixtures/writer.ts', 'file', dir, '0', '1000000']);
    const done = finished(child);
    await new Promise<void>((resolve) => {
      let lines = 0;
      child.stdout!.on('data', (d: Buffer) => {
        lines += String(d).split('\n').length - 1;
        if (lines >= 300) resolve();
      });
    });
    child.kill('SIGKILL');
    const run = await done;
    expect(run.signal).toBe('SIGKILL');
    const pairs = acknowledged(run.out);
    expect(pairs.length).toBeGreaterThanOrEqual(300);
    const pool = await EpisodePool.open(dir);
    const present = new Set(ids(await pool.find()));
    for (const [, id] of pairs) expect(present.has(id), `acknowledged episode ${id}`).toBe(true);
    // Episodes indexed but not yet acknowledged when the writer died are whole too: ids follow tags in this writer.
    await checkAll(pool, new Map([...present].map((id) => [id, id])));
    expect(await pool.store(episode(7, 3), metaOf(7))).toBe(Math.max(...present) + 1);
    await pool.close();
  });
});

function episodesOf(table: Table): number[] {
  const out: number[] = [];
  const column = table.getChild('episode')!;
  for (let row = 0; row < table.numRows; row++) {
    const id = column.get(row) as number;
    if (out[out.length - 1] !== id) out.push(id);
  }
  return out;
}

function chiSquare(counts: number[], expectedCount: number): number {
  return counts.reduce((sum, c) => sum + (c - expectedCount) ** 2 / expectedCount, 0);
}

function diskBytes(dir: string): number {
  if (!existsSync(dir)) return 0;
  let total = 0;
  for (const name of readdirSync(dir)) total += statSync(join(dir, name)).size;
  return total;
}
