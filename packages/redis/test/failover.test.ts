import { randomUUID } from 'node:crypto';
import { rejection } from '@laminate/core/testing';
import { type RedisStore, type RedisStoreOptions, redis } from '@laminate/redis';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { hashSlot } from '../src/names.js';
import { type RedisNode, cluster, sleep } from './fixtures/servers.js';

// Three masters with one replica each; a master unreachable for 1 s is failed over (about 2–3 s on loopback).
const servers = await cluster(3, 1, 1000);
afterAll(() => servers.stop());

const stores: RedisStore[] = [];
afterEach(async () => {
  for (const store of stores.splice(0)) await store.close();
});
// A failover takes seconds; calls keep retrying through it instead of failing after the default 10 s.
function store(namespace: string, opts: RedisStoreOptions = {}): RedisStore {
  const made = redis({ cluster: servers.urls, namespace }, { connectTimeoutMs: 90_000, ...opts });
  stores.push(made);
  return made;
}

const KEYS = 30;
const keyNames = Array.from({ length: KEYS }, (_, k) => `k${k}`);
/** Appends values from..to-1 ("i|", value i to key i % KEYS), 100 calls in flight. */
async function appendRange(s: RedisStore, from: number, to: number): Promise<void> {
  for (let wave = from; wave < to; wave += 100) {
    const calls: Promise<void>[] = [];
    for (let i = wave; i < Math.min(wave + 100, to); i++) calls.push(s.append({ [`k${i % KEYS}`]: Buffer.from(`${i}|`) }));
    await Promise.all(calls);
  }
}
/** Per key, the values stored, in stored order. */
async function stored(namespace: string): Promise<number[][]> {
  const reader = store(namespace);
  return (await reader.getMany(keyNames)).map((bytes) => Buffer.from(bytes).toString().split('|').filter(Boolean).map(Number));
}
const role = (node: RedisNode) => node.cli('ROLE').trim().split('\n')[0];

describe('redis({ cluster }) when a master is killed', () => {
  it('keeps every append WAIT confirmed on a replica, and without WAIT keeps each key in order with nothing twice', async () => {
    const [waited, plain] = [randomUUID(), randomUUID()];
    const withWait = store(waited, { waitReplicas: 1, waitTimeoutMs: 5000 });
    const withoutWait = store(plain);
    await Promise.all([appendRange(withWait, 0, 1500), appendRange(withoutWait, 0, 1500)]);

    // WAIT goes to the masters of the call's keys: the layer's slot of a name is Redis's.
    for (const k of keyNames) expect(hashSlot(`lam:${waited}:{k${k}}:d`)).toBe(Number(servers.nodes[0].cli('CLUSTER', 'KEYSLOT', `lam:${waited}:{k${k}}:d`).trim()));

    const victim = servers.nodes.find((node) => role(node) === 'master')!;
    const onVictim = (namespace: string) => keyNames.filter((k) => victim.cli('EXISTS', `lam:${namespace}:{k${k}}:d`).trim() === '1');
    const [waitedOnVictim, plainOnVictim] = [onVictim(waited), onVictim(plain)];
    expect(waitedOnVictim.length).toBeGreaterThan(0);
    victim.kill('SIGKILL');
    // Appends go on through the failover: they retry until the replica is promoted and the slot map refreshed.
    await appendRange(withoutWait, 1500, 2500);
    const survivors = servers.nodes.filter((node) => node !== victim);
    for (let waitedMs = 0; !survivors.every((node) => node.cli('CLUSTER', 'INFO').includes('cluster_state:ok')); waitedMs += 100) {
      if (waitedMs > 60_000) throw new Error('the cluster did not fail over in 60 s');
      await sleep(100);
    }
    const promoted = survivors.filter((node) => role(node) === 'master');
    expect(promoted).toHaveLength(3);

    // With waitReplicas: 1, every acknowledged append is there, once, in order, on the promoted replica too.
    const afterWait = await stored(waited);
    afterWait.forEach((values, k) => expect(values).toEqual(Array.from({ length: 1500 / KEYS }, (_, j) => k + j * KEYS)));

    // Without WAIT: each key's values are in order, none twice, and every append acknowledged after the failover is there.
    // (The last appends the old master acknowledged before it died may be missing: replication is asynchronous.)
    const afterPlain = await stored(plain);
    afterPlain.forEach((values, k) => {
      expect(values).toEqual([...values].sort((x, y) => x - y));
      expect(new Set(values).size).toBe(values.length);
      const appendedAfter = Array.from({ length: 1000 }, (_, j) => 1500 + j).filter((i) => i % KEYS === k);
      expect(values.filter((v) => v >= 1500)).toEqual(appendedAfter);
    });
    expect(plainOnVictim.length).toBeGreaterThan(0);

    // The promoted master has no replica left: a WAIT append to one of its keys is stored but refused as not replicated;
    // keys on the masters that kept their replica take WAIT appends as before.
    const error = await rejection(withWait.append({ [waitedOnVictim[0]]: Buffer.from('x|') }));
    expect(error.code).toBe('ERR_NOT_REPLICATED');
    const elsewhere = keyNames.find((k) => !waitedOnVictim.includes(k))!;
    await withWait.append({ [elsewhere]: Buffer.from('y|') });
    expect(Buffer.from(await withWait.get(waitedOnVictim[0])).toString()).toMatch(/\|x\|$/);
    expect(Buffer.from(await withWait.get(elsewhere)).toString()).toMatch(/\|y\|$/);
  }, 180_000);
});
