/**
 * follow() and seal() over redis(), on a single server and on a 3-master
 * cluster, with real processes (fixtures/streamer.ts): a producer and two
 * followers; two processes racing to seal; followers woken by the key's
 * shard channel; followers through killed connections.
 */
import type { ChildProcess } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { buffer, dict, msgpack } from '@laminate/core';
import { rejection } from '@laminate/core/testing';
import { type RedisStore, redis } from '@laminate/redis';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { type Fixture, spawnFixture } from '../../core/test/fixtures/spawn.js';
import { type Servers, cluster, singleServer, sleep } from './fixtures/servers.js';

const STREAMER = join(dirname(fileURLToPath(import.meta.url)), 'fixtures', 'streamer.ts');

const [single, masters] = await Promise.all([singleServer(), cluster(3)]);
afterAll(async () => {
  await Promise.all([single.stop(), masters.stop()]);
});

const stores: { close(): Promise<void> }[] = [];
const children: ChildProcess[] = [];
afterEach(async () => {
  for (const child of children.splice(0)) if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  for (const store of stores.splice(0)) await store.close();
});

const targets: [string, Servers, (namespace: string) => RedisStore][] = [
  ['one server', single, (namespace) => redis(`${single.url}/${namespace}`)],
  ['a 3-master cluster', masters, (namespace) => redis({ cluster: masters.urls, namespace })],
];

const text = (bytes: Uint8Array) => Buffer.from(bytes).toString();
const values = (name: string, from: number, to: number) => Array.from({ length: to - from }, (_, i) => `${name}:${from + i}`);
const streamer = (args: string[]): Fixture => spawnFixture(STREAMER, args, children);

/** Resolves once a line starting with `start` was printed; rejects if the process ends first. */
async function line(fixture: Fixture, start: string): Promise<string> {
  for (;;) {
    const found = fixture.lines.find((l) => l.startsWith(start));
    if (found !== undefined) return found;
    if (fixture.process.exitCode !== null || fixture.process.signalCode !== null) {
      await fixture.done;
      const again = fixture.lines.find((l) => l.startsWith(start));
      if (again !== undefined) return again;
      throw new Error(`the streamer ended before printing "${start}": ${fixture.stderr()}`);
    }
    await sleep(10);
  }
}

async function collect(iterable: AsyncIterable<Uint8Array>): Promise<string> {
  let out = '';
  for await (const piece of iterable) out += text(piece);
  return out;
}

/** Waits until Redis counts a subscriber of `channel` on some node (a follower's subscription took effect). */
async function subscribed(servers: Servers, channel: string): Promise<void> {
  for (;;) {
    const counts = servers.nodes.map((node) => Number(node.cli('PUBSUB', 'SHARDNUMSUB', channel).trim().split('\n')[1] ?? 0));
    if (counts.some((count) => count > 0)) return;
    await sleep(20);
  }
}

for (const [name, servers, open] of targets) {
  describe(`redis() streams on ${name}`, () => {
    function store(namespace: string = randomUUID()): RedisStore {
      const made = open(namespace);
      stores.push(made);
      return made;
    }

    it('a producer process appends and seals while two follower processes read every value once, in order, and end sealed', async () => {
      const s = store();
      const spec = JSON.stringify(s.describe());
      const followers = [streamer(['follow', spec, 'stream']), streamer(['follow', spec, 'stream'])];
      await Promise.all(followers.map((f) => line(f, 'following')));
      const producer = streamer(['produce', spec, 'stream', 'p', '1500']);
      await producer.ended;
      const length = (await s.get('stream')).byteLength;
      for (const follower of followers) {
        const lines = await follower.ended;
        expect(lines.find((l) => l.startsWith('values '))).toBe(`values ${values('p', 0, 1500).join(',')}`);
        expect(lines.at(-1)).toBe(`end sealed ${length}`);
      }
      expect(await s.sealedId('stream')).toBe(length);
    }, 120_000);

    it('two processes racing to seal: the first seal wins, at a whole number of values, the same for both', async () => {
      const s = store();
      const spec = JSON.stringify(s.describe());
      const racers = ['a', 'b'].map((who) => streamer(['race', spec, 'k', who, '150', '50']));
      await Promise.all(racers.map((r) => line(r, 'ready')));
      await s.iset('go', Buffer.from('1'));
      await Promise.all(racers.map((r) => r.ended));
      const sealed = await s.sealedId('k');
      const all = text(await s.get('k'));
      expect(sealed).toBeDefined();
      const prefix = all.slice(0, sealed);
      // The seal counted whole appends: the sealed bytes end where a value ends.
      expect(prefix.endsWith('|')).toBe(true);
      const kept = prefix.split('|').filter(Boolean);
      // The winner had appended (and awaited) all 150 of its values before sealing: they are all inside.
      const complete = ['a', 'b'].filter((who) => values(who, 0, 150).every((v) => kept.includes(v)));
      expect(complete.length).toBeGreaterThan(0);
      // Each process's values after its own seal landed after the winning one.
      for (const who of ['a', 'b']) expect(kept.filter((v) => v.startsWith(`${who}:`) && Number(v.split(':')[1]) >= 150)).toEqual([]);
      // A follower started now reads exactly the sealed bytes, in either store.
      const again = store(s.settings.namespace);
      const follower = again.follow('k');
      expect(await collect(follower)).toBe(prefix);
      expect(follower.endedBy).toBe('sealed');
      expect(follower.position).toBe(sealed);
    }, 120_000);

    it('wakes a follower whose pollMs is a long one when another process appends and seals (the key’s shard channel)', async () => {
      const s = store();
      // Polling would look again in ten minutes: what arrives before this test's timeout came by notification.
      const follower = s.follow('live', { pollMs: 600_000, idleTimeoutMs: 600_000 });
      const received = collect(follower);
      await subscribed(servers, `lam:${s.settings.namespace}:{klive}:c`);
      const producer = streamer(['produce', JSON.stringify(s.describe()), 'live', 'n', '200']);
      expect(await received).toBe(values('n', 0, 200).map((v) => `${v}|`).join(''));
      expect(follower.endedBy).toBe('sealed');
      await producer.ended;
    }, 120_000);

    it('keeps the seal in Redis under the key’s tag: it survives the store, delete() takes it back and drop() removes it in its namespace only', async () => {
      const s = store();
      const other = store();
      const ns = s.settings.namespace;
      await s.append({ k: Buffer.from('abc') });
      await other.append({ k: Buffer.from('xyz') });
      await s.seal('k');
      await other.seal('k');
      await s.append({ k: Buffer.from('after') });
      await s.seal('k');
      const sealName = `lam:${ns}:{kk}:s`;
      const node = servers.nodes.find((n) => n.cli('EXISTS', sealName).trim() === '1')!;
      expect(node.cli('GET', sealName).trim()).toBe('3');
      // On a cluster, the seal is in the key's slot (one script sets it with the length it reads).
      if (servers === masters) expect(node.cli('CLUSTER', 'KEYSLOT', sealName).trim()).toBe(node.cli('CLUSTER', 'KEYSLOT', `lam:${ns}:{kk}:d`).trim());
      // Another store (another connection) sees it.
      const reopened = store(ns);
      expect(await reopened.sealedId('k')).toBe(3);
      expect(await collect(reopened.follow('k'))).toBe('abc');
      await reopened.delete(['k']);
      expect(await s.sealedId('k')).toBeUndefined();
      await s.append({ k: Buffer.from('new') });
      const fresh = s.follow('k', { idleTimeoutMs: 100 });
      expect(await collect(fresh)).toBe('new');
      expect(fresh.endedBy).toBe('idle');
      await s.seal('k');
      expect(await s.sealedId('k')).toBe(3);
      await s.drop();
      expect(await s.sealedId('k')).toBeUndefined();
      expect(await other.sealedId('k')).toBe(3);
    }, 60_000);

    it('seals through buffer() and msgpack() over redis(): at the buffer’s length, kept in Redis, then followed frame by frame', async () => {
      const s = store();
      const stack = msgpack(buffer(dict(), s, { availableMemory: 1 << 20 }));
      stores.push(stack);
      await stack.append({ k: [1] });
      await stack.append({ k: [2] });
      await stack.seal('k');
      // The values are still in the buffer's memory; the seal, at the buffer's length, is already in Redis.
      expect((await s.get('k')).byteLength).toBe(0);
      const reader = store(s.settings.namespace);
      const sealed = await reader.sealedId('k');
      expect(sealed).toBeGreaterThan(0);
      // Closing the buffer spills its values to Redis: a follower in another store reads them to the seal.
      await stack.close();
      expect(await reader.sizeIds(['k', 'missing'])).toEqual([sealed, 0]);
      const follower = msgpack(reader).follow('k');
      const seen: unknown[] = [];
      for await (const value of follower) seen.push(value);
      expect(seen).toEqual([[1], [2]]);
      expect(follower.endedBy).toBe('sealed');
    }, 60_000);
  });
}

describe('redis() seals changed by hand', () => {
  it('a seal that does not hold a position is ERR_CORRUPT, naming the Redis name to delete', async () => {
    const s = redis(`${single.url}/${randomUUID()}`);
    stores.push(s);
    const name = `lam:${s.settings.namespace}:{kk}:s`;
    single.nodes[0].cli('SET', name, 'soon');
    const error = await rejection(s.sealedId('k'));
    expect(error.code).toBe('ERR_CORRUPT');
    expect(error.message).toContain(name);
    single.nodes[0].cli('DEL', name);
    await s.seal('k');
    expect(await s.sealedId('k')).toBe(0);
  });
});

describe('redis() followers and closing', () => {
  it('a follower made before its store closed, read after, ends with ERR_CLOSED; one waiting when it closes too', async () => {
    const s = redis(`${single.url}/${randomUUID()}`);
    const early = s.follow('k');
    const waiting = s.follow('k');
    const waited = collect(waiting).catch((error: unknown) => error);
    await subscribed(single, `lam:${s.settings.namespace}:{kk}:c`);
    await s.close();
    expect(await waited).toMatchObject({ code: 'ERR_CLOSED' });
    await expect(collect(early)).rejects.toMatchObject({ code: 'ERR_CLOSED' });
    // Nothing of the store is left connected: its subscriber is gone too.
    expect(single.nodes[0].cli('PUBSUB', 'SHARDNUMSUB', `lam:${s.settings.namespace}:{kk}:c`).trim().split('\n')[1]).toBe('0');
  });
});

describe('redis() followers through lost connections', () => {
  it('a follower whose subscriber connection is killed again and again misses nothing: it looks again once subscribed anew', async () => {
    const s = redis(`${single.url}/${randomUUID()}`);
    stores.push(s);
    const channel = `lam:${s.settings.namespace}:{kstream}:c`;
    const follower = s.follow('stream', { pollMs: 600_000 });
    const received = collect(follower);
    await subscribed(single, channel);
    const producer = streamer(['produce', JSON.stringify(s.describe()), 'stream', 'r', '3000']);
    let kills = 0;
    while (producer.process.exitCode === null) {
      // Every connection of the server: the follower's subscriber, its reads, and the producer's (which resends).
      const killed = Number(single.nodes[0].cli('CLIENT', 'KILL', 'TYPE', 'pubsub').trim());
      if (killed > 0) kills++;
      single.nodes[0].cli('CLIENT', 'KILL', 'TYPE', 'normal');
      await sleep(20);
    }
    await producer.ended;
    expect(await received).toBe(values('r', 0, 3000).map((v) => `${v}|`).join(''));
    expect(follower.endedBy).toBe('sealed');
    expect(kills).toBeGreaterThan(0);
  }, 180_000);

  it('on a cluster, a follower whose shard subscribers are killed again and again misses nothing', async () => {
    const s = redis({ cluster: masters.urls, namespace: randomUUID() });
    stores.push(s);
    const follower = s.follow('stream', { pollMs: 600_000 });
    const received = collect(follower);
    await subscribed(masters, `lam:${s.settings.namespace}:{kstream}:c`);
    const producer = streamer(['produce', JSON.stringify(s.describe()), 'stream', 'r', '3000']);
    let kills = 0;
    while (producer.process.exitCode === null) {
      for (const node of masters.nodes) kills += Number(node.cli('CLIENT', 'KILL', 'TYPE', 'pubsub').trim()) || 0;
      await sleep(50);
    }
    await producer.ended;
    expect(await received).toBe(values('r', 0, 3000).map((v) => `${v}|`).join(''));
    expect(follower.endedBy).toBe('sealed');
    expect(kills).toBeGreaterThan(0);
  }, 180_000);

  it('a follower and a producer carry on through a restart of the server (appendonly, fsync always): every value once, in order, to the seal', async () => {
    const durable = await singleServer(['--appendonly', 'yes', '--appendfsync', 'always']);
    const s = redis(`${durable.url}/${randomUUID()}`, { connectTimeoutMs: 60_000 });
    try {
      const follower = s.follow('stream', { pollMs: 600_000 });
      let seen = '';
      const reading = (async () => {
        for await (const piece of follower) seen += text(piece);
      })();
      await subscribed(durable, `lam:${s.settings.namespace}:{kstream}:c`);
      // The spec carries connectTimeoutMs: the producer keeps retrying while the server is down.
      const producer = streamer(['produce', JSON.stringify(s.describe()), 'stream', 'x', '5000']);
      while (seen.split('|').length < 300) {
        if (producer.process.exitCode !== null) await producer.ended;
        await sleep(5);
      }
      const seenAtRestart = seen.length;
      await durable.nodes[0].restart();
      await producer.ended;
      await reading;
      expect(seenAtRestart).toBeLessThan(seen.length);
      expect(seen).toBe(values('x', 0, 5000).map((v) => `${v}|`).join(''));
      expect(follower.endedBy).toBe('sealed');
    } finally {
      await s.close();
      await durable.stop();
    }
  }, 180_000);

  it('with the server refusing SSUBSCRIBE, followers poll (every 20 ms by default) and still end sealed', async () => {
    const ns = randomUUID();
    // A user that may not subscribe: the follower's subscription fails, the appends' SPUBLISH reaches no one.
    single.nodes[0].cli('ACL', 'SETUSER', `nosub-${ns}`, 'on', '>pw', '~*', '+@all', '-ssubscribe', '-subscribe', '&*');
    const s = redis(`redis://nosub-${ns}:pw@127.0.0.1:${single.nodes[0].port}/${ns}`);
    stores.push(s);
    const follower = s.follow('k');
    const received = collect(follower);
    const producer = streamer(['produce', JSON.stringify(s.describe()), 'k', 'q', '300']);
    await producer.ended;
    expect(await received).toBe(values('q', 0, 300).map((v) => `${v}|`).join(''));
    expect(follower.endedBy).toBe('sealed');
  }, 120_000);
});
