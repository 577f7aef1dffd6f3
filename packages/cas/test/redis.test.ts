/**
 * cas() and catalog() over redis(), on a redis-server this file starts: the
 * same objects, checks, records and gc() as over a directory.
 */
import { Readable } from 'node:stream';
import { rejection } from '@laminate/core/testing';
import { afterAll, describe, expect, it } from 'vitest';
import { redis } from '../../redis/src/index.js';
import { singleServer } from '../../redis/test/fixtures/servers.js';
import { cas, catalog, sha256 } from '../src/index.js';

const server = await singleServer();
const stores: ReturnType<typeof redis>[] = [];
afterAll(async () => {
  for (const store of stores) await store.close().catch(() => undefined);
  await server.stop();
});

function opened(namespace: string): ReturnType<typeof redis> {
  const store = redis(`${server.url}/${namespace}`);
  stores.push(store);
  return store;
}

describe('cas() and catalog() over redis()', () => {
  it('puts once, reads back checked, refuses a damaged object, and gc() keeps only what records name', async () => {
    const store = opened('cas-objects');
    const objects = cas(store);
    const large = Buffer.alloc(10 << 20, 'redis ');
    const id = await objects.put(Readable.from([large.subarray(0, 3 << 20), large.subarray(3 << 20)]));
    expect(await objects.put(large)).toBe(id);
    expect(id).toBe(sha256(large));
    expect(Buffer.from(await objects.get(id)).equals(large)).toBe(true);
    const range: Uint8Array[] = [];
    for await (const chunk of objects.open(id, { start: 5, end: 9_000_000 })) range.push(chunk);
    expect(Buffer.concat(range).equals(large.subarray(5, 9_000_000))).toBe(true);
    // One copy of the bytes: the second put's were dropped.
    expect((await store.keys()).filter((key) => Array.isArray(key) && key[1] === 'data')).toHaveLength(1);

    // Damage: an object whose bytes gained one (a record says how many there are).
    const [dataKey] = (await store.keys()).filter((key) => Array.isArray(key) && key[1] === 'data');
    await store.append([[dataKey, Buffer.from('!')]]);
    expect((await rejection(objects.get(id))).code).toBe('ERR_CORRUPT');

    const cat = catalog(opened('cas-catalog'));
    const ds = await cat.registerDataset({ menu: 'm', config: 'c' });
    const job = await cat.newJob(ds);
    const kept = await cat.registerContent(Buffer.from('kept'), { kind: 'log', dataset: ds, job });
    await cat.objects.put(Buffer.from('dropped'));
    expect(await cat.gc()).toEqual({ objects: 1, partial: 0 });
    expect(await cat.objects.ids()).toEqual([kept]);
    expect((await catalog(opened('cas-catalog')).list({ dataset: ds })).map((r) => r.id)).toEqual([kept]);
  }, 60_000);
});
