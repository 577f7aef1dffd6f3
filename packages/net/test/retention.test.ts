/**
 * Retention over client(): consumers' positions and trims are kept by the
 * served store (a file() served by a real serve() process), every client sees
 * them, ERR_TRIMMED carries its start across the wire, and consumers that
 * commit and trim through connections cut again and again get every value
 * once, in order.
 */
import * as fs from 'node:fs';
import type { ChildProcess } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { DictStore, file, msgpack } from '@laminate/core';
import { rejection } from '@laminate/core/testing';
import { client } from '@laminate/net';
import { afterAll, describe, expect, it } from 'vitest';
import { type Fixture, spawnFixture } from '../../core/test/fixtures/spawn.js';
import { harness, sleep } from './fixtures/harness.js';
import { CuttingProxy } from './fixtures/proxy.js';

const { later, startedServer, tempDir } = harness();
const HERE = dirname(fileURLToPath(import.meta.url));
const CORE_FIXTURES = join(HERE, '..', '..', 'core', 'test', 'fixtures');
const children: ChildProcess[] = [];
afterAll(() => {
  for (const child of children.splice(0)) if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
});

async function until(test: () => boolean | Promise<boolean>): Promise<void> {
  while (!(await test())) await sleep(5);
}

async function collect<V>(iterable: AsyncIterable<V>): Promise<V[]> {
  const out: V[] = [];
  for await (const value of iterable) out.push(value);
  return out;
}

/** A serve() of file(dir) in a process of its own; resolves with it and its address once it listens. */
async function servedChild(dir: string): Promise<{ server: Fixture; address: string }> {
  const server = spawnFixture(join(HERE, 'fixtures', 'retention-server.ts'), [dir], children);
  later(() => void server.process.kill('SIGKILL'));
  await until(() => server.lines.some((line) => line.startsWith('listening ')) || server.process.exitCode !== null);
  const line = server.lines.find((l) => l.startsWith('listening '));
  if (line === undefined) throw new Error(`the server did not start: ${server.stderr()}`);
  return { server, address: line.split(' ')[1] };
}

const taken = (lines: readonly string[]) =>
  lines
    .filter((line) => line.startsWith('value '))
    .map((line) => {
      const [, i, position] = line.split(' ');
      return [Number(i), Number(position)] as const;
    });

const numbers = (list: unknown[]) => list.filter((item) => typeof item === 'number');

describe('retention over client()', () => {
  it('a real serve() process keeps the consumers and the start: commit, consumers, forget, trim, ERR_TRIMMED with its start, delete', async () => {
    const dir = tempDir();
    const { address } = await servedChild(dir);
    const store = msgpack(client(address));
    const other = client(address);
    later(
      () => store.close(),
      () => other.close(),
    );
    for (let i = 0; i < 30; i++) await store.append({ k: [i, 'p'.repeat(i)] });
    const entries: { value: unknown[]; position: number }[] = [];
    for await (const entry of store.follow('k', { idleTimeoutMs: 100 }).entries()) entries.push(entry);
    const length = entries.at(-1)!.position;

    // A consumer registered at value 10, and another that takes 20 values and commits, trimming as it does.
    await other.commit('k', 'b', entries[9].position);
    await other.commit('k', 'b', entries[5].position); // lower: the higher stays
    const a = store.follow('k', { consumer: 'a', trim: true });
    let n = 0;
    for await (const _ of a) {
      if (++n === 20) {
        await a.commit();
        break;
      }
    }
    expect(await store.consumers('k')).toEqual([
      { consumer: 'a', position: entries[19].position },
      { consumer: 'b', position: entries[9].position },
    ]);
    // The commit of 'a' trimmed to what both passed; the served directory's file holds only the bytes from there.
    expect(await other.startOf('k')).toBe(entries[9].position);
    expect(fs.statSync(file(dir).fileOf('k')).size).toBe(length - entries[9].position);
    expect(numbers(await store.get('k'))).toEqual([...Array(20).keys()].map((i) => i + 10));

    const trimmed = await rejection(collect(store.follow('k', { from: 0 })));
    expect(trimmed.code).toBe('ERR_TRIMMED');
    expect((trimmed as unknown as { start: number }).start).toBe(entries[9].position);
    expect((await rejection(store.trim('k', entries[15].position))).code).toBe('ERR_INVALID_OPTION');
    expect((await rejection(store.commit('k', '', 0))).code).toBe('ERR_INVALID_OPTION');
    expect((await collect(store.follow('k', { idleTimeoutMs: 100 }))).map((v) => v[0])).toEqual([...Array(20).keys()].map((i) => i + 10));

    // 'a' resumes where it committed; forgetting 'b' lets the next commit of 'a' trim to it.
    await store.forget('k', 'b');
    const resumed = store.follow('k', { consumer: 'a', trim: true, idleTimeoutMs: 100 });
    const rest: unknown[] = [];
    for await (const value of resumed) {
      rest.push(value[0]);
      await resumed.commit();
    }
    expect(rest).toEqual([...Array(10).keys()].map((i) => i + 20));
    expect(await store.startOf('k')).toBe(length);
    expect(await store.get('k')).toEqual([]);

    await store.delete(['k']);
    expect(await store.consumers('k')).toEqual([]);
    expect(await store.startOf('k')).toBe(0);
  }, 120_000);

  it('consumers in processes of their own commit and trim through connections cut again and again: each value once, in order; retention holds at the slower one; a SIGKILLed consumer resumes', async () => {
    const dir = tempDir();
    const { address } = await servedChild(dir);
    const proxy = await CuttingProxy.start(address);
    later(() => proxy.close());
    const count = 400;
    // Registered before anything is written: a consumer holds retention back from its first commit on.
    const registrar = client(address);
    await registrar.commit('stream', 'fast', 0);
    await registrar.commit('stream', 'slow', 0);
    await registrar.close();
    // The producer appends to the served directory from a process of its own, as file() shares it.
    const producer = spawnFixture(join(CORE_FIXTURES, 'stream-producer.ts'), [dir, String(count)], children);
    const fast = spawnFixture(join(HERE, 'fixtures', 'retention-consumer.ts'), [proxy.address, 'fast'], children);
    const slow = spawnFixture(join(HERE, 'fixtures', 'retention-consumer.ts'), [address, 'slow', '150'], children);
    // Cut the proxied connections while the fast consumer reads and commits.
    let cuts = 0;
    while (fast.process.exitCode === null && cuts < 5) {
      await until(() => fast.process.exitCode !== null || taken(fast.lines).length >= (cuts + 1) * 60);
      if (fast.process.exitCode !== null) break;
      proxy.cut();
      cuts++;
    }
    await producer.ended;
    const fastLines = await fast.ended;
    await until(() => taken(slow.lines).length >= 150);
    const expected = [...Array(count).keys()];
    expect(taken(fastLines).map(([i]) => i)).toEqual(expected);
    expect(fastLines.at(-1)).toBe('end sealed');
    expect(cuts).toBeGreaterThanOrEqual(1);
    expect(taken(slow.lines).map(([i]) => i)).toEqual(expected.slice(0, 150));

    const store = client(address);
    later(() => store.close());
    const length = taken(fastLines).at(-1)![1];
    const slowAt = taken(slow.lines).at(-1)![1];
    expect(await store.consumers('stream')).toEqual([
      { consumer: 'fast', position: length },
      { consumer: 'slow', position: slowAt },
    ]);
    expect(await store.startOf('stream')).toBe(slowAt);
    expect(fs.statSync(file(dir).fileOf('stream')).size).toBe(length - slowAt);

    slow.process.kill('SIGKILL');
    await rejection(slow.ended);
    const resumed = spawnFixture(join(HERE, 'fixtures', 'retention-consumer.ts'), [address, 'slow'], children);
    expect(taken(await resumed.ended).map(([i]) => i)).toEqual(expected.slice(150));
    expect(await store.startOf('stream')).toBe(length);
    expect(fs.statSync(file(dir).fileOf('stream')).size).toBe(0);
  }, 180_000);

  it('a commit, a forget and a trim the server applied, whose replies were lost, are answered from memory when the client resends them: applied once', async () => {
    const served = new DictStore();
    const server = await startedServer(served);
    const proxy = await CuttingProxy.start(server.address);
    later(() => proxy.close());
    const store = client(proxy.address);
    later(() => store.close());
    await store.append({ k: Buffer.from('abcdefgh') });
    await store.commit('k', 'gone', 1);

    // The server applies these, but the proxy swallows every reply: the client hears nothing.
    proxy.swallow = true;
    const calls = [store.commit('k', 'a', 6), store.commit('k', 'b', 4), store.forget('k', 'gone'), store.trim('k', 3)];
    await until(async () => (await served.startOf('k')) === 3);
    // Between the first copies and the resent ones, 'b' starts over at the key's start: commit('k', 'b', 4) applied again would move it.
    await served.commit('k', 'a', 8);
    await served.forget('k', 'b');
    await served.commit('k', 'b', 3);
    proxy.swallow = false;
    proxy.cut();
    await Promise.all(calls);
    expect(server.stats().duplicates).toBe(4);
    expect(await store.consumers('k')).toEqual([
      { consumer: 'a', position: 8 },
      { consumer: 'b', position: 3 },
    ]);
    expect(await store.startOf('k')).toBe(3);
    expect(Buffer.from(await store.get('k')).toString()).toBe('defgh');
  }, 60_000);
});
