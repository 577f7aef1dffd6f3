/**
 * What the pool refuses instead of storing wrong data: elements of another
 * kind in a column, times a Date cannot hold, a seed that is no number.
 * Each refusal stores nothing.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { EpisodePool } from '@laminate/pool';
import { rejection, tempDirs } from '@laminate/core/testing';
import { SCHEMA, episode, metaOf } from './fixtures/episodes.js';

const tempDir = tempDirs('laminate-pool-validation-'); // before the afterEach below: the pools close, then their directories go
const pools: EpisodePool[] = [];
afterEach(async () => {
  for (const pool of pools.splice(0)) await pool.close();
});

async function open(): Promise<EpisodePool> {
  const pool = await EpisodePool.open(tempDir(), { schema: SCHEMA });
  pools.push(pool);
  return pool;
}

describe('EpisodePool refuses values of the wrong kind', () => {
  it('a string in a float32 column, a fraction in an int32 column, a number where a string is: ERR_SCHEMA naming the column and index', async () => {
    const pool = await open();
    const cases: [Record<string, unknown>, string][] = [
      [{ ...episode(1, 3), reward: [0, 'abc', 2] }, 'column "reward" holds "abc" at index 1, which is not a Float32 value'],
      [{ ...episode(1, 3), action: [1, 1.5, 1] }, 'column "action" holds 1.5 at index 1, which is not a Int32 value'],
      [{ ...episode(1, 2), obs: [1, 2, 3, 4, true, 6] }, 'column "obs" holds true at index 4, which is not a Float32 value'],
    ];
    for (const [bad, message] of cases) {
      const error = await rejection(pool.store(bad, metaOf(1)));
      expect(error.code).toBe('ERR_SCHEMA');
      expect(error.message).toContain(message);
    }
    // Plain arrays of the right kind, with nulls for missing values, are still taken.
    const id = await pool.store({ ...episode(2, 3), reward: [0.5, null, 2] }, metaOf(2));
    expect(await pool.find({})).toHaveLength(1);
    const got = await pool.get(id);
    expect([...got!.table.getChild('reward')!.toArray()]).toEqual([0.5, 0, 2]);
    expect(got!.table.getChild('reward')!.get(1)).toBe(null);
  });

  it('a time a Date cannot hold: ERR_SCHEMA, and find() only ever returns valid Dates', async () => {
    const pool = await open();
    for (const start of [1e20, -1e20, Number.NaN, Number.POSITIVE_INFINITY, new Date(Number.NaN)]) {
      const error = await rejection(pool.store(episode(1, 2), { ...metaOf(1), start }));
      expect(error.code).toBe('ERR_SCHEMA');
      expect(error.message).toContain('start');
    }
    await pool.store(episode(2, 2), { ...metaOf(2), start: 8.64e15 });
    const found = await pool.find({});
    expect(found).toHaveLength(1);
    expect((found[0].start as Date).getTime()).toBe(8.64e15);
  });

  it('a seed that is not a finite number: ERR_INVALID_OPTION', async () => {
    const pool = await open();
    await pool.store(episode(1, 2), metaOf(1));
    for (const seed of [Number.NaN, Number.POSITIVE_INFINITY, '7' as never]) {
      const error = await rejection(pool.sample(1, undefined, { seed }));
      expect(error.code).toBe('ERR_INVALID_OPTION');
      expect(error.message).toContain('seed must be a finite number');
    }
    expect((await pool.sample(1, undefined, { seed: 7 })).numRows).toBe(2);
  });
});
