/**
 * Retention over log(): a trim and a consumer's committed position are
 * records in the log, so every process agrees on a key's start and its
 * consumers, they survive a reopen and compaction (which gives the trimmed
 * bytes' space back), and a delete or drop takes them back. Real processes:
 * consumers that trim as they commit drop only what every consumer passed.
 */
import { afterAll, describe, expect, it } from 'vitest';
import { type LogStore, log, msgpack } from '@laminate/core';
import { rejection, tempDirs } from '@laminate/core/testing';
import { processScope } from './fixtures/spawn.js';

const tempDir = tempDirs('laminate-log-retention-test-', afterAll);
const { fixture, track } = processScope();

const bytes = (text: string) => Buffer.from(text);
const text = (value: Uint8Array) => Buffer.from(value).toString();

async function collect<V>(iterable: AsyncIterable<V>): Promise<V[]> {
  const out: V[] = [];
  for await (const value of iterable) out.push(value);
  return out;
}

async function until(test: () => boolean): Promise<void> {
  while (!test()) await new Promise((resolve) => setTimeout(resolve, 5));
}

/** The bytes a follower from the key's start reads up to its seal, and where it started. */
async function stream(store: LogStore, key: string): Promise<{ text: string; from: number | undefined }> {
  const follower = store.follow(key, { idleTimeoutMs: 60_000 });
  let from: number | undefined;
  const pieces: string[] = [];
  for await (const { value, position } of follower.entries()) {
    from ??= position - value.byteLength;
    pieces.push(text(value));
  }
  expect(follower.endedBy).toBe('sealed');
  return { text: pieces.join(''), from };
}

describe('log(): trim and consumers in one directory', () => {
  it('trims to the lowest committed position, even inside a value; get, iter and followers read from the start; positions stay', async () => {
    const dir = tempDir();
    const store = track(log(dir));
    const other = track(log(dir));
    await store.append({ k: bytes('aaaa') });
    await store.append({ k: bytes('bbbb') });
    await store.append({ k: bytes('cccc') });
    await store.commit('k', 'fast', 10);
    await other.commit('k', 'slow', 6);
    // A lower commit keeps the higher position.
    await store.commit('k', 'fast', 2);
    expect(await other.consumers('k')).toEqual([
      { consumer: 'fast', position: 10 },
      { consumer: 'slow', position: 6 },
    ]);
    await other.trim('k');
    for (const s of [store, other]) {
      expect(await s.startOf('k')).toBe(6);
      expect(text(await s.get('k'))).toBe('bbcccc');
      expect((await collect(s.iter('k'))).map(text)).toEqual(['bb', 'cccc']);
    }
    await store.seal('k');
    // The seal is a position: the start plus what the key holds.
    expect(await stream(other, 'k')).toEqual({ text: 'bbcccc', from: 6 });
    await expect(collect(store.follow('k', { from: 2 }))).rejects.toMatchObject({ code: 'ERR_TRIMMED' });
    expect((await collect(store.follow('k', { from: 8 }))).map(text)).toEqual(['cccc']);
    // A trim past a consumer's position, or past the end, is refused and trims nothing.
    await expect(store.trim('k', 11)).rejects.toMatchObject({ code: 'ERR_INVALID_OPTION' });
    await expect(store.trim('k', 13)).rejects.toMatchObject({ code: 'ERR_INVALID_OPTION' });
    await expect(store.commit('k', 'fast', 13)).rejects.toMatchObject({ code: 'ERR_INVALID_OPTION' });
    expect(await store.startOf('k')).toBe(6);
    // Forgetting the slow consumer lets the trim go as far as the fast one.
    await other.forget('k', 'slow');
    expect(await store.consumers('k')).toEqual([{ consumer: 'fast', position: 10 }]);
    await store.trim('k');
    expect(await other.startOf('k')).toBe(10);
    expect(text(await other.get('k'))).toBe('cc');
    expect(await other.keys()).toEqual(['k']);
  });

  it('a trimmed key holding nothing is still listed with its start; delete() takes back the start and the consumers, drop() every one', async () => {
    const dir = tempDir();
    const store = track(log(dir));
    await store.append({ k: bytes('12345'), j: bytes('xy') });
    await store.trim('k', 5);
    expect(await store.keys()).toEqual(expect.arrayContaining(['k', 'j']));
    expect(text(await store.get('k'))).toBe('');
    expect(await store.startOf('k')).toBe(5);
    await store.commit('k', 'c', 5);
    await store.delete(['k']);
    expect(await store.startOf('k')).toBe(0);
    expect(await store.consumers('k')).toEqual([]);
    await store.append({ k: bytes('new') });
    expect(text(await store.get('k'))).toBe('new');
    await store.commit('j', 'c', 1);
    await store.trim('j');
    expect(await store.startOf('j')).toBe(1);
    await store.drop();
    expect(await store.startOf('j')).toBe(0);
    expect(await store.consumers('j')).toEqual([]);
  });

  it('the start and consumers survive a reopen and compaction, which gives the trimmed values back', async () => {
    const dir = tempDir();
    const writer = track(log(dir));
    for (let i = 0; i < 100; i++) await writer.append({ k: Buffer.alloc(1000, 48 + (i % 10)) });
    await writer.commit('k', 'reader', 95_500);
    await writer.trim('k');
    await writer.seal('k');
    await writer.close();
    const expected = Buffer.concat(Array.from({ length: 5 }, (_, i) => Buffer.alloc(1000, 48 + ((95 + i) % 10)))).subarray(500).toString();
    const reopened = track(log(dir));
    expect(await reopened.startOf('k')).toBe(95_500);
    expect(await reopened.consumers('k')).toEqual([{ consumer: 'reader', position: 95_500 }]);
    expect(text(await reopened.get('k'))).toBe(expected);
    const before = reopened.stats().segmentBytes;
    const result = await reopened.compact();
    expect(result.removed).toBeGreaterThan(0);
    // The 95 values wholly before the start are gone from disk; the one the start cuts stays whole.
    expect(reopened.stats().segmentBytes).toBeLessThan(before - 90_000);
    expect(await reopened.startOf('k')).toBe(95_500);
    expect(text(await reopened.get('k'))).toBe(expected);
    expect(await stream(reopened, 'k')).toEqual({ text: expected, from: 95_500 });
    await reopened.close();
    const again = track(log(dir));
    expect(await again.startOf('k')).toBe(95_500);
    expect(await again.consumers('k')).toEqual([{ consumer: 'reader', position: 95_500 }]);
    expect(await stream(again, 'k')).toEqual({ text: expected, from: 95_500 });
    // What the index reads back is live: a consumer's and a trim's records, the seal, the five values.
    expect(again.stats().liveBytes).toBe(5000);
  });
});

describe('log(): retention across processes', () => {
  it('consumers trimming as they commit drop only what every consumer has passed; one killed resumes from its committed position, each value once', async () => {
    const dir = tempDir();
    const count = 1000;
    const raw = log(dir);
    const store = track(msgpack(raw));
    // Both consumers are registered before any value, so that neither trims what the other has not read.
    await store.append({ stream: [-1, 'first'] });
    const first = (await raw.get('stream')).byteLength;
    await store.commit('stream', 'fast', first);
    await store.commit('stream', 'slow', first);
    const producer = fixture('log-stream-producer.ts', [dir, String(count)]);
    const fast = fixture('log-retention-consumer.ts', [dir, 'fast']);
    const slow = fixture('log-retention-consumer.ts', [dir, 'slow', '300']);
    await until(() => slow.lines.length >= 300);
    slow.process.kill('SIGKILL');
    await rejection(slow.ended);
    await producer.ended;
    const values = (lines: string[]) => lines.filter((line) => line.startsWith('value ')).map((line) => Number(line.split(' ')[1]));
    const expected = [...Array(count).keys()];
    expect(values(await fast.ended)).toEqual(expected);
    const slowPosition = Number(slow.lines.filter((line) => line.startsWith('value ')).at(-1)!.split(' ')[2]);
    // The fast consumer read everything, but the start waits for the slow one's committed position.
    expect(await store.startOf('stream')).toBe(slowPosition);
    expect((await store.consumers('stream')).map((c) => c.consumer)).toEqual(['fast', 'slow']);
    const held = store.follow('stream');
    expect((await collect(held)).map((value) => (value as number[])[0])).toEqual(expected.slice(300));
    expect(held.endedBy).toBe('sealed');
    // Resumed under the same name in a new process: the values after its committed position, each once.
    const resumed = fixture('log-retention-consumer.ts', [dir, 'slow']);
    expect([...values(slow.lines), ...values(await resumed.ended)]).toEqual(expected);
    expect(resumed.lines.at(-1)).toBe('end sealed');
    // Every consumer has passed everything: the key holds nothing, and compaction gives the space back.
    expect(text(await raw.get('stream'))).toBe('');
    expect(await raw.startOf('stream')).toBe((await raw.consumers('stream'))[0].position);
    expect(raw.stats().liveBytes).toBe(0);
    const before = raw.stats().segmentBytes;
    await raw.compact();
    expect(raw.stats().segmentBytes).toBeLessThan(before / 2);
  }, 180_000);
});
