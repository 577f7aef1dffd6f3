/**
 * Retention and consumer groups (retention.ts): durable consumer positions,
 * trimming a key from the front to what every registered consumer has passed,
 * positions that stay absolute across a trim (ERR_TRIMMED before the start),
 * over file() (with real producer, consumer and trimmer processes), dict(),
 * buffer() across a spill and the encoding layers.
 */
import * as fs from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { buffer, dict, file, msgpack, whyNotAStore, zstd } from '@laminate/core';
import { rejection, tempDirs, thrown } from '@laminate/core/testing';
import { seededRandom } from '@laminate/core/layer';
import { processScope } from './fixtures/spawn.js';

const tempDir = tempDirs('laminate-retention-test-', afterAll);
/** runFixture(name, args): ./fixtures/name in a process of its own; `ended` resolves with its stdout lines, or rejects with its stderr. */
const { fixture: runFixture, track } = processScope();

async function until(test: () => boolean): Promise<void> {
  while (!test()) await new Promise((resolve) => setTimeout(resolve, 5));
}

async function collect<V>(iterable: AsyncIterable<V>): Promise<V[]> {
  const out: V[] = [];
  for await (const value of iterable) out.push(value);
  return out;
}

/** The "value <i> <position>" lines of a consumer fixture, as [i, position]. */
const taken = (lines: readonly string[]) =>
  lines
    .filter((line) => line.startsWith('value '))
    .map((line) => {
      const [, i, position] = line.split(' ');
      return [Number(i), Number(position)] as const;
    });

/** The numbers of a msgpack key's joined list (each value appended was [i, payload]). */
const numbers = (list: unknown[]) => list.filter((item) => typeof item === 'number');

const sizeOnDisk = (store: { fileOf(key: string): string }, key: string) => fs.statSync(store.fileOf(key)).size;

describe('retention across processes (file())', () => {
  it('retention trimming only what every consumer has passed: a producer, a fast and a slow consumer committing after each value, a third that never commits, a SIGKILL and a resume', async () => {
    const dir = tempDir();
    const count = 300;
    const store = track(file(dir));
    const values = msgpack(store);
    // A third consumer, registered before anything is written, that never commits: nothing may be trimmed past it.
    await store.commit('stream', 'idle', 0);
    const producer = runFixture('stream-producer.ts', [dir, String(count)]);
    const fast = runFixture('retention-consumer.ts', [dir, 'fast']);
    const slow = runFixture('retention-consumer.ts', [dir, 'slow', '100']);
    await producer.ended;
    const fastLines = await fast.ended;
    await until(() => taken(slow.lines).length >= 100);
    const length = await store.lengthId('stream');
    const expected = [...Array(count).keys()];

    // Each consumer got every value once, in order, and committed after each.
    expect(taken(fastLines).map(([i]) => i)).toEqual(expected);
    expect(fastLines.at(-1)).toBe('end sealed');
    expect(taken(fastLines).at(-1)![1]).toBe(length);
    const slowAt = taken(slow.lines).at(-1)![1];
    expect(taken(slow.lines).map(([i]) => i)).toEqual(expected.slice(0, 100));
    expect(await store.consumers('stream')).toEqual([
      { consumer: 'fast', position: length },
      { consumer: 'idle', position: 0 },
      { consumer: 'slow', position: slowAt },
    ]);
    // The consumer that never committed holds retention at 0: the key's file still holds every byte.
    expect(await store.startOf('stream')).toBe(0);
    expect(sizeOnDisk(store, 'stream')).toBe(length);

    // Once it commits a position (that of value 49), a trim drops only what it passed.
    const idleAt = taken(slow.lines)[49][1];
    await store.commit('stream', 'idle', idleAt);
    await store.trim('stream');
    expect(await store.startOf('stream')).toBe(idleAt);
    expect(sizeOnDisk(store, 'stream')).toBe(length - idleAt);
    expect(numbers(await values.get('stream'))).toEqual(expected.slice(50));

    // Forgotten, it holds nothing back: the next trim goes to the slow consumer's committed position, no further.
    await store.forget('stream', 'idle');
    await store.trim('stream');
    expect(await store.startOf('stream')).toBe(slowAt);
    expect(sizeOnDisk(store, 'stream')).toBe(length - slowAt);
    expect(numbers(await values.get('stream'))).toEqual(expected.slice(100));

    // The slow consumer is killed and started again: it resumes from its committed position with nothing lost.
    slow.process.kill('SIGKILL');
    await rejection(slow.ended);
    const resumed = runFixture('retention-consumer.ts', [dir, 'slow']);
    const resumedLines = await resumed.ended;
    expect(taken(resumedLines).map(([i]) => i)).toEqual(expected.slice(100));
    expect(resumedLines.at(-1)).toBe('end sealed');
    // Every consumer has passed everything: the file holds nothing, and positions still count from the first byte.
    expect(await store.startOf('stream')).toBe(length);
    expect(sizeOnDisk(store, 'stream')).toBe(0);
    expect(await store.lengthId('stream')).toBe(length);
    expect(await values.get('stream')).toEqual([]);
  }, 180_000);

  it('a follower reading without the lock while another process trims under it gets every value once, in order: no garbage, no ERR_CORRUPT', async () => {
    const dir = tempDir();
    const count = 2000;
    const producer = runFixture('stream-producer.ts', [dir, String(count)]);
    // The reader commits each value without trimming; the trimmer trims to its position again and again.
    const reader = runFixture('retention-consumer.ts', [dir, 'reader', '0', 'keep']);
    const trimmer = runFixture('retention-trimmer.ts', [dir]);
    await producer.ended;
    const lines = await reader.ended;
    expect(taken(lines).map(([i]) => i)).toEqual([...Array(count).keys()]);
    expect(lines.at(-1)).toBe('end sealed');
    const trims = Number((await trimmer.ended).at(-1)!.split(' ')[1]);
    expect(trims).toBeGreaterThan(0);
    const store = track(file(dir));
    expect(await store.startOf('stream')).toBe(taken(lines).at(-1)![1]);
    expect(sizeOnDisk(store, 'stream')).toBe(0);
  }, 180_000);
});

describe('positions across a trim', () => {
  it('file(): get returns the bytes from the start; a position before it is ERR_TRIMMED naming the start; from: "start" begins there', async () => {
    const store = track(file(tempDir()));
    await store.append({ k: Buffer.from('abcdef') });
    await store.trim('k', 2);
    expect(Buffer.from(await store.get('k')).toString()).toBe('cdef');
    expect(await store.startOf('k')).toBe(2);
    await store.append({ k: Buffer.from('gh') });
    expect(await store.lengthId('k')).toBe(8);
    const error = await rejection(collect(store.follow('k', { from: 1, idleTimeoutMs: 50 })));
    expect(error.code).toBe('ERR_TRIMMED');
    expect((error as unknown as { start: number }).start).toBe(2);
    expect(error.message).toContain('resume from 2');
    const fromStart = store.follow('k', { idleTimeoutMs: 50 });
    expect(Buffer.concat(await collect(fromStart)).toString()).toBe('cdefgh');
    expect(fromStart.position).toBe(8);
    expect(Buffer.concat(await collect(store.follow('k', { from: 5, idleTimeoutMs: 50 }))).toString()).toBe('fgh');
    // A seal is a position too: the start plus what the file holds.
    await store.seal('k');
    expect(await store.sealedId('k')).toBe(8);
    // Python partd's layout stays: the key's file holds only the bytes from the start.
    expect(fs.readFileSync(store.fileOf('k'), 'latin1')).toBe('cdefgh');
    expect(whyNotAStore(store.path)).toBeUndefined();
  });

  it('file(): a marker left by a delete that died before removing it is taken away by the next change under the lock; the key starts at 0 again', async () => {
    const dir = tempDir();
    const store = track(file(dir));
    await store.append({ k: Buffer.from('abcdef') });
    // Links kept elsewhere hold the inodes the marker names, so that the key's new file has another, as it
    // would after a while (a system may give a freed inode to the next file at once).
    const held = tempDir();
    fs.linkSync(store.fileOf('k'), join(held, 'before'));
    await store.trim('k', 4);
    fs.linkSync(store.fileOf('k'), join(held, 'after'));
    // The delete removed the key's file, then its process died before removing the marker.
    fs.rmSync(store.fileOf('k'));
    await store.close();
    const again = track(file(dir));
    await again.append({ k: Buffer.from('xyz') });
    await again.commit('k', 'a', 1);
    expect(fs.existsSync(join(dir, '.trimmed', 'k'))).toBe(false);
    expect(await again.startOf('k')).toBe(0);
    expect(Buffer.concat(await collect(again.follow('k', { idleTimeoutMs: 50 }))).toString()).toBe('xyz');
  });

  it('trim through msgpack(zstd(file())) leaves the later values readable, by get, iter and follow', async () => {
    const bottom = file(tempDir());
    const store = track(msgpack(zstd(bottom)));
    for (let i = 0; i < 10; i++) await store.append({ k: [i, 'x'.repeat(i * 10)] });
    const follower = store.follow('k', { consumer: 'c', idleTimeoutMs: 50 });
    const seen: unknown[] = [];
    for await (const value of follower) {
      seen.push(value[0]);
      if (value[0] === 5) {
        await follower.commit();
        break;
      }
    }
    // A position inside a value would leave the key starting mid-frame: refused, nothing trimmed.
    const inside = await rejection(store.trim('k', follower.position! + 3));
    expect(inside.code).toBe('ERR_INVALID_OPTION');
    expect(inside.message).toContain('not where one of the zstd() values stored there ends');
    expect(await store.startOf('k')).toBe(0);
    await store.trim('k');
    expect(await store.startOf('k')).toBe(follower.position);
    expect(numbers(await store.get('k'))).toEqual([6, 7, 8, 9]);
    expect((await collect(store.iter('k'))).map((v) => v[0])).toEqual([6, 7, 8, 9]);
    expect((await collect(store.follow('k', { idleTimeoutMs: 50 }))).map((v) => v[0])).toEqual([6, 7, 8, 9]);
    // The consumer resumes where it committed.
    const again = store.follow('k', { consumer: 'c', idleTimeoutMs: 50 });
    expect((await collect(again)).map((v) => v[0])).toEqual([6, 7, 8, 9]);
    expect(seen).toEqual([0, 1, 2, 3, 4, 5]);
  });

  it('dict(): the same positions, in memory', async () => {
    const store = track(msgpack(dict()));
    for (let i = 0; i < 6; i++) await store.append({ k: [i] });
    const entries: { position: number }[] = [];
    for await (const entry of store.follow('k', { idleTimeoutMs: 50 }).entries()) entries.push(entry);
    await store.commit('k', 'a', entries[2].position);
    await store.commit('k', 'b', entries[3].position);
    await store.trim('k');
    expect(await store.startOf('k')).toBe(entries[2].position);
    expect(await store.get('k')).toEqual([3, 4, 5]);
    expect(await collect(store.iter('k'))).toEqual([[3], [4], [5]]);
    expect((await rejection(collect(store.follow('k', { from: 0 })))).code).toBe('ERR_TRIMMED');
    expect(await collect(store.follow('k', { consumer: 'b', idleTimeoutMs: 50 }))).toEqual([[4], [5]]);
  });

  it('buffer(): a key with bytes spilled and bytes in memory is spilled whole, then trimmed on disk; positions hold across the spill', async () => {
    const slow = file(tempDir());
    const store = track(msgpack(buffer(dict(), slow, { availableMemory: 200 })));
    const follower = store.follow('k', { consumer: 'c', trim: true, idleTimeoutMs: 100 });
    // 41 bytes a value: every fifth append spills the key, so the last two stay in memory.
    for (let i = 0; i < 22; i++) await store.append({ k: [i, 'y'.repeat(30)] });
    const total = (await store.inner.get('k')).byteLength;
    expect(sizeOnDisk(slow, 'k')).toBeGreaterThan(0);
    expect(sizeOnDisk(slow, 'k')).toBeLessThan(total);
    const seen: number[] = [];
    for await (const [i] of follower) {
      seen.push(i as number);
      if (i === 14) {
        await follower.commit();
        break;
      }
    }
    expect(await store.startOf('k')).toBe(follower.position);
    expect(sizeOnDisk(slow, 'k')).toBe(total - follower.position!);
    expect(numbers(await store.get('k'))).toEqual([15, 16, 17, 18, 19, 20, 21]);
    await store.append({ k: [22, 'z'] });
    const resumed = store.follow('k', { consumer: 'c', idleTimeoutMs: 100 });
    expect((await collect(resumed)).map((v) => v[0])).toEqual([15, 16, 17, 18, 19, 20, 21, 22]);
    expect(seen).toEqual([...Array(15).keys()]);
    // The consumers are the slow store's: on disk.
    expect(await slow.consumers('k')).toEqual([{ consumer: 'c', position: follower.position }]);
  });
});

describe('consumers', () => {
  it('file(): positions only move forward, are kept on disk where another store on the directory reads them, and forget removes one', async () => {
    const dir = tempDir();
    const store = track(file(dir));
    await store.append({ k: Buffer.from('0123456789') });
    await store.commit('k', 'a', 7);
    await store.commit('k', 'a', 3);
    await store.commit('k', 'b/../..', 5);
    const other = track(file(dir));
    expect(await other.consumers('k')).toEqual([
      { consumer: 'a', position: 7 },
      { consumer: 'b/../..', position: 5 },
    ]);
    // Every name stays inside .consumers, escaped.
    expect(fs.readdirSync(join(dir, '.consumers', 'k%d')).sort()).toEqual(['a', 'b%2F..%2F..']);
    await other.forget('k', 'a');
    expect(await store.consumers('k')).toEqual([{ consumer: 'b/../..', position: 5 }]);
    expect(await store.consumers('never-written')).toEqual([]);
  });

  it('tuple keys keep their consumers apart from the shorter keys they start with', async () => {
    const store = track(dict());
    const disk = track(file(tempDir()));
    for (const s of [store, disk]) {
      await s.append([
        ['a', Buffer.from('xx')],
        [['a', 'b'], Buffer.from('yyy')],
      ]);
      await s.commit('a', 'b', 1);
      await s.commit(['a', 'b'], 'c', 2);
      expect(await s.consumers('a')).toEqual([{ consumer: 'b', position: 1 }]);
      expect(await s.consumers(['a', 'b'])).toEqual([{ consumer: 'c', position: 2 }]);
    }
  });

  it('checks: a consumer is a non-empty string, a position a whole number within the key; trims past the end or past a registered consumer are refused and trim nothing', async () => {
    const store = track(file(tempDir()));
    await store.append({ k: Buffer.from('abcdef') });
    for (const bad of ['', 7, undefined, 'x'.repeat(201)]) expect((await rejection(store.commit('k', bad as string, 1))).code).toBe('ERR_INVALID_OPTION');
    for (const bad of [-1, 1.5, NaN, '3']) expect((await rejection(store.commit('k', 'a', bad as number))).code).toBe('ERR_INVALID_OPTION');
    expect((await rejection(store.commit('k', 'a', 7))).message).toContain('past the end');
    expect(thrown(() => store.follow('k', { trim: true })).code).toBe('ERR_INVALID_OPTION');
    expect(thrown(() => store.follow('k', { consumer: '' })).code).toBe('ERR_INVALID_OPTION');
    expect((await rejection(store.follow('k', { idleTimeoutMs: 50 }).commit())).code).toBe('ERR_INVALID_OPTION');
    expect((await rejection(store.trim('k', 7))).code).toBe('ERR_INVALID_OPTION');
    await store.commit('k', 'a', 2);
    const refused = await rejection(store.trim('k', 3));
    expect(refused.code).toBe('ERR_INVALID_OPTION');
    expect(refused.message).toContain('"a" at 2');
    expect(await store.startOf('k')).toBe(0);
    await store.trim('k', 2);
    expect(Buffer.from(await store.get('k')).toString()).toBe('cdef');
    // Trimming to where the key starts, or before, changes nothing.
    await store.trim('k', 1);
    expect(await store.startOf('k')).toBe(2);
    // A consumer registered at 0 on a trimmed key is registered at its start.
    await store.commit('k', 'late', 0);
    expect((await store.consumers('k')).find((c) => c.consumer === 'late')?.position).toBe(2);
    // Without consumers, trim() with no position trims nothing.
    const bare = track(dict());
    await bare.append({ k: Buffer.from('abc') });
    await bare.trim('k');
    expect(await bare.startOf('k')).toBe(0);
  });

  it('layers that keep no consumers say so: ERR_NOT_SUPPORTED naming those that do', async () => {
    // A store written outside laminate (a plain object with the Store methods) keeps no consumers.
    const inner = dict();
    const methods = ['append', 'get', 'getMany', 'iter', 'iset', 'iget', 'delete', 'pop', 'keys', 'drop', 'withLock', 'describe', 'close'] as const;
    const foreign = Object.fromEntries(methods.map((name) => [name, (inner[name] as (...args: unknown[]) => unknown).bind(inner)]));
    const store = track(msgpack(foreign as unknown as Parameters<typeof msgpack>[0]));
    for (const call of [() => store.commit('k', 'a', 0), () => store.consumers('k'), () => store.forget('k', 'a'), () => store.trim('k')]) {
      const error = await rejection(call());
      expect(error.code).toBe('ERR_NOT_SUPPORTED');
      expect(error.message).toContain('file(), dict(), buffer()');
    }
    expect(await store.startOf('k')).toBe(0);
  });

  it('delete and drop remove a key\'s consumers and its start, on disk too', async () => {
    const dir = tempDir();
    const store = track(file(dir));
    await store.append({ k: Buffer.from('abcdef'), j: Buffer.from('xy') });
    await store.commit('k', 'a', 4);
    await store.trim('k');
    await store.commit('j', 'a', 1);
    expect(fs.existsSync(join(dir, '.trimmed', 'k'))).toBe(true);
    await store.delete(['k']);
    expect(await store.consumers('k')).toEqual([]);
    expect(await store.startOf('k')).toBe(0);
    expect(fs.existsSync(join(dir, '.trimmed', 'k'))).toBe(false);
    await store.append({ k: Buffer.from('new') });
    expect(Buffer.from(await store.get('k')).toString()).toBe('new');
    expect(Buffer.concat(await collect(store.follow('k', { idleTimeoutMs: 50 }))).toString()).toBe('new');
    await store.drop();
    expect(await store.consumers('j')).toEqual([]);
    expect(fs.readdirSync(dir).filter((name) => name === '.consumers' || name === '.trimmed')).toEqual([]);
    // The store is usable after the drop, retention included.
    await store.append({ k: Buffer.from('abc') });
    await store.commit('k', 'a', 1);
    await store.trim('k');
    expect(Buffer.from(await store.get('k')).toString()).toBe('bc');

    const memory = track(dict());
    await memory.append({ k: Buffer.from('abc') });
    await memory.commit('k', 'a', 2);
    await memory.trim('k');
    await memory.delete(['k']);
    expect(await memory.consumers('k')).toEqual([]);
    expect(await memory.startOf('k')).toBe(0);
    await memory.commit('k', 'b', 0);
    await memory.drop();
    expect(await memory.consumers('k')).toEqual([]);
  });
});

describe('retention, file() against dict()', () => {
  it('a seeded run of appends, commits, forgets, trims, deletes and follows from random positions leaves both stores alike after every step', async () => {
    const random = seededRandom(41);
    const stores = [track(msgpack(dict())), track(msgpack(file(tempDir())))];
    const names = ['a', 'b', 'c'];
    const outcome = async (call: () => Promise<unknown>) => {
      try {
        return { value: await call() };
      } catch (error) {
        return { code: (error as { code?: string }).code };
      }
    };
    let next = 0;
    for (let step = 0; step < 300; step++) {
      const roll = random();
      // The positions a follower gives: each value's end. Commits take one of them (a follower gives them); explicit
      // trims and follows sometimes one inside a value, which they refuse alike.
      const entries: { position: number }[] = [];
      for await (const entry of stores[0].follow('k', { idleTimeoutMs: 1 }).entries()) entries.push(entry);
      const start = await stores[0].startOf('k');
      const positions = [start, ...entries.map((e) => e.position)];
      const given = () => positions[Math.floor(random() * positions.length)];
      const pick = () => (random() < 0.1 ? positions[0] + 1 : given());
      const name = names[Math.floor(random() * names.length)];
      let act: (store: (typeof stores)[0]) => Promise<unknown>;
      if (roll < 0.4) {
        const value = [next++, 'v'.repeat(Math.floor(random() * 20))];
        act = (store) => store.append({ k: value });
      } else if (roll < 0.6) {
        const at = given();
        act = (store) => store.commit('k', name, at);
      } else if (roll < 0.65) act = (store) => store.forget('k', name);
      else if (roll < 0.8) act = (store) => store.trim('k');
      else if (roll < 0.9) {
        const at = pick();
        act = (store) => store.trim('k', at);
      } else if (roll < 0.93) act = (store) => store.delete(['k']);
      else {
        const from = random() < 0.5 ? 'start' : pick();
        act = async (store) => (await collect(store.follow('k', { from, idleTimeoutMs: 1 }))).flat();
      }
      const [inMemory, onDisk] = [await outcome(() => act(stores[0])), await outcome(() => act(stores[1]))];
      expect(onDisk, `step ${step}`).toEqual(inMemory);
      for (const read of [(s: (typeof stores)[0]) => s.get('k'), (s: (typeof stores)[0]) => s.startOf('k'), (s: (typeof stores)[0]) => s.consumers('k')]) {
        expect(await read(stores[1]), `step ${step}`).toEqual(await read(stores[0]));
      }
    }
  }, 120_000);
});
