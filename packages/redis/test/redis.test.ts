import { randomUUID } from 'node:crypto';
import { open } from '@laminate/core';
import { rejection } from '@laminate/core/testing';
import { type RedisStore, redis } from '@laminate/redis';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { checkProducers } from './fixtures/check.js';
import { ReplyCuttingProxy } from './fixtures/proxy.js';
import { singleServer } from './fixtures/servers.js';

const server = await singleServer();
afterAll(() => server.stop());

const stores: RedisStore[] = [];
afterEach(async () => {
  for (const store of stores.splice(0)) await store.close();
});
/** A store in a namespace of its own, closed after the test. */
function store(namespace: string = randomUUID(), opts: Parameters<typeof redis>[1] = {}, url = server.url): RedisStore {
  const made = redis(`${url}/${namespace}`, opts);
  stores.push(made);
  return made;
}
const text = (bytes: Uint8Array) => Buffer.from(bytes).toString();

describe('redis()', () => {
  it('keeps namespaces apart: keys() and drop() see only their own, and the hash tag is the key', async () => {
    const a = store('ns-a');
    const b = store('ns:b*{x}');
    await a.append({ shared: Buffer.from('a'), 'only-a': Buffer.from('1') });
    await b.append({ shared: Buffer.from('b'), 'we{ir}d:*': Buffer.from('2') });
    await b.iset('meta', Buffer.from('m'));
    expect((await a.keys()).sort()).toEqual(['only-a', 'shared']);
    expect((await b.keys()).sort()).toEqual(['shared', 'we{ir}d:*']);
    const names = server.nodes[0].cli('--scan').trim().split('\n').sort();
    expect(names).toContain('lam:ns-a:{kshared}:d');
    expect(names).toContain('lam:ns%3Ab%2A%7Bx%7D:{kwe%7Bir%7Dd%3A%2A}:d');
    await b.drop();
    expect(await b.keys()).toEqual([]);
    expect(text(await b.iget('meta'))).toBe('');
    expect(text(await a.get('shared'))).toBe('a');
    // Only withLock's fencing counter stays (drop ran under the lock): its tokens must keep growing.
    expect(server.nodes[0].cli('--scan', '--pattern', 'lam:ns%3Ab*').trim()).toBe('lam:ns%3Ab%2A%7Bx%7D:{lock}:fence');
  });

  it('splits a key longer than segmentBytes into segments, and reads whole values, ranges, pops and deletes them', async () => {
    const s = store(undefined, { segmentBytes: 1000 });
    const big = Buffer.alloc(3500, 'x');
    for (let i = 0; i < big.length; i++) big[i] = 97 + (i % 26);
    await s.append({ k: Buffer.from('head|') });
    await s.append({ k: big, small: Buffer.from('s') });
    await s.append([['k', Buffer.from('|tail')], ['k', Buffer.alloc(0)]]);
    const whole = Buffer.concat([Buffer.from('head|'), big, Buffer.from('|tail')]);
    expect(Buffer.compare(Buffer.from(await s.get('k')), whole)).toBe(0);
    expect(server.nodes[0].cli('EXISTS', `lam:${s.settings.namespace}:{kk}:d:3`).trim()).toBe('1');
    const [middle, end, none] = await s.readRanges([{ key: 'k', offset: 990, length: 1100 }, { key: 'k', offset: whole.length - 7, length: Infinity }, { key: 'missing', offset: 0, length: 5 }]);
    expect(Buffer.compare(Buffer.from(middle), whole.subarray(990, 2090))).toBe(0);
    expect(text(end)).toBe(whole.subarray(whole.length - 7).toString());
    expect(none.byteLength).toBe(0);
    expect(Buffer.compare(Buffer.from(await s.pop('k')), whole)).toBe(0);
    expect(server.nodes[0].cli('--scan', '--pattern', `lam:${s.settings.namespace}:{kk}:d*`).trim()).toBe('');
    await s.append({ k: Buffer.from('again') });
    expect(text(await s.get('k'))).toBe('again');
  });

  it('applies every append once through a proxy that cuts the connection after Redis executed the commands', async () => {
    const proxy = await ReplyCuttingProxy.start(server.nodes[0].port, 3);
    try {
      const s = store(undefined, {}, proxy.url);
      const count = 2000;
      // Waves of 50 calls in flight: many replies, so many cuts.
      for (let wave = 0; wave < count; wave += 50) {
        const calls: Promise<void>[] = [];
        for (let i = wave; i < wave + 50; i++) calls.push(s.append({ [`k${i % 10}`]: Buffer.from(`0:${i}|`) }));
        await Promise.all(calls);
      }
      expect(proxy.cuts).toBeGreaterThan(5);
      const reader = store(s.settings.namespace);
      const result = checkProducers(await reader.getMany(Array.from({ length: 10 }, (_, k) => `k${k}`)), 1, count);
      expect(result).toEqual({ missing: 0, duplicated: 0, outOfOrder: 0 });
    } finally {
      await proxy.close();
    }
  });

  it('keeps the first iset value across stores (SET NX)', async () => {
    const ns = randomUUID();
    const [a, b] = [store(ns), store(ns)];
    await Promise.all([a.iset('dtype', Buffer.from('f8')), b.iset('dtype', Buffer.from('i4'))]);
    const first = text(await a.iget('dtype'));
    expect(['f8', 'i4']).toContain(first);
    expect(text(await b.iget('dtype'))).toBe(first);
  });

  it('makes withLock sections exclusive between stores, and a crashed holder’s lock expires', async () => {
    const ns = randomUUID();
    const [a, b] = [store(ns), store(ns, { lockTtlMs: 300 })];
    const events: string[] = [];
    const section = (s: RedisStore, name: string) =>
      s.withLock(async () => {
        events.push(`${name} in`);
        await new Promise((r) => setTimeout(r, 400));
        events.push(`${name} out`);
      });
    await Promise.all([section(a, 'a'), section(b, 'b')]);
    expect([events.join(','), events.join(',')]).toContain(events[0] === 'a in' ? 'a in,a out,b in,b out' : 'b in,b out,a in,a out');
    // A holder that never releases (a process that died): the lock's ttl frees it.
    server.nodes[0].cli('SET', `lam:${ns}:{lock}`, 'dead-holder', 'PX', '300');
    const started = Date.now();
    await b.withLock(async () => undefined);
    expect(Date.now() - started).toBeGreaterThan(150);
  });

  it('describes itself without credentials, in the short form too, and says what is wrong with a bad target', async () => {
    const s = redis('redis://me:hunter2@127.0.0.1:6379/ns-x', { lockTtlMs: 2000 });
    stores.push(s);
    expect(s.describe()).toEqual({ type: 'redis', url: 'redis://127.0.0.1:6379/ns-x', lockTtlMs: 2000 });
    const c = open({ type: 'redis', cluster: ['redis://10.0.0.1:7000', 'redis://10.0.0.2:7000'], namespace: 'p' }) as RedisStore;
    stores.push(c);
    expect(c.describe()).toEqual({ type: 'redis', cluster: ['redis://10.0.0.1:7000', 'redis://10.0.0.2:7000'], namespace: 'p' });
    expect(() => redis('http://x')).toThrow(/redis:\/\/127\.0\.0\.1:6379\/my-namespace/);
    expect(() => redis('redis://h/a', { namespace: 'b' })).toThrow(/give it once/);
    const unreachable = store('x', { connectTimeoutMs: 200 }, 'redis://127.0.0.1:1');
    const error = await rejection(unreachable.append({ a: Buffer.from('x') }));
    expect(error.code).toBe('ERR_CONNECTION');
    expect(error.message).toContain('connectTimeoutMs');
  });

  it('refuses an append the replicas did not confirm with ERR_NOT_REPLICATED (no replica here)', async () => {
    const s = store(undefined, { waitReplicas: 1, waitTimeoutMs: 50 });
    const error = await rejection(s.append({ a: Buffer.from('x') }));
    expect(error.code).toBe('ERR_NOT_REPLICATED');
    expect(text(await s.get('a'))).toBe('x');
  });
});
