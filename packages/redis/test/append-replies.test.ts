/**
 * How redis() reads its append script's replies, in this process on a real
 * redis-server: a section overtaken on the fencing counter (-3) ends with
 * ERR_LOCKED and stores nothing, and the key's next append does not wait for
 * the refused one; an append whose key forgot this store (another store
 * dropped the namespace: -2) goes ahead rather than wait for an earlier
 * append that will never come. The stores have a connectTimeoutMs far longer
 * than a test: an append that waited for what never lands would never end.
 * Through a proxy that fails one append (fixtures/failing-proxy.ts): one
 * retried after the next append of its key overtook it still lands first, and
 * the append after one that failed for good does not wait for it.
 */
import { randomUUID } from 'node:crypto';
import { rejection } from '@laminate/core/testing';
import { type RedisStore, redis } from '@laminate/redis';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { FailingProxy } from './fixtures/failing-proxy.js';
import { singleServer } from './fixtures/servers.js';

const server = await singleServer();
afterAll(() => server.stop());

const stores: RedisStore[] = [];
afterEach(async () => {
  for (const store of stores.splice(0)) await store.close();
});

/** Longer than any test: an append that waits its patience out never ends within one. */
const NEVER_MS = 600_000;

function store(namespace: string, maxBytesInFlight?: number): RedisStore {
  const made = redis(`${server.url}/${namespace}`, { connectTimeoutMs: NEVER_MS, ...(maxBytesInFlight === undefined ? {} : { maxBytesInFlight }) });
  stores.push(made);
  return made;
}
const text = (bytes: Uint8Array) => Buffer.from(bytes).toString();
const value = (s: string) => Buffer.from(s);

describe('redis() reading the append script\'s replies', () => {
  it('a withLock section whose lock another holder has taken since: its appends end with ERR_LOCKED and store nothing; the key\'s next append does not wait for them', async () => {
    const ns = randomUUID();
    const s = store(ns);
    await s.append({ k: value('a') });
    const [alone, together] = await s.withLock(async () => {
      // Another holder took the lock after this section's expired: the counter moved past its token.
      server.nodes[0].cli('INCR', `lam:${ns}:{lock}:fence`);
      // One key (its own script), then two keys (one script shared by both).
      return [await rejection(s.append({ k: value('b') })), await rejection(s.append({ k: value('c'), other: value('d') }))];
    });
    expect([alone.key, together.key]).toEqual(['k', 'k']);
    for (const error of [alone, together]) {
      expect(error.code).toBe('ERR_LOCKED');
      expect(error.message).toMatch(/^The append to "(k|other)" ran in a withLock section whose lock has since been taken by another holder/);
    }
    expect(text(await s.get('k'))).toBe('a');
    expect(text(await s.get('other'))).toBe('');
    await s.append({ k: value('e') });
    await s.append({ k: value('f'), other: value('g') });
    expect(text(await s.get('k'))).toBe('aef');
    expect(text(await s.get('other'))).toBe('g');
  });

  it('gives back the bytes in flight when a call ends, refused or not: calls past maxBytesInFlight in all still go through', async () => {
    const ns = randomUUID();
    const s = store(ns, 1000);
    for (let i = 0; i < 5; i++) await s.append({ k: Buffer.alloc(600, 97 + i) });
    const refused = await s.withLock(async () => {
      server.nodes[0].cli('INCR', `lam:${ns}:{lock}:fence`);
      return rejection(s.append({ k: Buffer.alloc(600, 120) }));
    });
    expect(refused.code).toBe('ERR_LOCKED');
    await s.append({ k: Buffer.alloc(600, 122) });
    expect(text(await s.get('k'))).toBe(['a', 'b', 'c', 'd', 'e', 'z'].map((c) => c.repeat(600)).join(''));
  });

  it('a key that forgot this store (another store dropped the namespace): the next append goes ahead, once', async () => {
    const ns = randomUUID();
    const [writer, dropper] = [store(ns), store(ns)];
    await writer.append({ k: value('old') });
    await dropper.drop();
    // It names the writer's previous append to k, which the key no longer knows.
    await writer.append({ k: value('new') });
    await writer.append({ k: value('!') });
    expect(text(await dropper.get('k'))).toBe('new!');
  });

  /**
   * Runs `calls` on a store behind a proxy that fails the command carrying 'overtaken' with `error` (once,
   * or until commands carrying 'second' were sent `secondSent` times), after a first append to each of
   * `keys`: the keys know the store, so an append whose previous one has not landed waits for it for ever.
   */
  async function throughFailingProxy<T>(error: string, keys: string[], calls: (s: RedisStore) => Promise<T>, secondSent?: number) {
    const proxy = await FailingProxy.start(server.nodes[0].port, 'overtaken', error, secondSent === undefined ? undefined : { marker: 'second', count: secondSent });
    const ns = randomUUID();
    const s = redis(`${proxy.url}/${ns}`, { connectTimeoutMs: NEVER_MS });
    try {
      // The connection is ready and the script loaded: nothing waits for a reply when the marked append is sent.
      await s.append(Object.fromEntries(keys.map((key) => [key, value('first|')])));
      const outcome = await calls(s);
      return { outcome, reader: store(ns), failed: proxy.failed };
    } finally {
      await s.close();
      await proxy.close();
    }
  }

  it('an append retried after the next append of its key overtook it still lands first (one script per call)', async () => {
    // The overtaken append fails until the next one was refused and sent again eleven times: past 250 ms of
    // its backoff, the patience for a key that does not know the store, which must not apply to one that does.
    const { reader, failed } = await throughFailingProxy('TRYAGAIN failed by the test', ['k'], (s) => Promise.all([s.append({ k: value('overtaken|') }), s.append({ k: value('second|') })]), 12);
    expect(failed).toBeGreaterThan(0);
    expect(text(await reader.get('k'))).toBe('first|overtaken|second|');
  });

  it('an append retried after the next append of its key overtook it still lands first (keys sharing scripts)', async () => {
    const { reader, failed } = await throughFailingProxy('TRYAGAIN failed by the test', ['k', 'j'], (s) => Promise.all([s.append({ k: value('overtaken|'), j: value('a|') }), s.append({ k: value('second|'), j: value('b|') })]), 12);
    expect(failed).toBeGreaterThan(0);
    expect(text(await reader.get('k'))).toBe('first|overtaken|second|');
    expect(text(await reader.get('j'))).toBe('first|a|b|');
  });

  it('the append sent after one that failed for good does not wait for it; neither does the next', async () => {
    const { outcome, reader, failed } = await throughFailingProxy('ERR failed by the test', ['k'], async (s) => {
      const results = await Promise.allSettled([s.append({ k: value('overtaken|') }), s.append({ k: value('second|') })]);
      await s.append({ k: value('third|') });
      return results;
    });
    expect(failed).toBe(1);
    expect(outcome.map((result) => result.status)).toEqual(['rejected', 'fulfilled']);
    expect(((outcome[0] as PromiseRejectedResult).reason as { code: string }).code).toBe('ERR_SERVER');
    expect(text(await reader.get('k'))).toBe('first|second|third|');
  });
});
