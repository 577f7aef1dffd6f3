/**
 * What an append call costs Redis, counted at a proxy that records every
 * command a store sends (fixtures/recording-proxy.ts), on a real redis-server.
 * This is redis()'s performance contract on one server: a call's keys share
 * one script (one round trip) until they pass MANY_BYTES, a call of one key
 * is the single-key script, a key that needs several scripts (segmentBytes)
 * sends only those, no WAIT is sent unless waitReplicas > 0 (then one per
 * master written), the append after one that failed for good is one script,
 * not a refusal and a resend, and a call past maxBytesInFlight is not sent
 * until the calls before it are answered. Each test also reads the bytes back.
 */
import { randomUUID } from 'node:crypto';
import { rejection } from '@laminate/core/testing';
import { type RedisStore, type RedisStoreOptions, redis } from '@laminate/redis';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { MANY_BYTES } from '../src/redis.js';
import { FailingProxy } from './fixtures/failing-proxy.js';
import { RecordingProxy } from './fixtures/recording-proxy.js';
import { singleServer } from './fixtures/servers.js';

const server = await singleServer();
const proxy = await RecordingProxy.start(server.nodes[0].port);
afterAll(async () => {
  await proxy.close();
  await server.stop();
});

const stores: RedisStore[] = [];
afterEach(async () => {
  for (const store of stores.splice(0)) await store.close();
});

/** Longer than any test: an append that waited its patience out would never end within one. */
const NEVER_MS = 600_000;

/** A store in a namespace of its own at `url` (the recording proxy by default), closed after the test. */
function store(ns: string, opts: RedisStoreOptions = {}, url = proxy.url): RedisStore {
  const made = redis(`${url}/${ns}`, { connectTimeoutMs: NEVER_MS, ...opts });
  stores.push(made);
  return made;
}

// The first use of a script on a server costs a NOSCRIPT answer and a resend with the script's text:
// both append scripts are loaded here, so each test counts only what its calls cost.
beforeAll(async () => {
  const s = store(randomUUID());
  await s.append({ a: Buffer.from('x') });
  await s.append({ a: Buffer.from('x'), b: Buffer.from('y') });
});

const value = (s: string) => Buffer.from(s);
const text = (bytes: Uint8Array) => Buffer.from(bytes).toString();

/** One append script as it reached Redis: the single-key script, or one shared by several keys; the keys it carried. */
interface ScriptSent {
  script: 'one key' | 'shared';
  keys: string[];
}

/**
 * The append scripts of namespace `ns` among `commands`, in the order sent.
 * A script call is EVALSHA (or EVAL) sha numkeys names… arguments…: the
 * single-key script names the key's meta and data names and then the fencing
 * counter; the shared one names the counter first, then each key's two names.
 */
function appendScripts(ns: string, commands: readonly string[][]): ScriptSent[] {
  const fence = `lam:${ns}:{lock}:fence`;
  const keyOf = (name: string) => decodeURIComponent(/^lam:[^:]*:\{k(.*)\}:d$/.exec(name)![1]);
  const sent: ScriptSent[] = [];
  for (const command of commands) {
    const name = command[0].toUpperCase();
    if (name !== 'EVALSHA' && name !== 'EVAL') continue;
    const names = command.slice(3, 3 + Number(command[2]));
    if (names[0] === fence) sent.push({ script: 'shared', keys: names.slice(1).filter((_, i) => i % 2 === 1).map(keyOf) });
    else if (names.length === 3 && names[2] === fence) sent.push({ script: 'one key', keys: [keyOf(names[1])] });
  }
  return sent;
}

/** The commands recorded since `mark` (a length of `commands`) that are WAIT. */
const waitsSince = (commands: readonly string[][], mark: number) => commands.slice(mark).filter((command) => command[0].toUpperCase() === 'WAIT');

/** Whether `command` names key `key` of namespace `ns`. */
const names = (command: readonly string[], ns: string, key: string) => command.includes(`lam:${ns}:{k${key}}:d`);

describe('the commands an append call sends (one server)', () => {
  it('a call of many small keys is one shared script; a call of one key is the single-key script', async () => {
    const ns = randomUUID();
    const s = store(ns);
    const keys = ['a', 'b', 'c', 'd', 'e', 'f', 'g', 'h'];
    const mark = proxy.commands.length;
    await s.append(Object.fromEntries(keys.map((key) => [key, value(`${key}1|`)])));
    await s.append({ a: value('a2|') });
    await s.append({ b: value('b2|'), c: value('c2|') });
    expect(appendScripts(ns, proxy.commands.slice(mark))).toEqual([
      { script: 'shared', keys },
      { script: 'one key', keys: ['a'] },
      { script: 'shared', keys: ['b', 'c'] },
    ]);
    expect(await Promise.all(keys.map(async (key) => text(await s.get(key))))).toEqual(['a1|a2|', 'b1|b2|', 'c1|c2|', 'd1|', 'e1|', 'f1|', 'g1|', 'h1|']);
  });

  it('shares scripts of up to MANY_BYTES: keys of exactly MANY_BYTES in all go as one script, one byte more as two', async () => {
    const quarter = MANY_BYTES / 4;
    const filled = (size: number, i: number) => Buffer.alloc(size, 97 + i);
    const cases: { sizes: number[]; expected: ScriptSent[] }[] = [
      { sizes: [quarter, quarter, quarter, quarter], expected: [{ script: 'shared', keys: ['k0', 'k1', 'k2', 'k3'] }] },
      { sizes: [quarter, quarter, quarter, quarter + 1], expected: [{ script: 'shared', keys: ['k0', 'k1', 'k2'] }, { script: 'one key', keys: ['k3'] }] },
      // After a full script the count starts again from the key that did not fit.
      { sizes: Array.from({ length: 8 }, () => quarter), expected: [{ script: 'shared', keys: ['k0', 'k1', 'k2', 'k3'] }, { script: 'shared', keys: ['k4', 'k5', 'k6', 'k7'] }] },
      { sizes: [MANY_BYTES - 2, 1, 1, 1, quarter], expected: [{ script: 'shared', keys: ['k0', 'k1', 'k2'] }, { script: 'shared', keys: ['k3', 'k4'] }] },
    ];
    for (const { sizes, expected } of cases) {
      const ns = randomUUID();
      const s = store(ns);
      const mark = proxy.commands.length;
      await s.append(Object.fromEntries(sizes.map((size, i) => [`k${i}`, filled(size, i)])));
      expect(appendScripts(ns, proxy.commands.slice(mark))).toEqual(expected);
      for (const [i, size] of sizes.entries()) expect(Buffer.compare(Buffer.from(await s.get(`k${i}`)), filled(size, i))).toBe(0);
    }
  });

  it('counts a key\'s size over all its values in the call', async () => {
    const ns = randomUUID();
    const s = store(ns);
    const half = MANY_BYTES / 2;
    const mark = proxy.commands.length;
    // k0 holds MANY_BYTES in two values: k1 does not fit beside it.
    await s.append([['k0', Buffer.alloc(half, 97)], ['k0', Buffer.alloc(half, 98)], ['k1', value('c')]]);
    expect(appendScripts(ns, proxy.commands.slice(mark))).toEqual([{ script: 'one key', keys: ['k0'] }, { script: 'one key', keys: ['k1'] }]);
    expect(Buffer.compare(Buffer.from(await s.get('k0')), Buffer.concat([Buffer.alloc(half, 97), Buffer.alloc(half, 98)]))).toBe(0);
    expect(text(await s.get('k1'))).toBe('c');
  });

  it('a key whose call needs several scripts (segmentBytes) sends only its own single-key scripts; keys of one script still share', async () => {
    const ns = randomUUID();
    const s = store(ns, { segmentBytes: 4 });
    let mark = proxy.commands.length;
    await s.append({ k: value('abcdefgh') });
    expect(appendScripts(ns, proxy.commands.slice(mark))).toEqual([{ script: 'one key', keys: ['k'] }, { script: 'one key', keys: ['k'] }]);
    mark = proxy.commands.length;
    await s.append({ k: value('ijklmn'), x: value('x'), y: value('y') });
    expect(appendScripts(ns, proxy.commands.slice(mark))).toEqual([{ script: 'one key', keys: ['k'] }, { script: 'one key', keys: ['k'] }, { script: 'shared', keys: ['x', 'y'] }]);
    expect([text(await s.get('k')), text(await s.get('x')), text(await s.get('y'))]).toEqual(['abcdefghijklmn', 'x', 'y']);
  });

  it('sends no WAIT unless waitReplicas > 0; with waitReplicas: 1, one WAIT on the one master, and ERR_NOT_REPLICATED without a replica', async () => {
    const ns = randomUUID();
    const plain = store(ns);
    const none = store(ns, { waitReplicas: 0 });
    let mark = proxy.commands.length;
    await plain.append({ a: value('1|'), b: value('1|') });
    await none.append({ a: value('2|'), b: value('2|') });
    await none.append({ a: value('3|') });
    expect(waitsSince(proxy.commands, mark)).toEqual([]);
    const waiting = store(ns, { waitReplicas: 1, waitTimeoutMs: 100 });
    mark = proxy.commands.length;
    const error = await rejection(waiting.append({ a: value('4|'), b: value('4|') }));
    expect(error.code).toBe('ERR_NOT_REPLICATED');
    expect(waitsSince(proxy.commands, mark).map((command) => command.slice(1))).toEqual([['1', '100']]);
    // Stored on the master all the same, as the error says.
    expect([text(await plain.get('a')), text(await plain.get('b'))]).toEqual(['1|2|3|4|', '1|2|4|']);
  });

  /** A store behind a recording proxy in front of a proxy that fails the first command carrying 'overtaken' with an ERR. */
  async function behindFailure<T>(calls: (s: RedisStore, ns: string, recorder: RecordingProxy) => Promise<T>): Promise<T> {
    const failing = await FailingProxy.start(server.nodes[0].port, 'overtaken', 'ERR failed by the test');
    const recorder = await RecordingProxy.start(Number(new URL(failing.url).port));
    try {
      const ns = randomUUID();
      return await calls(store(ns, {}, recorder.url), ns, recorder);
    } finally {
      for (const store of stores.splice(0)) await store.close();
      await recorder.close();
      await failing.close();
    }
  }

  it('the append after one that failed for good is one script: it does not wait for the failed one or get refused first', async () => {
    await behindFailure(async (s, ns, recorder) => {
      await s.append({ k: value('first|') });
      expect((await rejection(s.append({ k: value('overtaken|') }))).code).toBe('ERR_SERVER');
      const mark = recorder.commands.length;
      await s.append({ k: value('third|') });
      expect(appendScripts(ns, recorder.commands.slice(mark))).toEqual([{ script: 'one key', keys: ['k'] }]);
      expect(text(await s.get('k'))).toBe('first|third|');
    });
  });

  it('the same for keys that shared the failed script: the next call is one shared script', async () => {
    await behindFailure(async (s, ns, recorder) => {
      await s.append({ k: value('first|'), j: value('first|') });
      expect((await rejection(s.append({ k: value('overtaken|'), j: value('lost|') }))).code).toBe('ERR_SERVER');
      const mark = recorder.commands.length;
      await s.append({ k: value('third|'), j: value('third|') });
      expect(appendScripts(ns, recorder.commands.slice(mark))).toEqual([{ script: 'shared', keys: ['k', 'j'] }]);
      expect([text(await s.get('k')), text(await s.get('j'))]).toEqual(['first|third|', 'first|third|']);
    });
  });

  it('a call past maxBytesInFlight is not sent until the call before it is answered; both land', async () => {
    const ns = randomUUID();
    const s = store(ns, { maxBytesInFlight: 1000 });
    // The connection is up and the scripts loaded: the call below is sent without waiting for anything.
    await s.append({ warm: value('x') });
    const elsewhere = store(ns, {}, server.url);
    const [mark, eventMark] = [proxy.commands.length, proxy.events.length];
    proxy.hold();
    let first = Promise.resolve();
    let second = Promise.resolve();
    try {
      first = s.append({ k: Buffer.alloc(600, 97) });
      await proxy.until((command) => names(command, ns, 'k'));
      second = s.append({ j: Buffer.alloc(600, 98) });
      // A whole call on a connection of its own, straight to Redis: had the second call been let through, it
      // was written to the proxy's socket before this one began, and the proxy has read it by the time this ends.
      await elsewhere.append({ other: value('o') });
      expect(proxy.commands.slice(mark).some((command) => names(command, ns, 'j'))).toBe(false);
    } finally {
      proxy.release();
    }
    await Promise.all([first, second]);
    const events = proxy.events.slice(eventMark);
    const at = (test: (event: string[] | 'released') => boolean) => events.findIndex(test);
    const sentK = at((event) => event !== 'released' && names(event, ns, 'k'));
    const released = at((event) => event === 'released');
    const sentJ = at((event) => event !== 'released' && names(event, ns, 'j'));
    expect(sentK).toBeGreaterThanOrEqual(0);
    expect(released).toBeGreaterThan(sentK);
    expect(sentJ).toBeGreaterThan(released);
    expect([text(await elsewhere.get('k')), text(await elsewhere.get('j'))]).toEqual(['a'.repeat(600), 'b'.repeat(600)]);
  });
});
