import { describe, expect, it } from 'vitest';
import { dict, file } from '@laminate/core';
import { rejection, tempDirs } from '@laminate/core/testing';
import type { Table } from 'apache-arrow';
import { tables } from '../src/index.js';
import { rows } from './helpers.js';

const tmp = tempDirs('laminate-tables-stream-');
const HOUR = 3_600_000;

/** A clock the test moves by hand. */
function clock(start: number) {
  let now = start;
  return { now: () => now, advance: (ms: number) => (now += ms) };
}

describe('stream', () => {
  it('create validates shards and retention; write needs a created stream', async () => {
    const t = tables(dict());
    expect((await rejection(t.create('stream', 's', { shards: 0 }))).code).toBe('ERR_INVALID_OPTION');
    expect((await rejection(t.create('stream', 's', { retentionHours: -1 }))).code).toBe('ERR_INVALID_OPTION');
    expect((await rejection(t.write('stream', 's', [{ data: 'x' }]))).code).toBe('ERR_NOT_FOUND');
    await t.create('stream', 's', { shards: 2 });
    await t.create('stream', 's', { shards: 2 });
    expect((await rejection(t.create('stream', 's', { shards: 3 }))).code).toBe('ERR_INVALID_OPTION');
    expect((await rejection(t.read('stream', 's', { shard: 2 }))).code).toBe('ERR_INVALID_OPTION');
    expect((await rejection(t.read('stream', 's', { seek: 'middle' as never }))).code).toBe('ERR_INVALID_OPTION');
    expect((await rejection(t.read('stream', 's', { seek: 'sequence' }))).code).toBe('ERR_INVALID_OPTION');
    expect((await rejection(t.read('stream', 's', { seek: 'time' }))).code).toBe('ERR_INVALID_OPTION');
    expect((await rejection(t.execute('stream', 's', 'put', {}))).code).toBe('ERR_INVALID_OPTION');
  });

  it('sends one partition key to one shard, numbering records per shard', async () => {
    const t = tables(dict());
    await t.create('stream', 'events', { shards: 4 });
    await t.write('stream', 'events', [{ data: 'a1' }, { data: 'a2' }], { partitionKey: 'user-a' });
    await t.write('stream', 'events', [
      { data: 'a3', partition: 'user-a' },
      { data: 'b1', partition: 'user-b', clientInfo: 'web' },
    ]);
    const placed = await t.execute('stream', 'events', 'put', { data: 'a4', partition: 'user-a', clientInfo: 'cli' });
    const all = rows(await t.read('stream', 'events'));
    const a = all.filter((r) => r.partition === 'user-a');
    expect(a.map((r) => r.data)).toEqual(['a1', 'a2', 'a3', 'a4']);
    expect(new Set(a.map((r) => r.shard)).size).toBe(1);
    expect(a.map((r) => r.sequence)).toEqual([0, 1, 2, 3]);
    expect(placed).toEqual({ shard: a[0].shard, sequence: 3 });
    expect(a[3].clientInfo).toBe('cli');
    expect(all.find((r) => r.data === 'b1')?.clientInfo).toBe('web');
    // Rows without a data column are stored as their JSON.
    await t.write('stream', 'events', [{ user: 'c', n: 1 }], { partitionKey: 'user-a' });
    const last = rows(await t.read('stream', 'events', { seek: 'latest', shard: a[0].shard as number }));
    expect(last).toHaveLength(1);
    expect(JSON.parse(last[0].data as string)).toEqual({ user: 'c', n: 1 });
  });

  it('seeks to the earliest record, the latest, a sequence number or a time', async () => {
    const time = clock(Date.UTC(2026, 0, 31));
    const t = tables(dict(), { now: time.now });
    await t.create('stream', 'log', { shards: 1, retentionHours: 24 });
    for (let i = 0; i < 6; i++) {
      await t.execute('stream', 'log', 'put', { data: `r${i}` });
      time.advance(10 * 60_000);
    }
    const data = (table: Table) => rows(table).map((r) => r.data);
    expect(data(await t.read('stream', 'log', { seek: 'earliest', shard: 0 }))).toEqual(['r0', 'r1', 'r2', 'r3', 'r4', 'r5']);
    expect(data(await t.read('stream', 'log', { seek: 'latest', shard: 0 }))).toEqual(['r5']);
    expect(data(await t.read('stream', 'log', { seek: 'sequence', sequence: 4, shard: 0 }))).toEqual(['r4', 'r5']);
    expect(data(await t.read('stream', 'log', { seek: 'seq', sequence: 99 }))).toEqual([]);
    // now is 60 minutes after r0; records at or after now-25m are r4 (20 min ago) and r5 (10 min ago).
    expect(data(await t.read('stream', 'log', { seek: 'time', start: 'now-25m' }))).toEqual(['r4', 'r5']);
    const projected = await t.read('stream', 'log', { seek: 'latest', columns: ['data', 'sequence'] });
    expect(rows(projected)).toEqual([{ data: 'r5', sequence: 5 }]);
    expect((await rejection(t.read('stream', 'log', { columns: ['body'] }))).code).toBe('ERR_SCHEMA');
    const chunks: string[][] = [];
    for await (const chunk of t.read('stream', 'log', { iterator: true, chunkRows: 4 })) chunks.push(data(chunk) as string[]);
    expect(chunks).toEqual([
      ['r0', 'r1', 'r2', 'r3'],
      ['r4', 'r5'],
    ]);
  });

  it('hides records past retention and trims them away; sequence numbers keep increasing', async () => {
    const dir = tmp();
    const store = file(dir);
    const time = clock(Date.UTC(2026, 0, 31));
    const t = tables(store, { now: time.now });
    await t.create('stream', 'short', { shards: 1, retentionHours: 1 });
    await t.execute('stream', 'short', 'put', { data: 'old' });
    time.advance(2 * HOUR);
    await t.execute('stream', 'short', 'put', { data: 'new' });
    expect(rows(await t.read('stream', 'short')).map((r) => [r.data, r.sequence])).toEqual([['new', 1]]);
    expect(await t.execute('stream', 'short', 'trim')).toEqual({ dropped: 1 });
    expect(await t.execute('stream', 'short', 'trim')).toEqual({ dropped: 0 });
    // A new process (a new tables() on the directory) continues the numbering.
    const again = file(dir);
    const t2 = tables(again, { now: time.now });
    expect(await t2.execute('stream', 'short', 'put', { data: 'newer' })).toEqual({ shard: 0, sequence: 2 });
    await again.close();
    expect(rows(await t.read('stream', 'short')).map((r) => r.data)).toEqual(['new', 'newer']);
    await t.delete('stream', 'short');
    expect(await store.keys()).toEqual([]);
    expect((await rejection(t.read('stream', 'short'))).code).toBe('ERR_NOT_FOUND');
    await store.close();
  });
});
